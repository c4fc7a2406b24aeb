//! One accepted connection, with the two timers hyper does not get right for us.
//!
//! hyper's HTTP/1 `header_read_timeout` starts as soon as the previous response is written, so
//! it also closes idle keep-alive connections; set short, it makes a load balancer that reuses
//! pooled connections send requests into closing sockets (502s). Here the connection's reads
//! and requests are watched instead and two separate limits apply:
//!
//! - **header read**: from the first byte of a request (or from accept, for a connection that
//!   sends nothing, or an HTTP/2 preface that never completes) until its headers are in;
//!   past it the connection is dropped.
//! - **idle**: with no request in flight, how long the connection may stay open; past it the
//!   connection is shut down gracefully (HTTP/1 closes, HTTP/2 sends GOAWAY).
//!
//! - **send**: how long the client may go without accepting any of the bytes we are trying to
//!   write (a client that stopped reading: its receive window and our socket buffer are full);
//!   past it the connection is dropped. Once the connection is closing and no request is left
//!   in flight, only our bytes remain to be delivered, so it gets this long to end as well: an
//!   HTTP/2 client that stops granting flow-control window cannot hold it open either.
//!
//! While a request is in flight neither header read nor idle applies: the router's request
//! timeout bounds it. The send timer applies always.

use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use metrics::{Counter, Gauge};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::telemetry::Metrics;
use crate::time::AtomicInstant;

/// The connection limits of `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle: Duration,
    pub header_read: Duration,
    pub send: Duration,
}

/// The flags' defaults (`serve --help`; a test in `cli::args` holds the two together).
impl Default for Timeouts {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(75),
            header_read: Duration::from_secs(5),
            send: Duration::from_secs(10),
        }
    }
}

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the reads, the requests and the timer of one connection share. They all run on the
/// connection's task; the fields are atomics only to be `Sync`. Moments are tokio's (tests
/// pause its clock), kept as the standard ones they wrap.
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    requests_in_flight: AtomicU32,
    /// When the first byte of a request not yet handed to the router arrived.
    head_started: AtomicInstant,
    /// When the connection last became free of requests; none before the first one
    /// (or, for HTTP/2, before its preface is complete).
    idle_since: AtomicInstant,
    /// Since when a write has been waiting for the client to take bytes; none while writes
    /// go through.
    write_blocked_since: AtomicInstant,
    /// Wakes the connection's timer when a write starts waiting: the deadline it sleeps
    /// towards (the idle timeout, say) may be later than the send timeout's.
    write_blocked: Notify,
    http2: AtomicBool,
}

/// What the connection's timer waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// Headers (or the first byte, or the HTTP/2 preface) did not arrive in time: drop it.
    HeaderRead(Instant),
    /// No request for the idle timeout: shut it down gracefully.
    Idle(Instant),
    /// The client has not taken our bytes for the send timeout: drop it.
    Send(Instant),
    /// Requests are in flight; look again then.
    Recheck(Instant),
}

impl Deadline {
    fn at(self) -> Instant {
        match self {
            Self::HeaderRead(at) | Self::Idle(at) | Self::Send(at) | Self::Recheck(at) => at,
        }
    }
}

impl Activity {
    fn new(accepted: Instant) -> Self {
        Self {
            accepted,
            requests_in_flight: AtomicU32::new(0),
            head_started: AtomicInstant::none_since(accepted.into_std()),
            idle_since: AtomicInstant::none_since(accepted.into_std()),
            write_blocked_since: AtomicInstant::none_since(accepted.into_std()),
            write_blocked: Notify::new(),
            http2: AtomicBool::new(false),
        }
    }

    fn bytes_arrived(&self) {
        let between_requests = self.requests_in_flight.load(Ordering::Relaxed) == 0;
        // On HTTP/2, bytes between streams are pings and settings, not a request's head.
        if between_requests
            && !self.http2.load(Ordering::Relaxed)
            && self.head_started.get().is_none()
        {
            self.head_started.set(now());
        }
    }

