//! Wiring: opens the store, binds the listener, serves until told to stop, then shuts down
//! in the order load balancers need.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::ServeArgs;
use crate::http::{AppState, Limits, router};
use crate::lifecycle::Lifecycle;
use crate::store::{self, UserStore};
use crate::telemetry;

/// How the server stops.
#[derive(Debug, Clone, Copy)]
pub struct ShutdownPolicy {
    /// Keep serving this long after the signal, with readiness failing.
    pub drain_delay: Duration,
    /// Then give in-flight requests this long to finish.
    pub grace: Duration,
}

pub struct Server {
    listener: TcpListener,
    router: Router,
    store: Arc<dyn UserStore>,
    lifecycle: Lifecycle,
    shutdown: ShutdownPolicy,
    header_read_timeout: Duration,
}

/// Pause after a failed `accept` before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

impl Server {
    /// Opens the store named on the command line and binds the listener.
    pub async fn build(args: &ServeArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = store::open(&args.database.database_url, args.read_cache_users).await?;
        let limits = Limits {
            request_timeout: args.request_timeout,
            body_limit: args.body_limit,
        };
        let shutdown = ShutdownPolicy {
            drain_delay: args.drain_delay,
            grace: args.shutdown_grace,
        };
        Self::bind(args.listen, store, clock, limits, shutdown).await
    }

    pub async fn bind(
        listen: SocketAddr,
        store: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        shutdown: ShutdownPolicy,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let lifecycle = Lifecycle::default();
        let state = AppState {
            store: store.clone(),
            clock,
            lifecycle: lifecycle.clone(),
            metrics: telemetry::metrics_handle(),
        };
        Ok(Self {
            listener,
            router: router(state, limits),
            store,
            lifecycle,
            shutdown,
            header_read_timeout: limits.request_timeout,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` resolves, then: readiness fails at once, requests are still served
    /// for the drain delay, the listener closes, in-flight requests get the grace period, and
    /// the store is closed last so that every acknowledged write is flushed.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let connections = GracefulShutdown::new();
        let http = connection_builder(self.header_read_timeout);
        let mut draining_done = pin!(drain_after(
            stop,
            self.lifecycle.clone(),
            self.shutdown.drain_delay
        ));
        loop {
            tokio::select! {
                () = &mut draining_done => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        // Small JSON answers should not wait for Nagle's algorithm.
                        let _ = tcp.set_nodelay(true);
                        let service = TowerToHyperService::new(self.router.clone());
                        let connection = http.serve_connection(TokioIo::new(tcp), service).into_owned();
                        let connection = connections.watch(connection);
                        tokio::spawn(async move {
                            if let Err(error) = connection.await {
                                tracing::debug!(%error, "connection ended with an error");
                            }
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

        let grace = self.shutdown.grace;
        if tokio::time::timeout(grace, connections.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?grace, "shutdown grace period expired; abandoning requests still in flight");
        }
        self.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// HTTP/1 and HTTP/2 on one port. A client must finish sending a request's headers within
/// the request timeout, so trickling or half-open connections cannot pile up (the body and
/// the handler are bounded by the same timeout in the router).
fn connection_builder(header_read_timeout: Duration) -> ConnectionBuilder<TokioExecutor> {
    let mut builder = ConnectionBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

async fn drain_after(stop: impl Future<Output = ()>, lifecycle: Lifecycle, drain_delay: Duration) {
    stop.await;
    lifecycle.begin_shutdown();
    tracing::info!(drain_delay = ?drain_delay, "shutting down: readiness now fails, still serving while load balancers catch up");
    tokio::time::sleep(drain_delay).await;
    tracing::info!("no longer accepting connections; finishing requests in flight");
}
