//! Which failures are worth retrying later (503 with `Retry-After`) and which are not (500),
//! and which mean the connection they came from must not be used again.

use std::fmt;

use tokio_postgres::error::SqlState;

use crate::store::{BoxError, StoreError};

/// What one failed statement says about the server and the connection.
pub struct Failure {
    pub error: StoreError,
    /// Temporary: the connection is closed rather than handed to the next request.
    pub transient: bool,
    /// The server is gone or no longer the primary: a new connection may find the one that is.
    pub retry_elsewhere: bool,
}

/// SQLSTATEs after which the same statement may succeed shortly, on this server or the one
/// that replaces it.
fn is_transient(code: &SqlState) -> bool {
    let class = &code.code()[..2];
    matches!(
        class,
        // connection exception; insufficient resources (disk full, too many connections);
        // operator intervention (admin shutdown, statement timeout); system error (I/O)
        "08" | "53" | "57" | "58"
    ) || [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
        SqlState::SNAPSHOT_TOO_OLD,
    ]
    .contains(code)
}

/// SQLSTATEs that say this server will not take the statement at all any more: shutting down,
/// starting up, or a primary demoted to a read-only standby.
fn means_another_server(code: &SqlState) -> bool {
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ]
        .contains(code)
}

impl Failure {
    pub fn classify(operation: &'static str, error: tokio_postgres::Error) -> Self {
        let (transient, retry_elsewhere) = match error.as_db_error() {
            Some(db) => (is_transient(db.code()), means_another_server(db.code())),
            // Closed, or an I/O error on the socket: the connection is unusable, the server
            // perhaps gone.
            None if error.is_closed() || has_io_source(&error) => (true, true),
            None => (false, false),
        };
        let failed = Failed {
            operation,
            source: error.into(),
        };
        Self {
            error: if transient {
                StoreError::unavailable(failed)
            } else {
                StoreError::failed(failed)
            },
            transient,
            retry_elsewhere,
        }
    }
}

fn has_io_source(error: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A failure to connect that no retry will mend: a certificate, password, role, database or
/// grant is wrong. Starting up, these stop the process with one line instead of waiting.
pub fn is_misconfiguration(error: &tokio_postgres::Error) -> bool {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        // invalid authorization; invalid catalog name (no such database)
        return code.starts_with("28") || code == "3D000";
    }
    // The driver's TLS errors (a certificate that does not verify, a server without TLS
    // when `sslmode` requires it) carry no code; its message is part of its API.
    error
        .to_string()
        .starts_with("error performing TLS handshake")
}

/// A failed statement, with the operation named so logs point at the cause.
#[derive(Debug)]
struct Failed {
    operation: &'static str,
    source: BoxError,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgreSQL {}", self.operation)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_transient_classes_are_unavailable() {
        for code in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::CONNECTION_FAILURE,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::DISK_FULL,
            SqlState::QUERY_CANCELED,
            SqlState::CANNOT_CONNECT_NOW,
        ] {
            assert!(is_transient(&code), "{code:?}");
        }
        for code in [
            SqlState::UNDEFINED_TABLE,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::SYNTAX_ERROR,
            SqlState::UNIQUE_VIOLATION,
        ] {
            assert!(!is_transient(&code), "{code:?}");
        }
    }

    #[test]
    fn only_a_gone_or_demoted_server_sends_the_retry_elsewhere() {
        assert!(means_another_server(&SqlState::ADMIN_SHUTDOWN));
        assert!(means_another_server(&SqlState::READ_ONLY_SQL_TRANSACTION));
        assert!(means_another_server(&SqlState::CONNECTION_FAILURE));
        assert!(!means_another_server(&SqlState::T_R_DEADLOCK_DETECTED));
        assert!(!means_another_server(&SqlState::QUERY_CANCELED));
    }
}