    fn http2_preface_complete(&self) {
        self.http2.store(true, Ordering::Relaxed);
        self.head_started.clear();
        self.idle_since.set(now());
    }

    fn request_started(&self) {
        self.requests_in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.clear();
    }

    fn request_finished(&self) {
        if self.requests_in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.idle_since.set(now());
        }
    }

    /// A write made progress (`true`) or has to wait for the client (`false`).
    fn wrote(&self, progressed: bool) {
        if progressed {
            self.write_blocked_since.clear();
        } else if self.write_blocked_since.get().is_none() {
            self.write_blocked_since.set(now());
            self.write_blocked.notify_one();
        }
    }

    /// The next deadline; `closing_since` is when a graceful shutdown of ours began.
    fn deadline(&self, timeouts: Timeouts, closing_since: Option<Instant>) -> Deadline {
        let regular = match closing_since {
            None => self.request_deadline(timeouts),
            Some(_) if self.requests_in_flight.load(Ordering::Relaxed) > 0 => {
                Deadline::Recheck(Instant::now() + timeouts.send)
            }
            Some(since) => {
                let idle_since = self
                    .idle_since
                    .get()
                    .map_or(since, |idle| since.max(Instant::from_std(idle)));
                Deadline::Send(idle_since + timeouts.send)
            }
        };
        match self.write_blocked_since.get() {
            Some(blocked) if Instant::from_std(blocked) + timeouts.send < regular.at() => {
                Deadline::Send(Instant::from_std(blocked) + timeouts.send)
            }
            _ => regular,
        }
    }

    fn request_deadline(&self, timeouts: Timeouts) -> Deadline {
        if self.requests_in_flight.load(Ordering::Relaxed) > 0 {
            let soonest = timeouts.idle.min(timeouts.header_read);
            return Deadline::Recheck(Instant::now() + soonest);
        }
        if let Some(head_started) = self.head_started.get() {
            return Deadline::HeaderRead(Instant::from_std(head_started) + timeouts.header_read);
        }
        match self.idle_since.get() {
            None => Deadline::HeaderRead(self.accepted + timeouts.header_read),
            Some(idle_since) => Deadline::Idle(Instant::from_std(idle_since) + timeouts.idle),
        }
    }
}

/// tokio's now (paused in tests), as the standard moment it wraps.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

pin_project! {
    /// The TCP stream, reporting to [`Activity`] whenever bytes arrive. `preface_matched`
    /// counts the bytes of the HTTP/2 preface seen so far; `None` once the protocol is known.
    struct WatchedStream {
        #[pin]
        stream: TcpStream,
        activity: Arc<Activity>,
        preface_matched: Option<usize>,
    }
}

impl WatchedStream {
    fn sniff(preface_matched: &mut Option<usize>, activity: &Activity, bytes: &[u8]) {
        let Some(matched) = *preface_matched else {
            return;
        };
        let expected = &HTTP2_PREFACE[matched..];
        let seen = bytes.len().min(expected.len());
        *preface_matched = if bytes[..seen] != expected[..seen] {
            None
        } else if seen == expected.len() {
            activity.http2_preface_complete();
            None
        } else {
            Some(matched + seen)
        };
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.stream.poll_read(cx, buf);
        let arrived = &buf.filled()[before..];
        if !arrived.is_empty() {
            this.activity.bytes_arrived();
            Self::sniff(this.preface_matched, this.activity, arrived);
        }
        polled
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.stream.poll_write(cx, buf);
        this.activity.wrote(polled.is_ready());
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.stream.poll_write_vectored(cx, bufs);
        this.activity.wrote(polled.is_ready());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_shutdown(cx)
    }
}

/// The router, telling [`Activity`] when each request starts and ends.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Counted<S>
where
    S: hyper::service::Service<hyper::Request<Incoming>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        CountedFuture {
            inner: self.inner.call(request),
            _in_flight: InFlight(self.activity.clone()),
        }
    }
}

/// Ends the request when dropped, whether it completed or was abandoned.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

pin_project! {
    struct CountedFuture<F> {
        #[pin]
        inner: F,
        _in_flight: InFlight,
    }
}

