//! What every request gets on its way in and out, in one layer (the observe layer): a request
//! id, a metric sample, an access-log line, the logged cause of a server error, and a JSON body
//! on errors raised below the handlers. A request whose client goes away before the answer
//! (hyper then drops it mid-way) still gets its sample and its line, with nginx's status 499
//! "client closed request", so the slowest requests do not vanish from latency and SLO figures.
//!
//! One hand-written layer rather than a stack of `from_fn` middlewares and tower-http's
//! request-id layers: each of those clones and boxes the services below it on every request,
//! which cost more than a cache-hot GET itself (docs/performance.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Json};
use metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::error::{CLIENT_CLOSED_REQUEST, ErrorBody, FailureCause};
use super::media_type::is_json;
use crate::telemetry::Metrics;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The ALB's request trace, also written in its access logs: logged so the two join.
static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
/// Longest request id kept; longer ones are replaced (they are echoed and logged on every line).
const MAX_REQUEST_ID_BYTES: usize = 128;
/// The ALB's trace header grows with `Self=` and custom fields; AWS caps it at 256 bytes.
const MAX_TRACE_ID_BYTES: usize = 256;

#[derive(Clone)]
pub struct ObserveLayer {
    requests: RequestMetrics,
}

impl ObserveLayer {
    pub fn new(metrics: &Metrics) -> Self {
        Self {
            requests: RequestMetrics::new(metrics),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            requests: self.requests.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    requests: RequestMetrics,
}

impl<S, B> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response<B>, Error = Infallible>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let request_id = take_or_make_request_id(request.headers_mut());
        let observed = Observed {
            requests: self.requests.clone(),
            started: Instant::now(),
            method: method_label(request.method()),
            // Labels use the route template (`/hello/{username}`), never the raw path, so
            // usernames stay out of metrics and the number of series stays bounded.
            route: request.extensions().get::<MatchedPath>().cloned(),
            request_id,
            trace_id: request
                .headers()
                .get(&X_AMZN_TRACE_ID)
                .filter(|value| is_short_and_visible(value, MAX_TRACE_ID_BYTES))
                .cloned(),
        };
        ObserveFuture {
            inner: self.inner.call(request),
            observed: Unanswered(Some(observed)),
        }
    }
}

pin_project! {
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        observed: Unanswered,
    }
}

/// The request until its answer is ready; dropped before that, it was abandoned.
struct Unanswered(Option<Observed>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(observed) = self.0.take() {
            observed.record(CLIENT_CLOSED_REQUEST.as_u16());
        }
    }
}

impl<F, B> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        let response = response.map(Body::new);
        let observed = this
            .observed
            .0
            .take()
            .expect("a future is not polled after it completed");
        Poll::Ready(Ok(observed.finish(json_error_body(response))))
    }
}

struct Observed {
    requests: RequestMetrics,
    started: Instant,
    method: &'static str,
    route: Option<MatchedPath>,
    request_id: HeaderValue,
    trace_id: Option<HeaderValue>,
}

impl Observed {
    fn finish(self, mut response: Response) -> Response {
        let status = response.status().as_u16();
        if let Some(FailureCause(cause)) = response.extensions_mut().remove::<FailureCause>() {
            tracing::error!(
                route = self.route(),
                status,
                request_id = self.request_id.to_str().unwrap_or_default(),
                trace_id = self.trace_id(),
                error = %cause,
                "request failed"
            );
        }
        self.record(status);
        response
            .headers_mut()
            .insert(X_REQUEST_ID.clone(), self.request_id);
        response
    }

    /// The metric sample and the access-log line.
    fn record(&self, status: u16) {
        let latency = self.started.elapsed();
        let route = self.route();
        self.requests
            .record(self.method, route, status, latency.as_secs_f64());
        tracing::info!(
            method = self.method,
            route,
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            request_id = self.request_id.to_str().unwrap_or_default(),
            trace_id = self.trace_id(),
            "request"
        );
    }

    fn route(&self) -> &str {
        self.route.as_ref().map_or("unmatched", MatchedPath::as_str)
    }

    fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_ref().and_then(|id| id.to_str().ok())
    }
}

/// Keeps the caller's `x-request-id` so one id follows a request through every hop, or makes
/// one: when there is none, or it is not 1 to 128 visible ASCII characters.
fn take_or_make_request_id(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers
        .get(&X_REQUEST_ID)
        .filter(|id| is_short_and_visible(id, MAX_REQUEST_ID_BYTES))
    {
        return id.clone();
    }
    let mut buffer = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    let id = HeaderValue::from_str(id).expect("a UUID is a valid header value");
    headers.insert(X_REQUEST_ID.clone(), id.clone());
    id
}

fn is_short_and_visible(value: &HeaderValue, max_bytes: usize) -> bool {
    let bytes = value.as_bytes();
    (1..=max_bytes).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
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

/// The request metrics, with the handles of each label set registered the first time it is
/// seen: registering builds and hashes the labels, too dear for every request. Label sets are
/// bounded (methods × routes × statuses), so the list stays short. Requests read it without a
/// lock (an [`ArcSwap`]); a new label set replaces it with a copy that has one more entry.
#[derive(Clone)]
struct RequestMetrics {
    metrics: Metrics,
    series: Arc<ArcSwap<Vec<RequestSeries>>>,
}

/// The handles of one label set.
#[derive(Clone)]
struct RequestSeries {
    method: &'static str,
    route: Box<str>,
    status: u16,
    count: Counter,
    duration: Histogram,
}

impl RequestSeries {
    fn is(&self, method: &'static str, route: &str, status: u16) -> bool {
        self.status == status && self.method == method && *self.route == *route
    }

    fn record(&self, seconds: f64) {
        self.count.increment(1);
        self.duration.record(seconds);
    }
}

impl RequestMetrics {
    fn new(metrics: &Metrics) -> Self {
        Self {
            metrics: metrics.clone(),
            series: Arc::default(),
        }
    }

    fn record(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        if let Some(series) = self
            .series
            .load()
            .iter()
            .find(|s| s.is(method, route, status))
        {
            series.record(seconds);
            return;
        }
        self.register(method, route, status).record(seconds);
    }

    fn register(&self, method: &'static str, route: &str, status: u16) -> RequestSeries {
        let status_text = status.to_string();
        let labels = [
            ("method", method),
            ("route", route),
            ("status", &status_text),
        ];
        let series = RequestSeries {
            method,
            route: route.into(),
            status,
            count: self.metrics.counter("http_requests_total", &labels),
            duration: self
                .metrics
                .histogram("http_request_duration_seconds", &labels),
        };
        self.series.rcu(|known| {
            let mut extended = Vec::clone(known);
            // Another request may have added it meanwhile.
            if !known.iter().any(|s| s.is(method, route, status)) {
                extended.push(series.clone());
            }
            extended
        });
        series
    }
}

/// Answers raised below our handlers (unknown route, wrong method, timeout, panic) come
/// with empty or plain-text bodies. Give them the same JSON shape as every other error,
/// keeping their status and headers (such as `Allow` on a 405).
fn json_error_body(response: Response) -> Response {
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

fn framework_error_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "no such route; the API is PUT and GET /hello/{username}",
        StatusCode::METHOD_NOT_ALLOWED => {
            "method not allowed on this path; the Allow header lists the ones that are"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "request body is larger than the limit",
        status if status.is_server_error() => "internal error",
        _ => "the request was rejected",
    }
}
