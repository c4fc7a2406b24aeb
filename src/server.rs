//! Wiring: opens the store, binds the listener, serves until told to stop, then shuts down
//! in the order load balancers need.

mod connection;

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};

pub use connection::Timeouts;

use crate::clock::Clock;
use crate::http::{AppState, Limits, router};
use crate::lifecycle::{Lifecycle, STORE_CLOSE_DEADLINE};
use crate::store::UserStore;
use crate::telemetry::{Metrics, UPKEEP_INTERVAL};

/// Largest request head accepted (request line and headers), what an ALB passes on; larger
/// ones get 431 from hyper.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownPolicy {
    /// Keep serving this long after the signal, with readiness failing.
    pub drain_delay: Duration,
    /// Then give in-flight requests this long to finish.
    pub grace: Duration,
}

/// The flags' defaults (`serve --help`; a test in `cli::args` holds the two together).
impl Default for ShutdownPolicy {
    fn default() -> Self {
        Self {
            drain_delay: Duration::ZERO,
            grace: Duration::from_secs(20),
        }
    }
}

/// How many connections, and how long each may sit idle or send its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPolicy {
    pub max_connections: u32,
    pub timeouts: Timeouts,
}

/// The flags' defaults (`serve --help`; a test in `cli::args` holds the two together).
impl Default for ConnectionPolicy {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            timeouts: Timeouts::default(),
        }
    }
}

pub struct Server {
    listener: TcpListener,
    router: Router,
    /// Requests one HTTP/2 connection may have open at once.
    streams_per_connection: u32,
    store: Arc<dyn UserStore>,
    metrics: Metrics,
    connection_metrics: connection::ConnectionMetrics,
    lifecycle: Lifecycle,
    shutdown: ShutdownPolicy,
    connections: ConnectionPolicy,
}

/// Pause after a failed `accept` before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

