//! `/hello/{username}`: the public API.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::RouterState;
use super::error::{ApiError, ErrorBody};
use super::extract::{JsonBody, UserPath};
use crate::domain::{BirthDate, Greeting, IsoDate};
use crate::store::User;

/// Body of `PUT /hello/{username}`. Unknown fields are ignored, so that clients newer than
/// the server can be rolled out first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PutUserRequest {
    /// A real calendar date, strictly before today (UTC).
    #[schema(value_type = String, format = Date, example = "1990-05-01")]
    pub date_of_birth: IsoDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GreetingResponse {
    #[schema(example = "Hello, alice! Your birthday is in 5 day(s)")]
    pub message: String,
}

/// The `{username}` path parameter of both operations, as the OpenAPI document describes it;
/// [`UserPath`] is what parses it.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UsernameParam {
    /// 1 to 64 ASCII letters, case-sensitive
    #[param(pattern = "^[A-Za-z]{1,64}$")]
    #[expect(dead_code, reason = "only describes the parameter; UserPath parses it")]
    username: String,
}

/// What either operation may answer whatever the request: the method, the clock and the
/// service's own state.
#[derive(IntoResponses)]
#[expect(
    dead_code,
    reason = "only describes the answers; ApiError produces them"
)]
pub enum ServiceErrors {
    /// Method not allowed on this path; see the Allow header
    #[response(status = 405)]
    MethodNotAllowed(ErrorBody),
    /// The client did not send the whole request within the request timeout
    #[response(status = 408)]
    ClientTooSlow(ErrorBody),
    /// Internal error (details are only in the server's logs)
    #[response(status = 500)]
    Internal(ErrorBody),
    /// The service is overloaded, the store is temporarily unavailable, or the request ran out
    /// of time on the server's side (a PUT may then have been applied or not; it is idempotent,
    /// so retry it); retry after the Retry-After header
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Save or replace a user's date of birth.
#[utoipa::path(
    put,
    path = "/hello/{username}",
    params(UsernameParam),
    request_body(content = PutUserRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Saved. The write is durable once this answer is sent."),
        (status = 400, description = "Invalid username, malformed JSON, or a date that is not a real date before today", body = ErrorBody),
        (status = 413, description = "Request body larger than the limit", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        ServiceErrors,
    ),
    tag = "hello"
)]
pub async fn put_user(
    State(state): State<Arc<RouterState>>,
    UserPath(username): UserPath,
    JsonBody(request): JsonBody<PutUserRequest>,
) -> Result<StatusCode, ApiError> {
    let birth_date = BirthDate::new(request.date_of_birth, state.app.clock.today())?;
    state
        .app
        .store
        .put(&User {
            username,
            birth_date,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Greet a user and count the days to their next birthday.
#[utoipa::path(
    get,
    path = "/hello/{username}",
    params(UsernameParam),
    responses(
        (status = 200, description = "The greeting", body = GreetingResponse),
        (status = 400, description = "Invalid username", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        ServiceErrors,
    ),
    tag = "hello"
)]
pub async fn get_user(
    State(state): State<Arc<RouterState>>,
    UserPath(username): UserPath,
) -> Result<Json<GreetingResponse>, ApiError> {
    let birth_date = state
        .app
        .store
        .get(&username)
        .await?
        .ok_or_else(|| ApiError::UserNotFound(username.clone()))?;
    let greeting = Greeting::new(username, birth_date, state.app.clock.today());
    Ok(Json(GreetingResponse {
        message: greeting.message(),
    }))
}
