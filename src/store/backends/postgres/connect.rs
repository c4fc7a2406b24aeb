//! Opening connections: the hosts of the URL in turn, each within its own timeout, until one
//! accepts writes; the password read afresh each time; the session's timeouts set in the
//! startup packet, so they cost no round trip.
//!
//! The hosts are walked here rather than by the driver, because its timeout covers only the
//! TCP handshake: a frozen server accepts the TCP connection (the kernel does) and then never
//! answers, and a driver-level walk would wait on it forever and never reach the next host.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use tokio_postgres::config::{SslMode as DriverSslMode, TargetSessionAttrs};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Config, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::classify::is_misconfiguration;
use super::sql;
use super::url::{HostPort, PostgresUrl, SessionAttrs, SslMode};
use crate::store::Purpose;

/// Connections older than this are closed when they next come back to the pool, so a
/// process spreads out again over time (after a failover, over a load balancer's targets).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Dead peers are noticed on idle connections by TCP keepalives within about 25 s, and on
/// busy ones by the user timeout, instead of the kernel's two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// How patient the store is, by what it is for.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// For one host: TCP, TLS, authentication and the read-write check.
    pub connect_timeout: Duration,
    /// The server cancels a statement after this (`statement_timeout`).
    pub statement_timeout: Duration,
    /// The server ends a session left idle inside a transaction after this.
    pub idle_in_transaction_timeout: Duration,
    /// One store operation, from waiting for a connection to the answer, retry included.
    pub deadline: Duration,
}

impl Profile {
    /// Serving HTTP answers 503 well within the request timeout (10 s by default) and a
    /// probe's deadline: 2 s per host, 2 s per statement, 5 s in all.
    pub fn serve(connect_timeout: Option<Duration>) -> Self {
        Self {
            connect_timeout: connect_timeout.unwrap_or(Duration::from_secs(2)),
            statement_timeout: Duration::from_secs(2),
            idle_in_transaction_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(5),
        }
    }

    /// An operator's import or export: a batch of 10 000 rows on a busy server, and an export
    /// whose reader pauses (a slow pipe to `gzip`), are fine.
    pub fn bulk(connect_timeout: Option<Duration>) -> Self {
        Self {
            connect_timeout: connect_timeout.unwrap_or(Duration::from_secs(10)),
            statement_timeout: Duration::from_secs(120),
            idle_in_transaction_timeout: Duration::from_secs(300),
            deadline: Duration::from_secs(300),
        }
    }

    pub fn for_purpose(purpose: Purpose, connect_timeout: Option<Duration>) -> Self {
        match purpose {
            Purpose::Serve => Self::serve(connect_timeout),
            Purpose::Bulk => Self::bulk(connect_timeout),
        }
    }

    /// Sent in the startup packet: the server applies them before the first statement.
    fn session_options(&self) -> String {
        format!(
            "-c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            self.statement_timeout.as_millis(),
            self.idle_in_transaction_timeout.as_millis()
        )
    }
}

/// A connection and the statements every request uses, prepared once.
pub struct Connection {
    pub client: Client,
    pub get: Statement,
    pub put: Statement,
}

/// Why no connection could be opened: one reason per host tried.
#[derive(Debug)]
pub struct ConnectError {
    attempts: Vec<(HostPort, Attempt)>,
}

#[derive(Debug)]
enum Attempt {
    Failed(tokio_postgres::Error),
    TimedOut(Duration),
    Password(String),
}

impl ConnectError {
    /// Worth no retry: a certificate, a password, a database name or a grant is wrong.
    pub fn is_misconfiguration(&self) -> bool {
        self.attempts.iter().any(|(_, attempt)| match attempt {
            Attempt::Failed(error) => is_misconfiguration(error),
            Attempt::Password(_) => true,
            Attempt::TimedOut(_) => false,
        })
    }

