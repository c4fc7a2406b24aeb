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

static DOCUMENT: OnceLock<Document> = OnceLock::new();

/// The document as served at `/openapi.json`: the one the router was built with, or built now
/// when no router has been (a caller that only wants the document).
pub fn document() -> &'static Document {
    DOCUMENT.get_or_init(|| super::routes(super::api_routes()).split_for_parts().1)
}

/// Keeps the document that building the router produced, so it is not built a second time.
/// Every router's document is the same, so the first one kept serves them all.
pub fn keep(document: Document) {
    let _ = DOCUMENT.set(document);
}
