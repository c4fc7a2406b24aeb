//! Bringing a database file to the current schema, safely when many processes open the same
//! fresh file at the same moment (every instance of a deploy starting together).
//!
//! Both steps would race if done naively: switching to WAL needs an exclusive lock that SQLite
//! does not wait for, and reading the schema version before taking the write lock lets two
//! processes apply the same migration (the second then fails on `CREATE TABLE`). So the WAL
//! switch is retried while another process holds the file, and each migration runs in a
//! `BEGIN IMMEDIATE` transaction that reads the version only once it holds the write lock.

use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};

use super::is_busy;

/// Migrations in order; the database's `user_version` counts those applied. Never edit one
/// that has shipped: add a new one.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS users (
        username      TEXT PRIMARY KEY NOT NULL,
        date_of_birth TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    ) WITHOUT ROWID;"];

/// How long to keep trying the WAL switch while other processes hold the file.
const WAL_SWITCH_PATIENCE: Duration = Duration::from_secs(10);
const WAL_SWITCH_RETRY: Duration = Duration::from_millis(10);

/// Switches to WAL with full fsync, and migrates the schema to the latest version.
pub fn prepare(connection: &mut Connection) -> anyhow::Result<()> {
    switch_to_wal(connection)?;
    connection
        .pragma_update(None, "synchronous", "FULL")
        .context("cannot set synchronous=FULL")?;
    migrate(connection).context("cannot migrate the schema")
}

/// WAL is what lets readers run beside the writer and what makes a `204` durable at the cost
/// of one fsync per group; a database that silently stayed in another mode would be slower and
/// would lock readers out. SQLite answers with the mode it ended up in: on a file system
/// without shared-memory support (some network file systems) that is not `wal`.
pub fn switch_to_wal(connection: &Connection) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAL_SWITCH_PATIENCE;
    let mode = loop {
        match connection.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
                std::thread::sleep(WAL_SWITCH_RETRY);
            }
            outcome => break outcome.context("cannot switch to WAL mode")?,
        }
    };
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "the database cannot use WAL mode (journal mode stayed {mode:?}); \
         put it on a local file system that supports shared memory (not NFS or SMB)"
    );
    Ok(())
}

fn migrate(connection: &mut Connection) -> anyhow::Result<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let latest = i64::try_from(MIGRATIONS.len()).expect("a handful of migrations");
    anyhow::ensure!(
        applied <= latest,
        "the schema is at version {applied}, newer than this release knows ({latest}): run a newer release"
    );
    for migration in MIGRATIONS
        .iter()
        .skip(usize::try_from(applied).unwrap_or(0))
    {
        transaction.execute_batch(migration)?;
    }
    if applied < latest {
        transaction.pragma_update(None, "user_version", latest)?;
    }
    Ok(transaction.commit()?)
}

/// Touches the file and the table, so a missing table or an unreadable file shows at open.
pub fn check_readable(connection: &Connection) -> rusqlite::Result<()> {
    connection.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)",
        [],
        |_| Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_that_cannot_use_wal_is_refused_clearly() {
        // An in-memory database answers "memory", as a file system without shared memory
        // leaves the file in its previous mode.
        let connection = Connection::open_in_memory().unwrap();
        let error = format!("{:#}", switch_to_wal(&connection).unwrap_err());
        assert!(error.contains("cannot use WAL mode"), "{error}");
        assert!(error.contains("\"memory\""), "{error}");
    }

    #[test]
    fn migrating_twice_changes_nothing_and_records_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = Connection::open(dir.path().join("a.db")).unwrap();
        prepare(&mut connection).unwrap();
        prepare(&mut connection).unwrap();
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
        check_readable(&connection).unwrap();
    }
}
