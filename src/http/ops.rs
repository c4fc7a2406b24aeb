//! Endpoints for the people and machines that run the service.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::openapi::ApiDoc;

/// A readiness probe must answer well inside a load balancer's health-check timeout.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Status)), tag = "operations")]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the store answers and the process is not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready for traffic", body = Status),
        (status = 503, description = "Shutting down, or the store does not answer", body = ErrorBody),
    ),
    tag = "operations"
)]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Status>, ApiError> {
    if state.lifecycle.is_shutting_down() {
        return Err(ApiError::NotReady("shutting down"));
    }
    match tokio::time::timeout(STORE_PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(Status { status: "ready" })),
        Ok(Err(error)) => {
            tracing::warn!(error = %super::error::cause_chain(&error), "readiness: the store does not answer");
            Err(ApiError::NotReady("the store does not answer"))
        }
        Err(_) => {
            tracing::warn!("readiness: the store did not answer in time");
            Err(ApiError::NotReady("the store does not answer"))
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)), tag = "operations")]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, content_type = "application/json")), tag = "operations")]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
