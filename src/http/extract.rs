//! Extractors that hand handlers parsed domain values, never raw strings.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::media_type::is_json;
use crate::domain::Username;

/// The `{username}` path segment, already parsed.
pub struct UserPath(pub Username);

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(Self(Username::parse(raw)?))
    }
}

/// A JSON object body whose every rejection (wrong type, too large, malformed) is an
/// [`ApiError`].
///
/// serde happily builds a struct from a JSON array (`["1990-05-01"]`), so the body is
/// required to be an object before it is deserialized.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::InvalidBody(format!(
                        "cannot read the request body: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(ApiError::InvalidBody(
                "request body must be a JSON object like {\"dateOfBirth\": \"YYYY-MM-DD\"}".into(),
            ));
        }
        let Json(value) = Json::<T>::from_bytes(&body)?;
        Ok(Self(value))
    }
}
