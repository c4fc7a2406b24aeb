//! Admission and deadlines: how many requests run at once, how long one may wait for its
//! turn, and who is to blame when one runs out of time.
//!
//! A request past `--max-in-flight` waits for a slot at most `--queue-timeout`, then gets a
//! fast 503: under overload, answering some requests quickly beats answering all of them
//! after their clients gave up. A request that runs out of its request timeout is answered
//! 408 only while its body is still arriving (the client is slow); once the server has the
//! whole request, the delay is ours (a slow store, a saturated process) and the answer is
//! 503 with `Retry-After`, which the load balancer's target-5xx alarm counts.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use hyper::body::{Frame, SizeHint};
use metrics::Counter;
use pin_project_lite::pin_project;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use super::{ApiError, Limits};

#[derive(Clone)]
pub struct AdmissionLayer {
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
    request_timeout: Duration,
    /// Requests answered 503 because no slot freed up in time.
    shed: Counter,
}

impl AdmissionLayer {
    pub fn new(limits: Limits, shed: Counter) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_in_flight as usize)),
            queue_timeout: limits.queue_timeout,
            request_timeout: limits.request_timeout,
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
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (request, body_received) = watch_body(request);
        // Handler futures do nothing until polled, so creating it before the slot is free is free.
        let handler = self.inner.call(request);
        let AdmissionLayer {
            slots,
            queue_timeout,
            request_timeout,
            shed,
        } = self.config.clone();
        Box::pin(async move {
            let admitted = async {
                let _slot = match slots.clone().try_acquire_owned() {
                    Ok(slot) => slot,
                    Err(_) => {
                        match tokio::time::timeout(queue_timeout, slots.acquire_owned()).await {
                            Ok(Ok(slot)) => slot,
                            _ => {
                                shed.increment(1);
                                return ApiError::Overloaded.into_response();
                            }
                        }
                    }
                };
                handler.await.unwrap_or_else(|never| match never {})
            };
            match tokio::time::timeout(request_timeout, admitted).await {
                Ok(response) => Ok(response),
                Err(_) if body_received.load(Ordering::Acquire) => {
                    Ok(ApiError::TimedOut.into_response())
                }
                Err(_) => Ok(ApiError::ClientTooSlow.into_response()),
            }
        })
    }
}

/// Marks when the request's body has been read to its end. Requests without a body (most
/// GETs) are complete on arrival and are not wrapped.
fn watch_body(request: Request) -> (Request, Arc<AtomicBool>) {
    let (parts, body): (Parts, Body) = request.into_parts();
    let received = Arc::new(AtomicBool::new(body.is_end_stream()));
    if body.is_end_stream() {
        return (Request::from_parts(parts, body), received);
    }
    let body = Body::new(WatchedBody {
        inner: body,
        received: received.clone(),
    });
    (Request::from_parts(parts, body), received)
}

pin_project! {
    /// The request body, marking `received` once its last frame is read.
    struct WatchedBody {
        #[pin]
        inner: Body,
        received: Arc<AtomicBool>,
    }
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut this = self.project();
        let frame = this.inner.as_mut().poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.received.store(true, Ordering::Release);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
