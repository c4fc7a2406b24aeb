//! Command line and environment. Every flag has an environment twin, and the defaults run
//! the service on a local SQLite file with no configuration at all.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// DynamoDB tables come from Terraform; `serve` never creates them.
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
    /// Where users are stored: `sqlite://PATH` (created on first start) or `dynamodb://TABLE`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://hello-birthday.db"
    )]
    pub database_url: DatabaseUrl,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// SQLite only: how many users' dates of birth to keep in memory for GET, about 150 bytes
    /// each. Stays correct when several processes share the file. 0 turns the cache off.
    #[arg(long, env = "READ_CACHE_USERS", default_value_t = 100_000)]
    pub read_cache_users: usize,

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

    /// Most connections open at once, and the depth of the listen backlog. At the cap, new
    /// connections wait in that backlog while those already open keep being served. Each takes a file descriptor: keep it well
    /// below `ulimit -n` (the store and the AWS SDK need some too).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most requests handled at once. Beyond it a request waits for a slot at most
    /// `--queue-timeout`, then gets a fast 503 instead of queueing towards its timeout.
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

/// A parsed `--database-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    DynamoDb { table: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("expected sqlite://PATH or dynamodb://TABLE")]
    NotAUrl,
    #[error("unknown scheme {0:?}: expected sqlite or dynamodb")]
    UnknownScheme(String),
    #[error("sqlite:// needs a file path, e.g. sqlite://hello-birthday.db")]
    MissingPath,
    #[error(
        "sqlite://{0} is not a file every connection can share (in-memory databases and file: URIs are refused): give a file path, e.g. sqlite://hello-birthday.db"
    )]
    NotAFile(String),
    #[error("{0:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)")]
    BadTableName(String),
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = url.split_once("://").ok_or(DatabaseUrlError::NotAUrl)?;
        match scheme {
            "sqlite" if rest.is_empty() => Err(DatabaseUrlError::MissingPath),
            "sqlite" if !is_shared_file(rest) => Err(DatabaseUrlError::NotAFile(rest.to_owned())),
            "sqlite" => Ok(Self::Sqlite(PathBuf::from(rest))),
            "dynamodb" if is_table_name(rest) => Ok(Self::DynamoDb {
                table: rest.to_owned(),
            }),
            "dynamodb" => Err(DatabaseUrlError::BadTableName(rest.to_owned())),
            other => Err(DatabaseUrlError::UnknownScheme(other.to_owned())),
        }
    }
}

/// The service reads on many connections and writes on another: each connection to an
/// in-memory database would get a database of its own (the PUT lands in one, the GET reads
/// another). SQLite reads `file:` names as URIs that can ask for exactly that (`mode=memory`),
/// so only plain paths are accepted.
fn is_shared_file(path: &str) -> bool {
    path != ":memory:" && !path.starts_with("file:") && !path.contains("mode=memory")
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::DynamoDb { table } => write!(f, "dynamodb://{table}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_urls_relative_and_absolute() {
        assert_eq!(
            "sqlite://a.db".parse(),
            Ok(DatabaseUrl::Sqlite("a.db".into()))
        );
        assert_eq!(
            "sqlite:///var/lib/a.db".parse(),
            Ok(DatabaseUrl::Sqlite("/var/lib/a.db".into()))
        );
    }

    #[test]
    fn parses_dynamodb_urls() {
        assert_eq!(
            "dynamodb://users-prod".parse(),
            Ok(DatabaseUrl::DynamoDb {
                table: "users-prod".into()
            })
        );
    }

    #[test]
    fn rejects_what_it_cannot_open() {
        assert_eq!(
            "users.db".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::NotAUrl)
        );
        assert_eq!(
            "sqlite://".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::MissingPath)
        );
        assert_eq!(
            "postgres://x".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::UnknownScheme("postgres".into()))
        );
        assert!(matches!(
            "dynamodb://a/b".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::BadTableName(_))
        ));
    }

    #[test]
    fn rejects_sqlite_databases_that_connections_cannot_share() {
        for url in [
            "sqlite://:memory:",
            "sqlite://file::memory:",
            "sqlite://file::memory:?cache=shared",
            "sqlite://file:a.db?mode=memory",
            "sqlite://a.db?mode=memory",
            "sqlite://file:a.db",
        ] {
            assert!(
                matches!(
                    url.parse::<DatabaseUrl>(),
                    Err(DatabaseUrlError::NotAFile(_))
                ),
                "{url}"
            );
        }
        let message = "sqlite://:memory:"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(!message.contains('\n'), "one line: {message}");
    }

    #[test]
    fn command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