    /// The error of a database that answered, if one did (a missing table, say).
    pub fn database_error(&self) -> Option<&tokio_postgres::error::DbError> {
        self.attempts.iter().find_map(|(_, attempt)| match attempt {
            Attempt::Failed(error) => error.as_db_error(),
            _ => None,
        })
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot connect to PostgreSQL")?;
        for (i, (host, attempt)) in self.attempts.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{host}: ")?;
            match attempt {
                Attempt::Failed(error) => write!(f, "{}", chain(error))?,
                Attempt::TimedOut(after) => write!(f, "no answer within {after:?}")?,
                Attempt::Password(reason) => f.write_str(reason)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConnectError {}

/// An error and its causes on one line, as `anyhow`'s `{:#}` prints them.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Opens connections for the pool.
pub struct Connector {
    url: PostgresUrl,
    tls: MakeRustlsConnect,
    profile: Profile,
    /// The host that last gave a usable connection, tried first: after a failover the old
    /// primary may only time out, and every new connection would wait for it.
    preferred: AtomicUsize,
}

impl Connector {
    pub fn new(url: PostgresUrl, tls: MakeRustlsConnect, profile: Profile) -> Self {
        Self {
            url,
            tls,
            profile,
            preferred: AtomicUsize::new(0),
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// A session on the first host, in turn from the preferred one, that accepts it (and
    /// accepts writes, unless `target_session_attrs=any`).
    pub async fn session(&self) -> Result<Client, ConnectError> {
        let hosts = self.url.hosts();
        let first = self.preferred.load(Ordering::Relaxed) % hosts.len();
        let mut attempts = Vec::new();
        for index in (first..hosts.len()).chain(0..first) {
            let host = &hosts[index];
            match self.session_on(host).await {
                Ok(client) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(client);
                }
                Err(attempt) => attempts.push((host.clone(), attempt)),
            }
        }
        Err(ConnectError { attempts })
    }

    async fn session_on(&self, host: &HostPort) -> Result<Client, Attempt> {
        let config = self.config(host)?;
        let connecting = config.connect(self.tls.clone());
        let (client, connection) = tokio::time::timeout(self.profile.connect_timeout, connecting)
            .await
            .map_err(|_| Attempt::TimedOut(self.profile.connect_timeout))?
            .map_err(Attempt::Failed)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %chain(&error), "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    /// The driver's configuration for one host, with the password as it is now.
    fn config(&self, host: &HostPort) -> Result<Config, Attempt> {
        let mut config = Config::new();
        config
            .host(&host.host)
            .port(host.port)
            .connect_timeout(self.profile.connect_timeout)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(TCP_USER_TIMEOUT)
            .options(self.profile.session_options())
            .application_name(self.url.application_name().unwrap_or("hello-birthday"))
            .ssl_mode(match self.url.sslmode() {
                SslMode::Disable => DriverSslMode::Disable,
                SslMode::Prefer => DriverSslMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    DriverSslMode::Require
                }
            })
            .target_session_attrs(match self.url.target_session_attrs() {
                SessionAttrs::ReadWrite => TargetSessionAttrs::ReadWrite,
                SessionAttrs::Any => TargetSessionAttrs::Any,
            });
        if let Some(user) = self.url.user() {
            config.user(user);
        }
        if let Some(dbname) = self.url.dbname() {
            config.dbname(dbname);
        }
        if let Some(password) = self.password()? {
            config.password(password);
        }
        Ok(config)
    }

    /// From the URL, else the password file (read on every connection, so a rotated
    /// Kubernetes Secret is used without a restart), else `PGPASSWORD`, as libpq reads it.
    fn password(&self) -> Result<Option<String>, Attempt> {
        if let Some(password) = self.url.password() {
            return Ok(Some(password.expose().to_owned()));
        }
        if let Some(path) = self.url.password_file() {
            return read_password_file(path)
                .map(Some)
                .map_err(Attempt::Password);
        }
        Ok(std::env::var("PGPASSWORD").ok())
    }
}

/// The file's content without its trailing line break (`echo` and editors add one).
fn read_password_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(format!("the password file {} is empty", path.display()));
    }
    Ok(password.to_owned())
}

impl deadpool::managed::Manager for Connector {
    type Type = Connection;
    type Error = ConnectError;

    /// A session with the serving statements prepared (in one round trip). A missing table
    /// fails here, with the server's own message.
    async fn create(&self) -> Result<Connection, ConnectError> {
        // Boxed: connecting (TLS included) is a future of many kilobytes, and the pool's
        // checkout, part of every operation's future, would otherwise carry it inline.
        let client = Box::pin(self.session()).await?;
        let prepared = tokio::try_join!(
            client.prepare_typed(sql::GET, &[Type::TEXT]),
            client.prepare_typed(sql::PUT, &[Type::TEXT_ARRAY, Type::DATE_ARRAY]),
        );
        match prepared {
            Ok((get, put)) => Ok(Connection { client, get, put }),
            Err(error) => {
                let host = self.url.hosts()[self.preferred.load(Ordering::Relaxed)].clone();
                Err(ConnectError {
                    attempts: vec![(host, Attempt::Failed(error))],
                })
            }
        }
    }

    /// No query: a closed connection is known without asking the server, and a broken one
    /// fails its next statement, which drops it and retries once on a new one.
    async fn recycle(
        &self,
        connection: &mut Connection,
        metrics: &Metrics,
    ) -> RecycleResult<ConnectError> {
        if connection.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        if metrics.age() > MAX_LIFETIME {
            return Err(RecycleError::message(
                "connection reached its maximum lifetime",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_loses_its_line_break_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        for (content, expected) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret", "s3cret"),
            (" spaced out \n", " spaced out "),
        ] {
            std::fs::write(&path, content).unwrap();
            assert_eq!(read_password_file(&path).unwrap(), expected);
        }
        std::fs::write(&path, "\n").unwrap();
        assert!(read_password_file(&path).unwrap_err().contains("is empty"));
        let missing = read_password_file(&dir.path().join("nope")).unwrap_err();
        assert!(
            missing.contains("cannot read the password file"),
            "{missing}"
        );
    }

    #[test]
    fn session_options_carry_the_timeouts_in_milliseconds() {
        assert_eq!(
            Profile::serve(None).session_options(),
            "-c statement_timeout=2000 -c idle_in_transaction_session_timeout=10000"
        );
        assert!(Profile::serve(None).deadline < Duration::from_secs(10));
    }
}
