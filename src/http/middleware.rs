//! Cross-cutting behaviour for every route: metrics, access logs, and JSON error bodies.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ErrorBody;

/// Records one metric sample and one access-log line per request. Labels use the route
/// template (`/hello/{username}`), never the raw path, so usernames stay out of metrics and
/// the number of series stays bounded.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let request_id = request_id(request.headers());

    let response = next.run(request).await;

    let latency = started.elapsed();
    let status = response.status().as_u16();
    let labels = [
        ("method", method.to_owned()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(latency.as_secs_f64());
    tracing::info!(
        method,
        route,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        // Arbitrary methods would let any client create new metric series.
        _ => "OTHER",
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Answers raised below our handlers (unknown route, wrong method, timeout, panic) come
/// with empty or plain-text bodies. Give them the same JSON shape as every other error,
/// keeping their status and headers (such as `Allow` on a 405).
pub async fn json_error_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let body = Json(ErrorBody {
        error: framework_error_message(status).to_owned(),
    });
    (parts, body).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

fn framework_error_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "no such route; the API is PUT and GET /hello/{username}",
        StatusCode::METHOD_NOT_ALLOWED => {
            "method not allowed on this path; the Allow header lists the ones that are"
        }
        StatusCode::REQUEST_TIMEOUT => "the request took too long and was abandoned; retry",
        StatusCode::PAYLOAD_TOO_LARGE => "request body is larger than the limit",
        status if status.is_server_error() => "internal error",
        _ => "the request was rejected",
    }
}
