//! Choosing and opening a backend from `--database-url`.
//!
//! The URL's scheme names the backend; the backend parses the rest of it itself ([`Backend`]),
//! so what only one backend knows stays in its folder. Adding a backend touches this file
//! only: its `mod`, a [`Target`] variant, and its line in [`KNOWN`], [`with_backend!`] and
//! [`DatabaseUrl::from_str`] (and, if it has flags of its own, in [`BackendArgs`]).

pub(crate) mod dynamodb;
mod freshness;
mod postgres;
mod sqlite;

use std::fmt;
use std::str::FromStr;

use super::{Backend, StoreOptions, UserScan, UserStore};

/// A parsed `--database-url`: which backend, and what its URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Target);

/// One variant per backend.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Sqlite(sqlite::DatabaseFile),
    DynamoDb(dynamodb::Table),
    Postgres(postgres::PostgresUrl),
}

/// Every backend's scheme and the shape of the rest of its URL, for error messages.
const KNOWN: [(&str, &str); 3] = [
    (sqlite::DatabaseFile::SCHEME, sqlite::DatabaseFile::FORM),
    (dynamodb::Table::SCHEME, dynamodb::Table::FORM),
    (postgres::PostgresUrl::SCHEME, postgres::PostgresUrl::FORM),
];

/// Evaluates `$body` with `$backend` bound to the backend that `$url` names.
macro_rules! with_backend {
    ($url:expr, $backend:ident => $body:expr) => {
        match &$url.0 {
            Target::Sqlite($backend) => $body,
            Target::DynamoDb($backend) => $body,
            Target::Postgres($backend) => $body,
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("expected {}", forms())]
    NotAUrl,
    #[error("unknown scheme {:?}: expected {}", .0, schemes())]
    UnknownScheme(String),
    /// The backend's own reason.
    #[error("{0}")]
    Invalid(String),
}

fn forms() -> String {
    let forms: Vec<String> = KNOWN
        .iter()
        .map(|(scheme, form)| format!("{scheme}://{form}"))
        .collect();
    one_of(&forms)
}

fn schemes() -> String {
    let schemes: Vec<String> = KNOWN
        .iter()
        .map(|(scheme, _)| (*scheme).to_owned())
        .collect();
    one_of(&schemes)
}

/// `a, b or c`.
fn one_of(choices: &[String]) -> String {
    match choices {
        [rest @ .., last] if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => choices.join(""),
    }
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = url.split_once("://").ok_or(DatabaseUrlError::NotAUrl)?;
        let target = match scheme {
            sqlite::DatabaseFile::SCHEME => Target::Sqlite(parse(rest)?),
            dynamodb::Table::SCHEME => Target::DynamoDb(parse(rest)?),
            postgres::PostgresUrl::SCHEME | postgres::ALIAS => Target::Postgres(parse(rest)?),
            other => return Err(DatabaseUrlError::UnknownScheme(other.to_owned())),
        };
        Ok(Self(target))
    }
}

fn parse<B: Backend>(rest: &str) -> Result<B, DatabaseUrlError> {
    rest.parse()
        .map_err(|error: B::Err| DatabaseUrlError::Invalid(error.to_string()))
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        with_backend!(self, backend => show(backend, f))
    }
}

fn show<B: Backend>(backend: &B, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}://{backend}", B::SCHEME)
}

/// Flags that only one backend reads, each defined in that backend's folder. Every command that
/// takes `--database-url` takes these too; [`DatabaseUrl::with_args`] hands them over.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    #[command(flatten)]
    postgres: postgres::PostgresArgs,
}

impl DatabaseUrl {
    /// The URL with the settings its backend takes from flags rather than from the URL.
    #[must_use]
    pub fn with_args(self, args: &BackendArgs) -> Self {
        match self.0 {
            Target::Postgres(url) => Self(Target::Postgres(args.postgres.apply(url))),
            target => Self(target),
        }
    }
}

/// Opens the store that `url` names.
pub async fn open(url: &DatabaseUrl, options: StoreOptions) -> anyhow::Result<Box<dyn UserStore>> {
    with_backend!(url, backend => backend.open(options).await)
}

/// Opens the store that `url` names for reading only (export): nothing is created or changed.
pub async fn open_read_only(url: &DatabaseUrl) -> anyhow::Result<Box<dyn UserScan>> {
    with_backend!(url, backend => backend.open_read_only().await)
}

/// Creates the store that `url` names, for local development (`create-table`); succeeds if it
/// exists. Returns what was done, in one line.
pub async fn create(url: &DatabaseUrl) -> anyhow::Result<String> {
    with_backend!(url, backend => backend.create().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_backend() {
        for url in [
            "sqlite://a.db",
            "sqlite:///var/lib/a.db",
            "dynamodb://users-prod",
            "postgres://app:***@db1:5432,db2:5432/hello",
        ] {
            let parsed: DatabaseUrl = url.parse().unwrap();
            assert_eq!(parsed.to_string(), url);
        }
        assert!(matches!(
            "sqlite://a.db".parse(),
            Ok(DatabaseUrl(Target::Sqlite(_)))
        ));
        assert!(matches!(
            "dynamodb://users-prod".parse(),
            Ok(DatabaseUrl(Target::DynamoDb(_)))
        ));
        assert!(matches!(
            "postgresql://app@db/hello".parse(),
            Ok(DatabaseUrl(Target::Postgres(_)))
        ));
    }

    #[test]
    fn a_postgres_url_prints_without_its_password() {
        for text in [
            "postgres://app:hunter2@db1:5432,db2:5432/hello",
            "postgresql://app:hunter2@db1:5432,db2:5432/hello",
        ] {
            let url: DatabaseUrl = text.parse().expect("valid");
            let shown = url.to_string();
            assert!(!format!("{url:?}").contains("hunter2"));
            assert_eq!(shown, "postgres://app:***@db1:5432,db2:5432/hello");
        }
    }

    #[test]
    fn rejects_what_no_backend_opens_and_names_those_that_would() {
        assert_eq!(
            "users.db".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::NotAUrl)
        );
        assert_eq!(
            DatabaseUrlError::NotAUrl.to_string(),
            format!(
                "expected sqlite://PATH, dynamodb://TABLE or postgres://{}",
                postgres::PostgresUrl::FORM
            )
        );
        assert_eq!(
            "mysql://x".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert!(matches!(
            "dynamodb://a/b".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::Invalid(_))
        ));
        assert!(matches!(
            "postgres://app@db:x/hello".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::Invalid(_))
        ));
    }
}
