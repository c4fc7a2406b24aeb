//! `hello-birthday serve`: telemetry first (metrics, then logging), then the signal handlers,
//! then the store, then the server, each handed what it needs.

use std::sync::Arc;

use anyhow::Context;

use super::args::ServeArgs;
use crate::clock::SystemClock;
use crate::lifecycle::{FORCED_EXIT_CODE, LOG_FLUSH_DEADLINE, Signals};
use crate::server::Server;
use crate::store::{self, Instrumented, StoreOptions};
use crate::telemetry::{self, Flusher, Metrics};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let logs = telemetry::init_logging(&args.telemetry, &metrics)?;
    // First thing after logging: a SIGTERM while the store opens must end the process cleanly.
    let signals = Signals::install().context("cannot listen for SIGTERM and SIGINT")?;
    let flusher = logs.flusher();
    let mut stop = tokio::spawn(signals.first_then(move |signal| force_exit(signal, &flusher)));
    let server = tokio::select! {
        server = build(&args, metrics) => server?,
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
async fn build(args: &ServeArgs, metrics: Metrics) -> anyhow::Result<Server> {
    let store = store::open(&args.database.database_url, StoreOptions::serve()).await?;
    let store = Arc::new(Instrumented::new(store, &metrics));
    let clock = Arc::new(SystemClock);
    Server::bind(
        args.listen,
        store,
        clock,
        metrics,
        args.limits(),
        args.shutdown_policy(),
        args.connection_policy(),
    )
    .await
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
