//! The OpenAPI document. Its header is declared here; its paths and schemas come from the
//! handlers' annotations as the router registers them ([`super::routes`]), so the document
//! lists exactly what is served.

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

#[derive(OpenApi)]
#[openapi(info(
    title = "hello-birthday",
    description = "Stores dates of birth and counts the days to the next birthday."
))]
pub struct ApiDoc;

/// The document as served at `/openapi.json`, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| super::routes().split_for_parts().1)
}
