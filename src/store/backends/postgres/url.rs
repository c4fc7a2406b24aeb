//! `postgres://` and `postgresql://` URLs in libpq's syntax, and where the password comes from.
//!
//! `postgres://USER[:PASSWORD]@HOST[:PORT][,HOST[:PORT]...]/DBNAME?PARAM=VALUE&...`, with the
//! parameters a service needs: `sslmode`, `sslrootcert`, `target_session_attrs`,
//! `application_name`, `connect_timeout` and `password`. Anything else is refused by name, so a
//! typo never silently falls back to a default. The URL prints with its password replaced by
//! `***` (Display and Debug alike), and no parse error repeats the text it was given.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// libpq's default port.
const DEFAULT_PORT: u16 = 5432;

/// Characters escaped when a parameter's value is printed back into a URL.
const QUERY_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'&').add(b'#').add(b'+');

/// Characters escaped when a user or database name is printed back into a URL.
const COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'@')
    .add(b':')
    .add(b'/')
    .add(b'?')
    .add(b'&')
    .add(b'#')
    .add(b',')
    .add(b'[')
    .add(b']');

/// The scheme libpq also accepts, for the same URLs.
pub const ALIAS: &str = "postgresql";

/// A parsed PostgreSQL URL, plus the two settings that come from flags rather than the URL
/// (the password file and the pool size).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    user: Option<String>,
    password: Option<Secret>,
    hosts: Vec<HostPort>,
    dbname: Option<String>,
    sslmode: Option<SslMode>,
    sslrootcert: Option<RootCerts>,
    target_session_attrs: Option<SessionAttrs>,
    application_name: Option<String>,
    connect_timeout: Option<Duration>,
    password_file: Option<PathBuf>,
    pool_size: Option<NonZeroUsize>,
}

/// One `host:port` of the URL, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

/// libpq's `sslmode`, implemented with rustls (see `tls.rs` for what each checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the certificate authorities for `verify-ca` and `verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The Mozilla roots compiled into the binary (`sslrootcert=system`, or no `sslrootcert`).
    System,
    /// A PEM bundle, such as the one RDS, Cloud SQL or Azure publishes.
    File(PathBuf),
}

/// libpq's `target_session_attrs`, limited to what makes sense for a service that writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    /// Any server that accepts the connection, even a standby.
    Any,
    /// Only a server that accepts writes: the primary, wherever it is now.
    ReadWrite,
}

/// A password, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostgresUrlError {
    #[error("postgres:// needs a host, e.g. postgres://app@db.internal:5432/hello")]
    MissingHost,
    #[error("the host list has an empty entry")]
    EmptyHost,
    #[error("a port is not a number between 1 and 65535")]
    BadPort,
    #[error("an IPv6 host must be written in brackets, e.g. [::1]:5432")]
    BadIpv6,
    #[error("the user, password or database name is not valid percent-encoded UTF-8")]
    BadEncoding,
    #[error("the database name must not contain '/'")]
    BadDatabaseName,
    #[error("unknown parameter {0:?} (known: {KNOWN_PARAMETERS})")]
    UnknownParameter(String),
    #[error("parameter {0:?} is given twice")]
    Repeated(String),
    #[error("sslmode={0:?}: expected disable, prefer, require, verify-ca or verify-full")]
    BadSslMode(String),
    #[error(
        "target_session_attrs={0:?}: expected read-write or any (the service writes, so it cannot use a standby)"
    )]
    BadSessionAttrs(String),
    #[error("connect_timeout={0:?}: expected whole seconds, at least 1")]
    BadConnectTimeout(String),
    #[error("the password is given twice (in the user part and as ?password=)")]
    PasswordTwice,
    #[error("sslrootcert needs a file path, or `system` for the compiled-in Mozilla roots")]
    EmptyRootCert,
}

const KNOWN_PARAMETERS: &str =
    "sslmode, sslrootcert, target_session_attrs, application_name, connect_timeout, password";

impl FromStr for PostgresUrl {
    type Err = PostgresUrlError;

