//! Wiring: opens the store, binds the listener, serves until told to stop, then shuts down
//! in the order load balancers need.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;

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
}

impl Server {
    /// Opens the store named on the command line and binds the listener.
    pub async fn build(args: &ServeArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = store::open(&args.database.database_url).await?;
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
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` resolves, then: readiness fails at once, requests are still served
    /// for the drain delay, the listener closes, in-flight requests get the grace period, and
    /// the store is closed last so that every acknowledged write is flushed.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let draining_done = Arc::new(Notify::new());
        let graceful = drain_after(
            stop,
            self.lifecycle.clone(),
            self.shutdown.drain_delay,
            draining_done.clone(),
        );
        let listener = self.listener.tap_io(|tcp| {
            // Small JSON answers should not wait for Nagle's algorithm.
            let _ = tcp.set_nodelay(true);
        });
        let serving = axum::serve(listener, self.router)
            .with_graceful_shutdown(graceful)
            .into_future();
        let grace = self.shutdown.grace;
        let grace_expired = async move {
            draining_done.notified().await;
            tokio::time::sleep(grace).await;
        };

        let outcome = tokio::select! {
            result = serving => result.context("the HTTP server failed"),
            () = grace_expired => {
                tracing::warn!(grace = ?grace, "shutdown grace period expired; abandoning requests still in flight");
                Ok(())
            }
        };
        self.store.close().await;
        tracing::info!("stopped");
        outcome
    }
}

async fn drain_after(
    stop: impl Future<Output = ()>,
    lifecycle: Lifecycle,
    drain_delay: Duration,
    draining_done: Arc<Notify>,
) {
    stop.await;
    lifecycle.begin_shutdown();
    tracing::info!(drain_delay = ?drain_delay, "shutting down: readiness now fails, still serving while load balancers catch up");
    tokio::time::sleep(drain_delay).await;
    tracing::info!("no longer accepting connections; finishing requests in flight");
    draining_done.notify_one();
}
