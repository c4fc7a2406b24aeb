//! Logs and metrics: made first at start-up, before anything that logs or records.

mod json_format;
mod log_writer;
mod prometheus;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

pub use log_writer::{FlushOnDrop, Flusher};
pub use prometheus::{Labels, Metrics, UPKEEP_INTERVAL};

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

/// Sends logs to stdout from a background thread so that a slow terminal or log shipper
/// does not slow requests down; lines it must drop are counted in `metrics`. Keep the guard
/// alive until exit: dropping it flushes.
///
/// The subscriber is the process's global one: `tracing`'s macros, ours and our
/// dependencies', find it there, so it cannot be handed to them as an argument.
pub fn init_logging(args: &TelemetryArgs, metrics: &Metrics) -> anyhow::Result<FlushOnDrop> {
    let filter = EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid log level {:?}", args.log_level))?;
    let (writer, guard) = log_writer::batched_stdout(
        args.log_format,
        metrics.counter("log_lines_dropped_total", &[]),
    )
    .context("cannot start the log writer")?;
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
