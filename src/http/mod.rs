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
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use admission::AdmissionLayer;
use middleware::ObserveLayer;

pub use error::{ApiError, ErrorBody};
pub use openapi::ApiDoc;

use crate::clock::Clock;
use crate::lifecycle::Lifecycle;
use crate::store::UserStore;
use crate::telemetry::Metrics;

/// What the application hands the router: the store it serves, the clock that says what day
/// it is, whether it is shutting down, and the registry its metrics go to.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn UserStore>,
    pub clock: Arc<dyn Clock>,
    pub lifecycle: Lifecycle,
    pub metrics: Metrics,
}

/// What every handler can reach: the application, and the OpenAPI document the router was
/// built with. Behind one `Arc`, since axum clones the state for every request.
struct RouterState {
    app: AppState,
    openapi: utoipa::openapi::OpenApi,
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub request_timeout: Duration,
    pub body_limit: usize,
    /// Requests handled at once; more wait up to `queue_timeout` for a slot, then get 503.
    pub max_in_flight: u32,
    pub queue_timeout: Duration,
}

/// The flags' defaults (`serve --help`; a test in `cli::args` holds the two together).
impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            body_limit: 4096,
            max_in_flight: 128,
            queue_timeout: Duration::from_secs(1),
        }
    }
}

/// The public API, each route listed once with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<Arc<RouterState>> {
    OpenApiRouter::new().routes(routes!(hello::put_user, hello::get_user))
}

/// The endpoints of the people and machines that run the service.
fn operations_routes() -> OpenApiRouter<Arc<RouterState>> {
    OpenApiRouter::new()
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// Every route: the router and the document are both made from the two lists above.
fn routes(api: OpenApiRouter<Arc<RouterState>>) -> OpenApiRouter<Arc<RouterState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api)
        .merge(operations_routes())
}

/// The OpenAPI document of every route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(api_routes()).split_for_parts().1
}

pub fn router(app: AppState, limits: Limits) -> Router {
    let shed = app.metrics.counter("http_requests_shed_total", &[]);
    // Admission applies to the API only: probes and scrapes must answer however busy it is.
    let api = api_routes().route_layer(AdmissionLayer::new(limits, shed));
    let (routes, openapi) = routes(api).split_for_parts();
    let observe = ObserveLayer::new(&app.metrics);
    routes
        // One composed layer, outermost first: `Router::layer` boxes each layer it is given
        // around every route, and cloning that box per request was measurable.
        .layer(
            ServiceBuilder::new()
                .layer(observe)
                .layer(CatchPanicLayer::new())
                .layer(DefaultBodyLimit::max(limits.body_limit)),
        )
        .with_state(Arc::new(RouterState { app, openapi }))
}
