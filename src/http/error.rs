//! The one error type every handler returns, and how it becomes an HTTP response.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{BirthDateError, Username, UsernameError};
use crate::store::StoreError;

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECONDS: &str = "1";

/// nginx's "client closed request": the client went away before the answer. Never sent (there
/// is no one to send it to); it is what logs and metrics record for such a request.
pub const CLIENT_CLOSED_REQUEST: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => panic!("499 is a valid status code"),
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidUsername(#[from] UsernameError),
    #[error("{0}")]
    InvalidBody(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    #[error("no user named {0}")]
    UserNotFound(Username),
    #[error("{0}")]
    NotReady(&'static str),
    #[error("the service is temporarily unavailable, retry shortly")]
    Unavailable(#[source] StoreError),
    #[error("the service is overloaded, retry shortly")]
    Overloaded,
    /// A PUT answered so may or may not have been applied; PUT is idempotent, so retry it.
    #[error(
        "the request took too long on our side and was abandoned; it may or may not have taken effect, retry shortly"
    )]
    TimedOut,
    #[error("the request was not received in time")]
    ClientTooSlow,
    /// The client closed or reset its request before sending all of it. Nobody reads this
    /// answer; its status, nginx's 499 "client closed request", is for logs and metrics.
    #[error("the client closed the request")]
    ClientClosedRequest,
    #[error("internal error")]
    Internal(#[source] StoreError),
}

/// Every error answer has this shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in words a client developer can act on.
    #[schema(example = "date must be written as YYYY-MM-DD, e.g. 1990-05-01")]
    pub error: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidUsername(_) | Self::InvalidBody(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UserNotFound(_) => StatusCode::NOT_FOUND,
            Self::ClientTooSlow => StatusCode::REQUEST_TIMEOUT,
            Self::ClientClosedRequest => CLIENT_CLOSED_REQUEST,
            Self::NotReady(_) | Self::Unavailable(_) | Self::Overloaded | Self::TimedOut => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::Unavailable(error),
            StoreError::Failed(_) => Self::Internal(error),
        }
    }
}

impl From<BirthDateError> for ApiError {
    fn from(error: BirthDateError) -> Self {
        Self::InvalidBody(error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => {
                Self::InvalidBody(format!("request body is not valid JSON: {}", innermost(&e)))
            }
            JsonRejection::JsonDataError(e) => {
                Self::InvalidBody(format!("invalid request body: {}", innermost(&e)))
            }
            other => Self::InvalidBody(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::InvalidUsername(UsernameError::NotLetters)
    }
}

/// axum wraps serde's message in its own; the innermost one names the field and position.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .last()
        .map_or_else(String::new, ToString::to_string)
}

/// `outer: inner: innermost`, for logs.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Why a request failed on our side, carried on the response to the observe layer, which logs
/// it with the request's id and removes it. The client only ever sees the generic message.
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Shed requests are counted, not logged one by one: under overload that would add load.
        let cause = (status.is_server_error() && !matches!(self, Self::Overloaded))
            .then(|| FailureCause(cause_chain(&self)));
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        response
    }
}
