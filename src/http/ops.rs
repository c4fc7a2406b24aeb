//! Endpoints for the people and machines that run the service.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::RouterState;
use super::error::{ApiError, ErrorBody};
use crate::store::Health;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up, serving HTTP, and its store has not failed in a way only a
/// restart can fix (a dead SQLite writer thread).
#[utoipa::path(
    get,
    path = "/healthz",
    responses(
        (status = 200, body = Status),
        (status = 503, description = "Cannot recover by itself: replace the process", body = ErrorBody),
    ),
    tag = "operations"
)]
pub async fn healthz(State(state): State<Arc<RouterState>>) -> Result<Json<Status>, ApiError> {
    match state.app.store.health() {
        Health::Broken(reason) => {
            tracing::error!(
                reason,
                "liveness: the store cannot recover without a restart"
            );
            Err(ApiError::NotReady(reason))
        }
        Health::Ready | Health::NotReady(_) => Ok(Json(Status { status: "ok" })),
    }
}

/// Readiness: the store is accepting reads and writes, and the process is not shutting
/// down. Reads state the store keeps up to date by itself: a probe never calls the backend.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready for traffic", body = Status),
        (status = 503, description = "Shutting down, or the store cannot serve", body = ErrorBody),
    ),
    tag = "operations"
)]
pub async fn readyz(State(state): State<Arc<RouterState>>) -> Result<Json<Status>, ApiError> {
    if state.app.lifecycle.is_shutting_down() {
        return Err(ApiError::NotReady("shutting down"));
    }
    match state.app.store.health() {
        Health::Ready => Ok(Json(Status { status: "ready" })),
        Health::NotReady(reason) | Health::Broken(reason) => {
            tracing::warn!(reason, "readiness: the store cannot serve");
            Err(ApiError::NotReady(reason))
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)), tag = "operations")]
pub async fn metrics(State(state): State<Arc<RouterState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.app.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, content_type = "application/json")), tag = "operations")]
pub async fn openapi(State(state): State<Arc<RouterState>>) -> Response {
    Json(&state.openapi).into_response()
}
