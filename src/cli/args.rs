//! The command line and its environment twins. Every flag has an environment twin, and the defaults run
//! the service on a local SQLite file with no configuration at all.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::http::Limits;
use crate::server::{ConnectionPolicy, ShutdownPolicy, Timeouts};
use crate::store::{BackendArgs, DatabaseUrl, DatabaseUrlError};
use crate::telemetry::TelemetryArgs;

#[derive(Debug, Parser)]
#[command(name = "hello-birthday", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(ServeArgs),
    /// Ask a running server whether it is alive; exit 0 if so, 1 if not (for container health checks).
    Healthcheck(HealthcheckArgs),
    /// Create the store's table for local development (succeeds if it exists). Production
    /// DynamoDB tables come from Terraform; `serve` never creates them. On PostgreSQL, creates
    /// or migrates the schema: run it with the migration role before `serve`.
    CreateTable(CreateTableArgs),
    /// Load users from the previous system's JSON file, `{"alice": {"dateOfBirth": "1990-05-01"}}`.
    /// Invalid records are listed on stderr and make the exit code non-zero; the valid ones are
    /// imported. Safe to run again.
    Import(ImportArgs),
    /// Write every user to stdout as JSON in the shape `import` reads, sorted by username.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CreateTableArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The JSON file to import, or `-` for stdin.
    pub file: PathBuf,

    /// Users written per batch; by default the backend's own (SQLite: one commit of 50 000;
    /// DynamoDB: 2 500, as 100 concurrent `BatchWriteItem` calls). Lower it to spare a busy table.
    #[arg(long, env = "IMPORT_BATCH_SIZE")]
    pub batch_size: Option<NonZeroUsize>,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Where users are stored: `sqlite://PATH` (created on first start), `dynamodb://TABLE`, or
    /// `postgres://USER@HOST[:PORT][,HOST2[:PORT]...]/DATABASE?sslmode=verify-full&...`
    /// (docs/postgres.md). Printed with its password hidden; its environment value is never shown.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://hello-birthday.db",
        hide_env_values = true,
        value_parser = DatabaseUrlParser
    )]
    database_url: DatabaseUrl,

    #[command(flatten)]
    backend: BackendArgs,
}

impl DatabaseArgs {
    /// The URL, with the settings its backend takes from the other flags.
    pub fn url(&self) -> DatabaseUrl {
        self.database_url.clone().with_args(&self.backend)
    }
}

/// Parses `--database-url` without repeating it in the error, as clap would: it may hold a
/// password.
#[derive(Debug, Clone, Copy)]
struct DatabaseUrlParser;

impl clap::builder::TypedValueParser for DatabaseUrlParser {
    type Value = DatabaseUrl;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<DatabaseUrl, clap::Error> {
        let invalid = |reason: &dyn std::fmt::Display| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid --database-url: {reason}\n"),
            )
            .with_cmd(command)
        };
        value
            .to_str()
            .ok_or_else(|| invalid(&"not valid UTF-8"))?
            .parse()
            .map_err(|e: DatabaseUrlError| invalid(&e))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub telemetry: TelemetryArgs,

    /// Longest time one request may take once its headers are in, reading its body included.
    /// A client still sending its body then gets 408; a request slow on our side gets 503.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How long a keep-alive connection may stay open with no request on it (HTTP/1 and
    /// HTTP/2). Must outlast the load balancer's idle timeout (ALB: 60 s by default), or
    /// the balancer reuses a connection this end is closing and its client gets a 502.
    #[arg(long, env = "IDLE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// From the first byte of a request, how long the client has to finish sending its
    /// headers. A new connection that sends nothing, or an incomplete HTTP/2 preface, is
    /// closed after this too.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// How long a client may go without accepting any of the bytes of our answers (it stopped
    /// reading); the connection is then closed. A connection closing with no request left
    /// gets this long to deliver what remains.
    #[arg(long, env = "SEND_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub send_timeout: Duration,

    /// Most connections open at once, and the depth of the listen backlog. At the cap, new
    /// connections wait in that backlog while those already open keep being served. Each takes a file descriptor: keep it well
    /// below `ulimit -n` (the store and the AWS SDK need some too).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most API requests handled at once, counted once their body is in. Beyond it a request
    /// waits for a slot at most `--queue-timeout`, then gets a fast 503 instead of queueing
    /// towards its timeout. One HTTP/2 connection may carry a quarter of it at once. The
    /// operations endpoints are never counted.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,

    /// How long a request may wait for one of the `--max-in-flight` slots before it is shed.
    #[arg(long, env = "QUEUE_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub queue_timeout: Duration,

    /// After SIGTERM, how long to keep serving while readiness already says 503, so load
    /// balancers stop routing here before the listener closes.
    #[arg(long, env = "DRAIN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub drain_delay: Duration,

    /// After the drain delay, how long in-flight requests may take to finish before exit.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "BODY_LIMIT", default_value_t = 4096)]
    pub body_limit: usize,
}

impl ServeArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            request_timeout: self.request_timeout,
            body_limit: self.body_limit,
            max_in_flight: self.max_in_flight,
            queue_timeout: self.queue_timeout,
        }
    }

    pub fn shutdown_policy(&self) -> ShutdownPolicy {
        ShutdownPolicy {
            drain_delay: self.drain_delay,
            grace: self.shutdown_grace,
        }
    }

    pub fn connection_policy(&self) -> ConnectionPolicy {
        ConnectionPolicy {
            max_connections: self.max_connections,
            timeouts: Timeouts {
                idle: self.idle_timeout,
                header_read: self.header_read_timeout,
                send: self.send_timeout,
            },
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// URL of the liveness endpoint to call.
    #[arg(
        long,
        env = "HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8080/healthz"
    )]
    pub url: String,

    /// Give up after this long.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bad_database_url_is_reported_without_repeating_it() {
        let error = Cli::try_parse_from([
            "hello-birthday",
            "serve",
            "--database-url",
            "postgres://app:hunter2@db:x/hello",
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("invalid --database-url"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    /// The policies' `Default`s are what `serve` runs with when no flag is given, so code and
    /// tests that start from a default start from what production runs. (Run without the
    /// flags' environment twins set, as `cargo test` is.)
    #[test]
    fn the_flags_defaults_are_the_policies_defaults() {
        let Command::Serve(args) = Cli::try_parse_from(["hello-birthday", "serve"])
            .expect("no flag is required")
            .command
        else {
            unreachable!("parsed serve");
        };
        assert_eq!(args.limits(), Limits::default());
        assert_eq!(args.shutdown_policy(), ShutdownPolicy::default());
        assert_eq!(args.connection_policy(), ConnectionPolicy::default());
    }
}
