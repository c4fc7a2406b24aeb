//! Logs and metrics.

mod json_format;
mod log_writer;

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

pub use log_writer::{FlushOnDrop, Flusher};

/// Logging flags, shared by every subcommand that logs.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format: one JSON object per line, or human-readable text.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Log filter in `tracing` syntax, e.g. `info` or `hello_birthday=debug,info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Seconds. From sub-millisecond cache-hot reads up to the request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Sends logs to stdout from a background thread so that a slow terminal or log shipper
/// does not slow requests down. Keep the guard alive until exit: dropping it flushes.
pub fn init_logging(args: &TelemetryArgs) -> anyhow::Result<FlushOnDrop> {
    let filter = EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid log level {:?}", args.log_level))?;
    let (writer, guard) =
        log_writer::batched_stdout(args.log_format).context("cannot start the log writer")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match args.log_format {
        LogFormat::Json => {
            let format = json_format::JsonLines {
                region: aws_region(),
            };
            builder.event_format(format).try_init()
        }
        LogFormat::Pretty => builder.try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(guard)
}

/// The AWS region the process runs in (the task definition sets it; absent locally), for logs and build_info.
fn aws_region() -> Option<String> {
    std::env::var("AWS_REGION")
        .ok()
        .filter(|region| !region.is_empty())
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install_metrics).clone()
}

fn install_metrics() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
        .expect("the bucket list is a non-empty constant")
        .build_recorder();
    let handle = recorder.handle();
    // Another recorder can only be present in tests that install their own; ours then stays unused.
    let _ = metrics::set_global_recorder(recorder);
    describe_metrics();
    let mut build = vec![metrics::Label::new("version", env!("CARGO_PKG_VERSION"))];
    build.extend(aws_region().map(|region| metrics::Label::new("region", region)));
    metrics::gauge!("hello_birthday_build_info", build).set(1.0);

    // Histograms are kept in rolling buffers that must be drained now and then.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .expect("a thread can be started at startup");
    handle
}

fn describe_metrics() {
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method, route template and status."
    );
    metrics::describe_histogram!(
        "store_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Time a store operation took, by backend and operation."
    );
    metrics::describe_counter!(
        "store_operation_errors_total",
        "Store operations that failed, by backend, operation and kind."
    );
    metrics::describe_gauge!(
        "store_pool_connections",
        "Connections the store holds open to its database, by backend and state (in_use, idle); sampled every 2 s."
    );
    metrics::describe_gauge!(
        "store_pool_max_connections",
        "Most connections the store may open (--database-pool-size), by backend."
    );
    metrics::describe_gauge!(
        "store_pool_waiting",
        "Operations waiting for a connection or for one to be opened, by backend; sampled every 2 s."
    );
    metrics::describe_counter!(
        "store_pool_waits_total",
        "Operations that found every connection of a full pool in use and had to wait, by backend."
    );
    metrics::describe_counter!(
        "store_pool_timeouts_total",
        "Operations that got no connection before their deadline and were answered 503, by backend."
    );
    metrics::describe_counter!(
        "http_requests_shed_total",
        "Requests answered 503 at once because every in-flight slot stayed taken for the queue timeout."
    );
    metrics::describe_gauge!(
        "http_connections_open",
        "Client connections open now (at most --max-connections)."
    );
    metrics::describe_counter!(
        "http_connections_closed_total",
        "Client connections ended, by reason: closed (by the client, or by us at shutdown), idle_timeout, header_read_timeout, headers_too_large (hyper answered 431), malformed (hyper answered 400 or reset the stream), error (reset or protocol error)."
    );
    metrics::describe_counter!(
        "log_lines_dropped_total",
        "Log lines dropped because stdout could not keep up."
    );
    // Present from the start at 0, so that rate() and alarms see the series before the first event.
    metrics::counter!("http_requests_shed_total").absolute(0);
    metrics::counter!("log_lines_dropped_total").absolute(0);
    metrics::describe_gauge!(
        "hello_birthday_build_info",
        "Always 1; the labels say which build runs (version) and where (region, when known)."
    );
}