impl Server {
    /// Binds the listener; the server serves `store` once [`Server::run`] is called, and
    /// records into `metrics`.
    pub async fn bind(
        listen: SocketAddr,
        store: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        limits: Limits,
        shutdown: ShutdownPolicy,
        connections: ConnectionPolicy,
    ) -> anyhow::Result<Self> {
        let listener = listen_on(listen, connections.max_connections)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let lifecycle = Lifecycle::default();
        let state = AppState {
            store: store.clone(),
            clock,
            lifecycle: lifecycle.clone(),
            metrics: metrics.clone(),
        };
        Ok(Self {
            listener,
            streams_per_connection: streams_per_connection(limits.max_in_flight),
            router: router(state, limits),
            store,
            connection_metrics: connection::ConnectionMetrics::register(&metrics),
            metrics,
            lifecycle,
            shutdown,
            connections,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` resolves, then: readiness fails at once, requests are still served
    /// for the drain delay, the listener closes, in-flight requests get the grace period, and
    /// the store is closed last so that every acknowledged write is flushed.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let upkeep = tokio::spawn(keep_up(self.metrics.clone()));
        let http = Arc::new(connection_builder(
            self.connections.timeouts,
            self.streams_per_connection,
        ));
        let max = self.connections.max_connections;
        // One permit per open connection: at the cap, accept waits and the kernel's backlog
        // holds new connections, while those already open keep being served.
        let slots = Arc::new(Semaphore::new(max as usize));
        let (closing, stop_connections) = watch::channel(false);
        let mut draining_done = pin!(drain_after(
            stop,
            self.lifecycle.clone(),
            self.shutdown.drain_delay
        ));
        loop {
            let slot = tokio::select! {
                () = &mut draining_done => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            tokio::select! {
                () = &mut draining_done => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        // Small JSON answers should not wait for Nagle's algorithm.
                        let _ = tcp.set_nodelay(true);
                        let service = TowerToHyperService::new(self.router.clone());
                        let (http, stop, timeouts) = (http.clone(), stop_connections.clone(), self.connections.timeouts);
                        let metrics = self.connection_metrics.clone();
                        tokio::spawn(async move {
                            connection::serve(&http, tcp, service, timeouts, &metrics, stop).await;
                            drop(slot);
                        });
                    }
                    Err(error) => {
                        // Out of file descriptors, say: back off instead of spinning, keep serving.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    }
                }
            }
        }
        drop(self.listener);

        let _ = closing.send(true);
        let grace = self.shutdown.grace;
        if tokio::time::timeout(grace, slots.acquire_many(max))
            .await
            .is_err()
        {
            tracing::warn!(grace = ?grace, "shutdown grace period expired; abandoning requests still in flight");
        }
        close_store(self.store.as_ref()).await;
        upkeep.abort();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Folds histograms' samples into their buckets while serving, so memory stays flat between
/// scrapes.
async fn keep_up(metrics: Metrics) {
    let mut every = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        every.tick().await;
        metrics.run_upkeep();
    }
}

/// Closing flushes what the store buffers; a store that hangs must not hold up the exit
/// past what the orchestrator allows (`stopTimeout`), so it gets a deadline.
async fn close_store(store: &dyn UserStore) {
    if tokio::time::timeout(STORE_CLOSE_DEADLINE, store.close())
        .await
        .is_err()
    {
        tracing::error!(deadline = ?STORE_CLOSE_DEADLINE, "the store did not close in time; exiting without waiting for it");
    }
}

/// A backlog as deep as the connection cap (the kernel clamps it to `net.core.somaxconn`):
/// tokio's default of 1 024 overflows when a burst of connections, a flood or many clients
/// reconnecting after a deploy, arrives before the accept loop runs, and the kernel then
/// drops handshakes that clients retry only after 1, 3, 7 s.
fn listen_on(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // What TcpListener::bind does too: a restart may rebind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// An HTTP/1 connection carries one request at a time, an HTTP/2 one as many as its
/// concurrent streams: capped at a quarter of `--max-in-flight` (at least 1), one connection
/// can never take more than that share of the slots, and it takes four to fill them all.
fn streams_per_connection(max_in_flight: u32) -> u32 {
    (max_in_flight / 4).max(1)
}

/// HTTP/1 and HTTP/2 on one port. hyper's own header-read timer is off: it also runs on idle
/// keep-alive connections, so [`connection`] keeps the header-read and idle timers instead.
/// HTTP/2 pings find peers that vanished while streams are open; an answer must come as fast
/// as headers must.
fn connection_builder(timeouts: Timeouts, streams: u32) -> ConnectionBuilder<TokioExecutor> {
    let mut builder = ConnectionBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(streams)
        .keep_alive_interval(timeouts.idle / 3)
        .keep_alive_timeout(timeouts.header_read);
    builder
}
async fn drain_after(stop: impl Future<Output = ()>, lifecycle: Lifecycle, drain_delay: Duration) {
    stop.await;
    lifecycle.begin_shutdown();
    tracing::info!(drain_delay = ?drain_delay, "shutting down: readiness now fails, still serving while load balancers catch up");
    tokio::time::sleep(drain_delay).await;
    tracing::info!("no longer accepting connections; finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::clock::FixedClock;
    use crate::domain::{BirthDate, Username};
    use crate::store::{Health, StoreError, User, UserPages, UserScan};

    /// A store whose `close` never returns, like a writer stuck on a dead disk.
    struct HangsOnClose;

    impl UserScan for HangsOnClose {
        fn scan(&self) -> UserPages<'_> {
            Box::pin(futures::stream::empty())
        }
    }

    #[async_trait]
    impl UserStore for HangsOnClose {
        async fn put(&self, _: &User) -> Result<(), StoreError> {
            Ok(())
        }
        async fn put_many(&self, _: &[User]) -> Result<(), StoreError> {
            Ok(())
        }
        async fn get(&self, _: &Username) -> Result<Option<BirthDate>, StoreError> {
            Ok(None)
        }
        fn health(&self) -> Health {
            Health::Ready
        }
        async fn close(&self) {
            std::future::pending::<()>().await;
        }
        fn backend(&self) -> &'static str {
            "hangs-on-close"
        }

        fn import_batch_size(&self) -> usize {
            1
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_is_bounded_when_the_store_does_not_close() {
        let shutdown = ShutdownPolicy {
            drain_delay: Duration::from_secs(1),
            grace: Duration::from_secs(2),
        };
        let clock = Arc::new(FixedClock(chrono::NaiveDate::MIN));
        let listen = "127.0.0.1:0".parse().unwrap();
        let server = Server::bind(
            listen,
            Arc::new(HangsOnClose),
            clock,
            Metrics::new(),
            Limits::default(),
            shutdown,
            ConnectionPolicy::default(),
        )
        .await
        .unwrap();
        let started = tokio::time::Instant::now();
        let bound = shutdown.drain_delay + shutdown.grace + crate::lifecycle::SHUTDOWN_OVERHEAD;
        // Paused time: the deadlines elapse as soon as everything else waits.
        tokio::time::timeout(bound, server.run(async {}))
            .await
            .expect("shutdown waited for a store that never closes")
            .unwrap();
        assert!(started.elapsed() <= shutdown.drain_delay + STORE_CLOSE_DEADLINE);
    }
}
