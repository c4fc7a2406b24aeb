//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them.

use utoipa::OpenApi;

use super::error::ErrorBody;
use super::hello::{GreetingResponse, PutUserRequest};
use super::ops::Status;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hello-birthday",
        description = "Stores dates of birth and counts the days to the next birthday."
    ),
    paths(
        super::hello::put_user,
        super::hello::get_user,
        super::ops::healthz,
        super::ops::readyz,
        super::ops::metrics,
        super::ops::openapi,
    ),
    components(schemas(PutUserRequest, GreetingResponse, ErrorBody, Status))
)]
pub struct ApiDoc;
