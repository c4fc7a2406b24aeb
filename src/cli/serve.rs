//! `hello-birthday serve`: logging first, then the signal handlers, then the server.

use std::num::NonZeroUsize;
use std::sync::Arc;

use anyhow::Context;

use super::args::ServeArgs;
use crate::clock::SystemClock;
use crate::http::Limits;
use crate::lifecycle::{FORCED_EXIT_CODE, LOG_FLUSH_DEADLINE, Signals};
use crate::server::{ConnectionPolicy, Server, ShutdownPolicy, Timeouts};
use crate::store::{self, StoreOptions};
use crate::telemetry::{self, Flusher};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let logs = telemetry::init_logging(&args.telemetry)?;
    // First thing after logging: a SIGTERM while the store opens must end the process cleanly.
    let signals = Signals::install().context("cannot listen for SIGTERM and SIGINT")?;
    let flusher = logs.flusher();
    let mut stop = tokio::spawn(signals.first_then(move |signal| force_exit(signal, &flusher)));
    let server = tokio::select! {
        server = build(&args) => server?,
        _ = &mut stop => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        address = %server.local_addr()?,
        database = %args.database.database_url,
        "ready to serve"
    );
    server
        .run(async move {
            let _ = stop.await;
        })
        .await
}

/// Opens the store named on the command line and binds the listener.
async fn build(args: &ServeArgs) -> anyhow::Result<Server> {
    let options = StoreOptions::serve(NonZeroUsize::new(args.read_cache_users));
    let store = store::open(&args.database.database_url, options).await?;
    let limits = Limits {
        request_timeout: args.request_timeout,
        body_limit: args.body_limit,
        max_in_flight: args.max_in_flight,
        queue_timeout: args.queue_timeout,
    };
    let shutdown = ShutdownPolicy {
        drain_delay: args.drain_delay,
        grace: args.shutdown_grace,
    };
    let connections = ConnectionPolicy {
        max_connections: args.max_connections,
        timeouts: Timeouts {
            idle: args.idle_timeout,
            header_read: args.header_read_timeout,
            send: args.send_timeout,
        },
    };
    let clock = Arc::new(SystemClock);
    Server::bind(args.listen, store, clock, limits, shutdown, connections).await
}

/// A second signal during the drain: exit now, with what was logged so far on stdout.
fn force_exit(signal: &'static str, logs: &Flusher) -> ! {
    tracing::error!(
        signal,
        "second signal during shutdown: exiting at once, requests in flight are abandoned"
    );
    logs.flush_within(LOG_FLUSH_DEADLINE);
    std::process::exit(FORCED_EXIT_CODE)
}
