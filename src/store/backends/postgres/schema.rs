//! The schema: created and brought up to date by `create-table` (the migration role), only
//! read by `serve`, `import` and `export` (the runtime role, which has no DDL rights).
//!
//! Any number of `create-table`s may run at once: each migrates inside one transaction that
//! first takes an advisory lock, and reads the version only once it holds it.

use tokio_postgres::{Client, GenericClient};

use super::sql;

/// The version this build writes and needs: the number of migrations.
pub const CURRENT: usize = sql::MIGRATIONS.len();

/// What `create-table` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrated {
    /// Created the schema, or brought it to [`CURRENT`].
    Yes,
    /// Found it at [`CURRENT`] or later already.
    AlreadyCurrent,
}

/// What the database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No table `users` on the search path.
    Missing,
    /// Our table, at this version.
    Version(usize),
    /// A table `users` that hello-birthday did not create.
    Foreign,
}

impl Found {
    /// Whether this build can serve on it: a later version is fine, since migrations only
    /// add (the previous release keeps running during and after a deploy).
    pub fn is_usable(self) -> bool {
        matches!(self, Self::Version(version) if version >= CURRENT)
    }
}

/// Reads the version from the table's comment.
pub async fn found(client: &impl GenericClient) -> Result<Found, tokio_postgres::Error> {
    let row = client.query_one(sql::SCHEMA_VERSION, &[]).await?;
    let exists: bool = row.get(0);
    let comment: Option<String> = row.get(1);
    Ok(match (exists, comment) {
        (false, _) => Found::Missing,
        (true, Some(comment)) => comment
            .strip_prefix(sql::VERSION_PREFIX)
            .and_then(|version| version.parse().ok())
            .map_or(Found::Foreign, Found::Version),
        (true, None) => Found::Foreign,
    })
}

/// Brings the schema to [`CURRENT`]. The advisory lock makes concurrent callers take turns;
/// each sees what the one before it committed.
pub async fn migrate(client: &mut Client) -> anyhow::Result<Migrated> {
    let transaction = client.transaction().await?;
    transaction.execute(sql::MIGRATION_LOCK, &[]).await?;
    let applied = match found(&transaction).await? {
        Found::Missing => 0,
        Found::Version(version) => version,
        Found::Foreign => anyhow::bail!(
            "a table `users` exists that hello-birthday did not create (its comment does not name a schema version): \
             use another database or schema"
        ),
    };
    if applied >= CURRENT {
        transaction.rollback().await?;
        return Ok(Migrated::AlreadyCurrent);
    }
    for migration in &sql::MIGRATIONS[applied..] {
        transaction.batch_execute(migration).await?;
    }
    transaction
        .batch_execute(&sql::version_comment(CURRENT))
        .await?;
    transaction.commit().await?;
    Ok(Migrated::Yes)
}
