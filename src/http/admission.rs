//! Admission and deadlines for the public API: how many requests run at once, how long one
//! may wait for its turn, and who is to blame when one runs out of time. The operations
//! endpoints are routed around it (see [`super::router`]): probes and scrapes are never shed
//! and never queue behind API traffic.
//!
//! A request first has its body read, without holding a slot: a client that sends its body
//! slowly (or never finishes it) only holds its own connection, never one of the slots that
//! everyone shares. A body announced by `Content-Length` over the limit is refused with 413
//! before any of it is read (so no `100 Continue` is sent either). Then the request takes a
//! slot: past `--max-in-flight` it waits at most `--queue-timeout`, then gets a fast 503:
//! under overload, answering some requests quickly beats answering all of them after their
//! clients gave up. A request that runs out of its request timeout is answered 408 while its
//! body is still arriving (the client is slow); once the server has the whole request, the
//! delay is ours (a slow store, a saturated process) and the answer is 503 with
//! `Retry-After`, which the load balancer's target-5xx alarm counts.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use metrics::Counter;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::{ApiError, Limits};

#[derive(Clone)]
pub struct AdmissionLayer {
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
    request_timeout: Duration,
    body_limit: usize,
    /// Requests answered 503 because no slot freed up in time.
    shed: Counter,
}

impl AdmissionLayer {
    pub fn new(limits: Limits, shed: Counter) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_in_flight as usize)),
            queue_timeout: limits.queue_timeout,
            request_timeout: limits.request_timeout,
            body_limit: limits.body_limit,
            shed,
        }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Admission<S> {
        Admission {
            inner,
            config: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    config: AdmissionLayer,
}

impl<S> Service<Request> for Admission<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let config = self.config.clone();
        if declared_length(&request).is_some_and(|length| length > config.body_limit as u64) {
            return Box::pin(std::future::ready(Ok(
                ApiError::PayloadTooLarge.into_response()
            )));
        }
        let deadline = Instant::now() + config.request_timeout;
        if request.body().is_end_stream() {
            // Handler futures do nothing until polled: creating one before its slot is free
            // is free.
            let handler = self.inner.call(request);
            return Box::pin(admit(config, deadline, handler));
        }
        // The service that was polled ready takes this request once its body is in; a clone
        // stays here for the next one.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            match tokio::time::timeout_at(deadline, read_body(request, config.body_limit)).await {
                Ok(Ok(request)) => admit(config, deadline, inner.call(request)).await,
                Ok(Err(refused)) => Ok(refused.into_response()),
                Err(_) => Ok(ApiError::ClientTooSlow.into_response()),
            }
        })
    }
}

/// Waits for a slot (shed after the queue timeout), then runs the handler until `deadline`.
async fn admit(
    config: AdmissionLayer,
    deadline: Instant,
    handler: impl Future<Output = Result<Response, Infallible>>,
) -> Result<Response, Infallible> {
    let admitted = async {
        let _slot = match config.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                match tokio::time::timeout(config.queue_timeout, config.slots.acquire_owned()).await
                {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        config.shed.increment(1);
                        return ApiError::Overloaded.into_response();
                    }
                }
            }
        };
        handler.await.unwrap_or_else(|never| match never {})
    };
    Ok(tokio::time::timeout_at(deadline, admitted)
        .await
        .unwrap_or_else(|_| ApiError::TimedOut.into_response()))
}

/// The body size the client announced, if it announced one it can be held to.
fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The request with its whole body in memory, at most `limit` bytes of it. Requests without
/// a body (most GETs) pass through untouched.
async fn read_body(request: Request, limit: usize) -> Result<Request, ApiError> {
    if request.body().is_end_stream() {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::PayloadTooLarge),
        // hyper's body fails only when the client's stream does: it closed or reset it.
        Err(_) => Err(ApiError::ClientClosedRequest),
    }
}