    /// Parses what follows `postgres://` or `postgresql://`.
    fn from_str(rest: &str) -> Result<Self, Self::Err> {
        // As libpq does, the user part ends at an '@' before the first '/': a password may
        // then hold '?', '&' or '@' unescaped, and a malformed one is never taken for a host
        // or a parameter whose name an error message would repeat.
        let head = rest.find('/').unwrap_or(rest.len());
        let (userinfo, after_user) = match rest[..head].rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let hosts_end = after_user.find(['/', '?']).unwrap_or(after_user.len());
        let (hostlist, remainder) = after_user.split_at(hosts_end);
        let (path, query) = if let Some(after_slash) = remainder.strip_prefix('/') {
            match after_slash.split_once('?') {
                Some((path, query)) => (Some(path), Some(query)),
                None => (Some(after_slash), None),
            }
        } else {
            (None, remainder.strip_prefix('?'))
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (non_empty(decode(user)?), Some(decode(password)?)),
                None => (non_empty(decode(info)?), None),
            },
        };
        let dbname = match path {
            Some(path) if path.contains('/') => return Err(PostgresUrlError::BadDatabaseName),
            Some(path) => non_empty(decode(path)?),
            None => None,
        };
        let mut url = Self {
            user,
            password: password.map(Secret),
            hosts: parse_hosts(hostlist)?,
            dbname,
            sslmode: None,
            sslrootcert: None,
            target_session_attrs: None,
            application_name: None,
            connect_timeout: None,
            password_file: None,
            pool_size: None,
        };
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if !pair.is_empty() {
                url.set_parameter(pair)?;
            }
        }
        Ok(url)
    }
}

impl PostgresUrl {
    fn set_parameter(&mut self, pair: &str) -> Result<(), PostgresUrlError> {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?;
        let value = decode(value)?;
        let repeated = || PostgresUrlError::Repeated(name.clone());
        match name.as_str() {
            "sslmode" => {
                let mode = match value.as_str() {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    _ => return Err(PostgresUrlError::BadSslMode(value)),
                };
                set_once(&mut self.sslmode, mode).ok_or_else(repeated)
            }
            "sslrootcert" => {
                let roots = match value.as_str() {
                    "" => return Err(PostgresUrlError::EmptyRootCert),
                    "system" => RootCerts::System,
                    path => RootCerts::File(PathBuf::from(path)),
                };
                set_once(&mut self.sslrootcert, roots).ok_or_else(repeated)
            }
            "target_session_attrs" => {
                let attrs = match value.as_str() {
                    "read-write" => SessionAttrs::ReadWrite,
                    "any" => SessionAttrs::Any,
                    _ => return Err(PostgresUrlError::BadSessionAttrs(value)),
                };
                set_once(&mut self.target_session_attrs, attrs).ok_or_else(repeated)
            }
            "application_name" => set_once(&mut self.application_name, value).ok_or_else(repeated),
            "connect_timeout" => {
                let seconds = value
                    .parse::<u64>()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| PostgresUrlError::BadConnectTimeout(value.clone()))?;
                set_once(&mut self.connect_timeout, Duration::from_secs(seconds))
                    .ok_or_else(repeated)
            }
            "password" if self.password.is_some() => Err(PostgresUrlError::PasswordTwice),
            "password" => {
                self.password = Some(Secret(value));
                Ok(())
            }
            _ => Err(PostgresUrlError::UnknownParameter(name)),
        }
    }

    /// The same URL, with the password read from `file` on every new connection.
    #[must_use]
    pub fn with_password_file(mut self, file: Option<PathBuf>) -> Self {
        self.password_file = file;
        self
    }

    /// The same URL, with at most `size` connections per process.
    #[must_use]
    pub fn with_pool_size(mut self, size: Option<NonZeroUsize>) -> Self {
        self.pool_size = size;
        self
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    pub fn password_file(&self) -> Option<&Path> {
        self.password_file.as_deref()
    }

    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
    }

    pub fn dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// `prefer` unless given, as in libpq.
    pub fn sslmode(&self) -> SslMode {
        self.sslmode.unwrap_or(SslMode::Prefer)
    }

    pub fn sslrootcert(&self) -> Option<&RootCerts> {
        self.sslrootcert.as_ref()
    }

    /// `read-write` unless given. libpq's default is `any`, but a connection to a standby is of
    /// no use to a service that writes: with several hosts it must find the primary.
    pub fn target_session_attrs(&self) -> SessionAttrs {
        self.target_session_attrs.unwrap_or(SessionAttrs::ReadWrite)
    }

    pub fn application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    pub fn pool_size(&self) -> Option<NonZeroUsize> {
        self.pool_size
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

fn decode(text: &str) -> Result<String, PostgresUrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| PostgresUrlError::BadEncoding)
}

