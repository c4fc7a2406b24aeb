//! The HTTP surface: routes, extractors, errors and middleware.

mod admission;
mod error;
mod extract;
mod hello;
mod media_type;
mod middleware;
mod openapi;
mod ops;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use admission::AdmissionLayer;

pub use error::{ApiError, ErrorBody};
pub use openapi::{ApiDoc, document as openapi_document};

use crate::clock::Clock;
use crate::lifecycle::Lifecycle;
use crate::store::UserStore;

/// What every handler can reach. The router holds it in an `Arc`: it is cloned for every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn UserStore>,
    pub clock: Arc<dyn Clock>,
    pub lifecycle: Lifecycle,
    pub metrics: PrometheusHandle,
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub request_timeout: Duration,
    pub body_limit: usize,
    /// Requests handled at once; more wait up to `queue_timeout` for a slot, then get 503.
    pub max_in_flight: u32,
    pub queue_timeout: Duration,
}

/// The public API, each route listed once with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(hello::put_user, hello::get_user))
}

/// The endpoints of the people and machines that run the service.
fn operations_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// Every route: the router and the document are both made from the two lists above.
fn routes(api: OpenApiRouter<Arc<AppState>>) -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api)
        .merge(operations_routes())
}

pub fn router(state: AppState, limits: Limits) -> Router {
    // Admission applies to the API only: probes and scrapes must answer however busy it is.
    let api = api_routes().route_layer(AdmissionLayer::new(&limits));
    let (routes, document) = routes(api).split_for_parts();
    openapi::keep(document);
    routes
        // One composed layer, outermost first: `Router::layer` boxes each layer it is given
        // around every route, and cloning that box per request was measurable.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::ObserveLayer)
                .layer(CatchPanicLayer::new())
                .layer(DefaultBodyLimit::max(limits.body_limit)),
        )
        .with_state(Arc::new(state))
}
