//! The OpenAPI document. Its header is declared here; its paths and schemas come from the
//! handlers' annotations as the router registers them ([`super::routes`]), so the document
//! lists exactly what is served. The router keeps the one it was built with in its state.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(info(
    title = "hello-birthday",
    description = "Stores dates of birth and counts the days to the next birthday."
))]
pub struct ApiDoc;