fn parse_hosts(list: &str) -> Result<Vec<HostPort>, PostgresUrlError> {
    if list.is_empty() {
        return Err(PostgresUrlError::MissingHost);
    }
    list.split(',').map(parse_host).collect()
}

fn parse_host(entry: &str) -> Result<HostPort, PostgresUrlError> {
    let (host, port) = if let Some(bracketed) = entry.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(PostgresUrlError::BadIpv6)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(PostgresUrlError::BadIpv6)?),
        };
        (host, port)
    } else if entry.matches(':').count() > 1 {
        return Err(PostgresUrlError::BadIpv6);
    } else {
        match entry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    if host.is_empty() {
        return Err(PostgresUrlError::EmptyHost);
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or(PostgresUrlError::BadPort)?,
    };
    Ok(HostPort {
        host: host.to_owned(),
        port,
    })
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl SslMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// The URL as given after its scheme, with the password replaced by `***`: safe for logs and
/// error messages.
impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{}", utf8_percent_encode(user, COMPONENT))?;
        }
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        if self.user.is_some() || self.password.is_some() {
            f.write_str("@")?;
        }
        for (i, host) in self.hosts.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{host}")?;
        }
        f.write_str("/")?;
        if let Some(dbname) = &self.dbname {
            write!(f, "{}", utf8_percent_encode(dbname, COMPONENT))?;
        }
        let mut separator = '?';
        let mut parameter = |f: &mut fmt::Formatter<'_>, name: &str, value: &str| {
            let written = write!(
                f,
                "{separator}{name}={}",
                utf8_percent_encode(value, QUERY_VALUE)
            );
            separator = '&';
            written
        };
        if let Some(mode) = self.sslmode {
            parameter(f, "sslmode", mode.as_str())?;
        }
        match &self.sslrootcert {
            Some(RootCerts::System) => parameter(f, "sslrootcert", "system")?,
            Some(RootCerts::File(path)) => {
                parameter(f, "sslrootcert", &path.display().to_string())?;
            }
            None => {}
        }
        match self.target_session_attrs {
            Some(SessionAttrs::ReadWrite) => parameter(f, "target_session_attrs", "read-write")?,
            Some(SessionAttrs::Any) => parameter(f, "target_session_attrs", "any")?,
            None => {}
        }
        if let Some(name) = &self.application_name {
            parameter(f, "application_name", name)?;
        }
        if let Some(timeout) = self.connect_timeout {
            parameter(f, "connect_timeout", &timeout.as_secs().to_string())?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresUrl")
            .field("url", &format_args!("postgres://{self}"))
            .field("password_file", &self.password_file)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<PostgresUrl, PostgresUrlError> {
        url.split_once("://").unwrap().1.parse()
    }

    /// The whole URL as `--database-url` shows it.
    fn shown(url: &PostgresUrl) -> String {
        format!("postgres://{url}")
    }

    #[test]
    fn parses_several_hosts_with_and_without_ports() {
        let url = parse("postgresql://app@db1:6432,db2,[::1]:5433,[fe80::2]/hello").unwrap();
        let hosts: Vec<String> = url.hosts().iter().map(ToString::to_string).collect();
        assert_eq!(
            hosts,
            ["db1:6432", "db2:5432", "[::1]:5433", "[fe80::2]:5432"]
        );
        assert_eq!(url.user(), Some("app"));
        assert_eq!(url.dbname(), Some("hello"));
        assert_eq!(url.sslmode(), SslMode::Prefer);
        assert_eq!(url.target_session_attrs(), SessionAttrs::ReadWrite);
        assert!(url.password().is_none());
    }

    #[test]
    fn parses_the_parameters_a_service_needs() {
        let url = parse(
            "postgres://app@db:5432/hello?sslmode=verify-full&sslrootcert=/etc/ca/rds.pem&target_session_attrs=any&application_name=hb%20eu&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(url.sslmode(), SslMode::VerifyFull);
        assert_eq!(
            url.sslrootcert(),
            Some(&RootCerts::File("/etc/ca/rds.pem".into()))
        );
        assert_eq!(url.target_session_attrs(), SessionAttrs::Any);
        assert_eq!(url.application_name(), Some("hb eu"));
        assert_eq!(url.connect_timeout(), Some(Duration::from_secs(3)));
        let system = parse("postgres://db/x?sslrootcert=system").unwrap();
        assert_eq!(system.sslrootcert(), Some(&RootCerts::System));
    }

    #[test]
    fn decodes_percent_escapes_in_user_password_and_database() {
        let url = parse("postgres://a%40b:p%40ss%3Aword@db/my%20db").unwrap();
        assert_eq!(url.user(), Some("a@b"));
        assert_eq!(url.password().unwrap().expose(), "p@ss:word");
        assert_eq!(url.dbname(), Some("my db"));
        let query = parse("postgres://app@db/x?password=s%26cret").unwrap();
        assert_eq!(query.password().unwrap().expose(), "s&cret");
        let unescaped = parse("postgres://app:p?a@s&s@db?sslmode=disable").unwrap();
        assert_eq!(unescaped.password().unwrap().expose(), "p?a@s&s");
        assert_eq!(unescaped.hosts()[0].host, "db");
        assert_eq!(unescaped.sslmode(), SslMode::Disable);
    }

    #[test]
    fn never_prints_the_password() {
        for url in [
            "postgres://app:hunter2@db1,db2:6432/hello?sslmode=require",
            "postgres://app@db/hello?password=hunter2",
            "postgresql://:hunter2@db/hello",
        ] {
            let parsed = parse(url).unwrap();
            let shown = shown(&parsed);
            let debug = format!("{parsed:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(shown.contains(":***@"), "{shown}");
        }
        assert_eq!(
            shown(&parse("postgres://app:hunter2@db1,db2:6432/hello?sslmode=require").unwrap()),
            "postgres://app:***@db1:5432,db2:6432/hello?sslmode=require"
        );
    }

    #[test]
    fn display_round_trips_what_it_shows() {
        let text = "postgres://a%40b@db1:5432,[::1]:5433/my%20db?sslmode=verify-ca&sslrootcert=/ca.pem&target_session_attrs=read-write&application_name=x&connect_timeout=4";
        let url = parse(text).unwrap();
        assert_eq!(shown(&url), text);
        assert_eq!(parse(&shown(&url)).unwrap(), url);
    }

    #[test]
    fn refuses_what_it_cannot_use_without_echoing_the_password() {
        let cases = [
            ("postgres:///hello", PostgresUrlError::MissingHost),
            ("postgres://app@db,/hello", PostgresUrlError::EmptyHost),
            ("postgres://app@db:99999/x", PostgresUrlError::BadPort),
            // An unescaped '/' in a password: the part before it is no user part.
            (
                "postgres://u:hunter2/x@db/x",
                PostgresUrlError::BadDatabaseName,
            ),
            ("postgres://::1/x", PostgresUrlError::BadIpv6),
            ("postgres://db/a/b", PostgresUrlError::BadDatabaseName),
            (
                "postgres://db/x?sslmode=allow",
                PostgresUrlError::BadSslMode("allow".into()),
            ),
            (
                "postgres://db/x?target_session_attrs=standby",
                PostgresUrlError::BadSessionAttrs("standby".into()),
            ),
            (
                "postgres://db/x?connect_timeout=0",
                PostgresUrlError::BadConnectTimeout("0".into()),
            ),
            (
                "postgres://db/x?sslmode=require&sslmode=disable",
                PostgresUrlError::Repeated("sslmode".into()),
            ),
            (
                "postgres://db/x?sslrootcert=",
                PostgresUrlError::EmptyRootCert,
            ),
            (
                "postgres://u:hunter2@db/x?password=hunter2",
                PostgresUrlError::PasswordTwice,
            ),
            (
                "postgres://u:hunter2@db/x?pasword=hunter2",
                PostgresUrlError::UnknownParameter("pasword".into()),
            ),
        ];
        for (url, expected) in cases {
            let error = parse(url).unwrap_err();
            assert_eq!(error, expected, "{url}");
            let message = error.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn flags_add_the_password_file_and_pool_size() {
        let url = parse("postgres://app@db/x")
            .unwrap()
            .with_password_file(Some("/run/secrets/db".into()))
            .with_pool_size(NonZeroUsize::new(7));
        assert_eq!(url.password_file(), Some(Path::new("/run/secrets/db")));
        assert_eq!(url.pool_size(), NonZeroUsize::new(7));
    }
}