impl<F: Future> Future for CountedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// The connections' series, registered once: how many are open, and how many ended for each
/// reason.
#[derive(Clone)]
pub struct ConnectionMetrics {
    open: Gauge,
    closed: [Counter; Ending::ALL.len()],
}

impl ConnectionMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            open: metrics.gauge("http_connections_open", &[]),
            closed: Ending::ALL.map(|ending| {
                metrics.counter(
                    "http_connections_closed_total",
                    &[("reason", ending.label())],
                )
            }),
        }
    }
}

/// Why a connection ended, the `reason` label of `http_connections_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The client closed it, or it was shut down after a graceful close of ours.
    Closed,
    IdleTimeout,
    HeaderReadTimeout,
    /// The client did not take our bytes in time (it stopped reading).
    SendTimeout,
    /// hyper answered 431: the request's headers exceeded the limit.
    HeadersTooLarge,
    /// hyper answered 400 (HTTP/1) or reset the connection (HTTP/2): not valid HTTP.
    Malformed,
    /// Reset, broken pipe, a protocol error: the connection died mid-way.
    Error,
}

impl Ending {
    const ALL: [Self; 7] = [
        Self::Closed,
        Self::IdleTimeout,
        Self::HeaderReadTimeout,
        Self::SendTimeout,
        Self::HeadersTooLarge,
        Self::Malformed,
        Self::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::IdleTimeout => "idle_timeout",
            Self::HeaderReadTimeout => "header_read_timeout",
            Self::SendTimeout => "send_timeout",
            Self::HeadersTooLarge => "headers_too_large",
            Self::Malformed => "malformed",
            Self::Error => "error",
        }
    }

    fn of(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let Err(error) = result else {
            return Self::Closed;
        };
        tracing::debug!(%error, "connection ended with an error");
        match error.downcast_ref::<hyper::Error>() {
            Some(error) if error.is_parse_too_large() => Self::HeadersTooLarge,
            Some(error) if error.is_parse() => Self::Malformed,
            _ => Self::Error,
        }
    }
}

