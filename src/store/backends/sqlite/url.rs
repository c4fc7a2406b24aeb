//! `sqlite://PATH`: which file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The database file a `sqlite://` URL names, relative to the working directory or absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFile {
    path: PathBuf,
}

impl DatabaseFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseFileError {
    #[error("sqlite:// needs a file path, e.g. sqlite://hello-birthday.db")]
    MissingPath,
    #[error(
        "sqlite://{0} is not a file every connection can share (in-memory databases and file: URIs are refused): give a file path, e.g. sqlite://hello-birthday.db"
    )]
    NotAFile(String),
}

impl FromStr for DatabaseFile {
    type Err = DatabaseFileError;

    /// `path` is what follows `sqlite://`.
    fn from_str(path: &str) -> Result<Self, Self::Err> {
        if path.is_empty() {
            return Err(DatabaseFileError::MissingPath);
        }
        if !is_shared_file(path) {
            return Err(DatabaseFileError::NotAFile(path.to_owned()));
        }
        Ok(Self { path: path.into() })
    }
}

impl fmt::Display for DatabaseFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

/// The service reads on many connections and writes on another: each connection to an
/// in-memory database would get a database of its own (the PUT lands in one, the GET reads
/// another). SQLite reads `file:` names as URIs that can ask for exactly that (`mode=memory`),
/// so only plain paths are accepted.
fn is_shared_file(path: &str) -> bool {
    path != ":memory:" && !path.starts_with("file:") && !path.contains("mode=memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_relative_and_absolute_paths() {
        assert_eq!(
            "a.db".parse::<DatabaseFile>().unwrap().path(),
            Path::new("a.db")
        );
        assert_eq!(
            "/var/lib/a.db".parse::<DatabaseFile>().unwrap().path(),
            Path::new("/var/lib/a.db")
        );
        assert_eq!(
            "".parse::<DatabaseFile>(),
            Err(DatabaseFileError::MissingPath)
        );
    }

    #[test]
    fn rejects_databases_that_connections_cannot_share() {
        for path in [
            ":memory:",
            "file::memory:",
            "file::memory:?cache=shared",
            "file:a.db?mode=memory",
            "a.db?mode=memory",
            "file:a.db",
        ] {
            assert!(
                matches!(
                    path.parse::<DatabaseFile>(),
                    Err(DatabaseFileError::NotAFile(_))
                ),
                "{path}"
            );
        }
        let message = ":memory:".parse::<DatabaseFile>().unwrap_err().to_string();
        assert!(!message.contains('\n'), "one line: {message}");
    }
}
