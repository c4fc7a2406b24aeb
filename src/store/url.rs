//! `--database-url`: which backend, and where.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::postgres::{PostgresUrl, PostgresUrlError};

/// A parsed `--database-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    DynamoDb { table: String },
    Postgres(PostgresUrl),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("expected sqlite://PATH, dynamodb://TABLE or postgres://USER@HOST/DATABASE")]
    NotAUrl,
    #[error("unknown scheme {0:?}: expected sqlite, dynamodb, postgres or postgresql")]
    UnknownScheme(String),
    #[error("sqlite:// needs a file path, e.g. sqlite://hello-birthday.db")]
    MissingPath,
    #[error(
        "sqlite://{0} is not a file every connection can share (in-memory databases and file: URIs are refused): give a file path, e.g. sqlite://hello-birthday.db"
    )]
    NotAFile(String),
    #[error("{0:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)")]
    BadTableName(String),
    #[error("postgres:// URL: {0}")]
    Postgres(#[from] PostgresUrlError),
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
            "postgres" => Ok(Self::Postgres(PostgresUrl::parse("postgres", rest)?)),
            "postgresql" => Ok(Self::Postgres(PostgresUrl::parse("postgresql", rest)?)),
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
            Self::Postgres(url) => url.fmt(f),
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
    fn parses_postgres_urls_and_prints_them_without_the_password() {
        for text in [
            "postgres://app:hunter2@db1:5432,db2:5432/hello",
            "postgresql://app:hunter2@db1:5432,db2:5432/hello",
        ] {
            let url: DatabaseUrl = text.parse().expect("valid");
            let shown = url.to_string();
            assert!(matches!(url, DatabaseUrl::Postgres(_)));
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!format!("{url:?}").contains("hunter2"));
            assert!(
                shown.ends_with("://app:***@db1:5432,db2:5432/hello"),
                "{shown}"
            );
        }
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
            "mysql://x".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert!(matches!(
            "postgres://app@db:x/hello".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::Postgres(_))
        ));
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
}