/// Serves one connection until the client closes it, one of its timers fires, or `stop`
/// turns true (then it finishes the requests in flight and closes).
pub async fn serve<S, B>(
    http: &ConnectionBuilder<TokioExecutor>,
    stream: TcpStream,
    service: S,
    timeouts: Timeouts,
    metrics: &ConnectionMetrics,
    mut stop: watch::Receiver<bool>,
) where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    metrics.open.increment(1.0);
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(WatchedStream {
        stream,
        activity: activity.clone(),
        preface_matched: Some(0),
    });
    let service = Counted {
        inner: service,
        activity: activity.clone(),
    };
    let mut connection = pin!(http.serve_connection(io, service));
    // Why and since when we are closing it gracefully.
    let mut closing: Option<(Ending, Instant)> = None;
    let ending = loop {
        let closing_since = closing.map(|(_, since)| since);
        let deadline = activity.deadline(timeouts, closing_since);
        tokio::select! {
            result = connection.as_mut() => {
                break closing.map_or_else(|| Ending::of(result), |(ending, _)| ending)
            }
            _ = stop.wait_for(|stop| *stop), if closing.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing = Some((Ending::Closed, Instant::now()));
            }
            () = activity.write_blocked.notified() => {}
            () = tokio::time::sleep_until(deadline.at()) => {
                // Reads, writes and requests since the timer was set may have moved it.
                match activity.deadline(timeouts, closing_since) {
                    later if later.at() > Instant::now() => {}
                    Deadline::Send(_) => break Ending::SendTimeout,
                    Deadline::HeaderRead(_) => break Ending::HeaderReadTimeout,
                    Deadline::Idle(_) => {
                        connection.as_mut().graceful_shutdown();
                        closing = Some((Ending::IdleTimeout, Instant::now()));
                    }
                    Deadline::Recheck(_) => {}
                }
            }
        }
    };
    metrics.open.decrement(1.0);
    metrics.closed[ending as usize].increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults: an idle timeout well over a minute, a header read of a few seconds.
    fn timeouts() -> Timeouts {
        Timeouts::default()
    }

    /// Paused time: `Instant::now()` moves only when the test advances it.
    async fn wait(seconds: u64) {
        tokio::time::advance(Duration::from_secs(seconds)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_gets_the_header_read_timeout_from_accept() {
        let activity = Activity::new(Instant::now());
        assert_eq!(
            activity.deadline(timeouts(), None),
            Deadline::HeaderRead(activity.accepted + timeouts().header_read)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_header_read_timeout_runs_from_the_first_byte_of_each_request() {
        let activity = Activity::new(Instant::now());
        wait(2).await;
        let first_byte = Instant::now();
        activity.bytes_arrived();
        wait(1).await;
        activity.bytes_arrived();
        assert_eq!(
            activity.deadline(timeouts(), None),
            Deadline::HeaderRead(first_byte + timeouts().header_read)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_only_the_idle_timeout_applies() {
        let activity = Activity::new(Instant::now());
        activity.bytes_arrived();
        activity.request_started();
        assert!(matches!(
            activity.deadline(timeouts(), None),
            Deadline::Recheck(_)
        ));
        wait(3).await;
        let finished = Instant::now();
        activity.request_finished();
        assert_eq!(
            activity.deadline(timeouts(), None),
            Deadline::Idle(finished + timeouts().idle)
        );
        wait(60).await;
        let next_request = Instant::now();
        activity.bytes_arrived();
        assert_eq!(
            activity.deadline(timeouts(), None),
            Deadline::HeaderRead(next_request + timeouts().header_read)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_is_idle_once_its_preface_is_complete() {
        let activity = Activity::new(Instant::now());
        let mut matched = Some(0);
        activity.bytes_arrived();
        WatchedStream::sniff(&mut matched, &activity, &HTTP2_PREFACE[..10]);
        assert_eq!(matched, Some(10));
        assert!(matches!(
            activity.deadline(timeouts(), None),
            Deadline::HeaderRead(_)
        ));
        WatchedStream::sniff(&mut matched, &activity, &HTTP2_PREFACE[10..]);
        assert_eq!(matched, None);
        // Pings and settings between streams do not count as a request's head.
        activity.bytes_arrived();
        assert!(matches!(
            activity.deadline(timeouts(), None),
            Deadline::Idle(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_does_not_take_gets_the_send_timeout_whatever_else_runs() {
        let activity = Activity::new(Instant::now());
        activity.request_started();
        wait(1).await;
        let blocked = Instant::now();
        activity.wrote(false);
        wait(8).await;
        activity.wrote(false);
        assert_eq!(
            activity.deadline(timeouts(), None),
            Deadline::Send(blocked + timeouts().send)
        );
        activity.wrote(true);
        assert!(matches!(
            activity.deadline(timeouts(), None),
            Deadline::Recheck(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closing_connection_with_no_request_left_gets_the_send_timeout_to_end() {
        let activity = Activity::new(Instant::now());
        activity.request_started();
        let closing = Instant::now();
        assert!(matches!(
            activity.deadline(timeouts(), Some(closing)),
            Deadline::Recheck(_)
        ));
        wait(2).await;
        let finished = Instant::now();
        activity.request_finished();
        assert_eq!(
            activity.deadline(timeouts(), Some(closing)),
            Deadline::Send(finished + timeouts().send)
        );
    }

    #[test]
    fn each_ending_has_its_own_counter() {
        for (index, ending) in Ending::ALL.into_iter().enumerate() {
            assert_eq!(ending as usize, index, "{ending:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn http1_is_recognised_from_its_first_bytes() {
        let activity = Activity::new(Instant::now());
        let mut matched = Some(0);
        WatchedStream::sniff(&mut matched, &activity, b"P");
        WatchedStream::sniff(&mut matched, &activity, b"UT /hello/alice HTTP/1.1\r\n");
        assert_eq!(matched, None);
        assert!(!activity.http2.load(Ordering::Relaxed));
    }
}
