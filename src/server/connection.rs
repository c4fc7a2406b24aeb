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
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// The connection limits of `serve`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub header_read: Duration,
    pub send: Duration,
}

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Stored instants are milliseconds since the connection was accepted; 0 means "not set".
const UNSET: u64 = 0;

/// What the reads, the requests and the timer of one connection share. They all run on the
/// connection's task, so relaxed atomics suffice; they are atomics only to be `Sync`.
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    requests_in_flight: AtomicU32,
    /// When the first byte of a request not yet handed to the router arrived.
    head_started: AtomicU64,
    /// When the connection last became free of requests; unset before the first one
    /// (or, for HTTP/2, before its preface is complete).
    idle_since: AtomicU64,
    /// Since when a write has been waiting for the client to take bytes; unset while writes
    /// go through.
    write_blocked_since: AtomicU64,
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
            head_started: AtomicU64::new(UNSET),
            idle_since: AtomicU64::new(UNSET),
            write_blocked_since: AtomicU64::new(UNSET),
            http2: AtomicBool::new(false),
        }
    }

    /// Milliseconds since accept, never `UNSET`.
    fn stamp(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.accepted);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX) + 1
    }

    fn instant(&self, stamp: u64) -> Instant {
        self.accepted + Duration::from_millis(stamp - 1)
    }

    fn bytes_arrived(&self) {
        let between_requests = self.requests_in_flight.load(Ordering::Relaxed) == 0;
        // On HTTP/2, bytes between streams are pings and settings, not a request's head.
        if between_requests
            && !self.http2.load(Ordering::Relaxed)
            && self.head_started.load(Ordering::Relaxed) == UNSET
        {
            self.head_started.store(self.stamp(), Ordering::Relaxed);
        }
    }

    fn http2_preface_complete(&self) {
        self.http2.store(true, Ordering::Relaxed);
        self.head_started.store(UNSET, Ordering::Relaxed);
        self.idle_since.store(self.stamp(), Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.requests_in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(UNSET, Ordering::Relaxed);
    }

    fn request_finished(&self) {
        if self.requests_in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.idle_since.store(self.stamp(), Ordering::Relaxed);
        }
    }

    /// A write made progress (`true`) or has to wait for the client (`false`).
    fn wrote(&self, progressed: bool) {
        if progressed {
            self.write_blocked_since.store(UNSET, Ordering::Relaxed);
        } else if self.write_blocked_since.load(Ordering::Relaxed) == UNSET {
            self.write_blocked_since
                .store(self.stamp(), Ordering::Relaxed);
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
                let idle_since = match self.idle_since.load(Ordering::Relaxed) {
                    UNSET => since,
                    stamp => since.max(self.instant(stamp)),
                };
                Deadline::Send(idle_since + timeouts.send)
            }
        };
        match self.write_blocked_since.load(Ordering::Relaxed) {
            UNSET => regular,
            blocked => {
                let at = self.instant(blocked) + timeouts.send;
                if at < regular.at() {
                    Deadline::Send(at)
                } else {
                    regular
                }
            }
        }
    }

    fn request_deadline(&self, timeouts: Timeouts) -> Deadline {
        if self.requests_in_flight.load(Ordering::Relaxed) > 0 {
            let soonest = timeouts.idle.min(timeouts.header_read);
            return Deadline::Recheck(Instant::now() + soonest);
        }
        let head_started = self.head_started.load(Ordering::Relaxed);
        if head_started != UNSET {
            return Deadline::HeaderRead(self.instant(head_started) + timeouts.header_read);
        }
        match self.idle_since.load(Ordering::Relaxed) {
            UNSET => Deadline::HeaderRead(self.accepted + timeouts.header_read),
            idle_since => Deadline::Idle(self.instant(idle_since) + timeouts.idle),
        }
    }
}

pin_project! {
    /// The TCP stream, reporting to [`Activity`] whenever bytes arrive. `preface_matched`
    /// counts the bytes of the HTTP/2 preface seen so far; `None` once the protocol is known.
    struct Watched {
        #[pin]
        stream: TcpStream,
        activity: Arc<Activity>,
        preface_matched: Option<usize>,
    }
}

impl Watched {
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

impl AsyncRead for Watched {
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

impl AsyncWrite for Watched {
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
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(Watched {
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
    metrics::counter!("http_connections_closed_total", "reason" => ending.label()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        idle: Duration::from_secs(75),
        header_read: Duration::from_secs(5),
        send: Duration::from_secs(10),
    };

    /// Paused time: `Instant::now()` moves only when the test advances it.
    async fn wait(seconds: u64) {
        tokio::time::advance(Duration::from_secs(seconds)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_gets_the_header_read_timeout_from_accept() {
        let activity = Activity::new(Instant::now());
        assert_eq!(
            activity.deadline(TIMEOUTS, None),
            Deadline::HeaderRead(activity.accepted + TIMEOUTS.header_read)
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
            activity.deadline(TIMEOUTS, None),
            Deadline::HeaderRead(first_byte + TIMEOUTS.header_read)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_only_the_idle_timeout_applies() {
        let activity = Activity::new(Instant::now());
        activity.bytes_arrived();
        activity.request_started();
        assert!(matches!(
            activity.deadline(TIMEOUTS, None),
            Deadline::Recheck(_)
        ));
        wait(3).await;
        let finished = Instant::now();
        activity.request_finished();
        assert_eq!(
            activity.deadline(TIMEOUTS, None),
            Deadline::Idle(finished + TIMEOUTS.idle)
        );
        wait(60).await;
        let next_request = Instant::now();
        activity.bytes_arrived();
        assert_eq!(
            activity.deadline(TIMEOUTS, None),
            Deadline::HeaderRead(next_request + TIMEOUTS.header_read)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_is_idle_once_its_preface_is_complete() {
        let activity = Activity::new(Instant::now());
        let mut matched = Some(0);
        activity.bytes_arrived();
        Watched::sniff(&mut matched, &activity, &HTTP2_PREFACE[..10]);
        assert_eq!(matched, Some(10));
        assert!(matches!(
            activity.deadline(TIMEOUTS, None),
            Deadline::HeaderRead(_)
        ));
        Watched::sniff(&mut matched, &activity, &HTTP2_PREFACE[10..]);
        assert_eq!(matched, None);
        // Pings and settings between streams do not count as a request's head.
        activity.bytes_arrived();
        assert!(matches!(
            activity.deadline(TIMEOUTS, None),
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
            activity.deadline(TIMEOUTS, None),
            Deadline::Send(blocked + TIMEOUTS.send)
        );
        activity.wrote(true);
        assert!(matches!(
            activity.deadline(TIMEOUTS, None),
            Deadline::Recheck(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closing_connection_with_no_request_left_gets_the_send_timeout_to_end() {
        let activity = Activity::new(Instant::now());
        activity.request_started();
        let closing = Instant::now();
        assert!(matches!(
            activity.deadline(TIMEOUTS, Some(closing)),
            Deadline::Recheck(_)
        ));
        wait(2).await;
        let finished = Instant::now();
        activity.request_finished();
        assert_eq!(
            activity.deadline(TIMEOUTS, Some(closing)),
            Deadline::Send(finished + TIMEOUTS.send)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn http1_is_recognised_from_its_first_bytes() {
        let activity = Activity::new(Instant::now());
        let mut matched = Some(0);
        Watched::sniff(&mut matched, &activity, b"P");
        Watched::sniff(&mut matched, &activity, b"UT /hello/alice HTTP/1.1\r\n");
        assert_eq!(matched, None);
        assert!(!activity.http2.load(Ordering::Relaxed));
    }
}
