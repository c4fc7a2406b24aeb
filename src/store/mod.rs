//! Where users are kept. One trait, one implementation per backend, chosen by `--database-url`.

pub mod dynamodb;
mod instrumented;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::config::DatabaseUrl;
use crate::domain::{BirthDate, Username};

pub use dynamodb::Workload;
pub use instrumented::Instrumented;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: Username,
    pub birth_date: BirthDate,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Worth retrying later: the store is overloaded, throttling or unreachable.
    #[error("the store is temporarily unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else. Retrying will not help.
    #[error("the store failed")]
    Failed(#[source] BoxError),
}

impl StoreError {
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    pub fn failed(source: impl Into<BoxError>) -> Self {
        Self::Failed(source.into())
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "unavailable",
            Self::Failed(_) => "failed",
        }
    }
}

/// Users page by page, each page handed over as the backend produces it.
pub type UserPages<'a> = BoxStream<'a, Result<Vec<User>, StoreError>>;

/// What a store says about itself. Computed from state the store keeps up to date on its own
/// (its writes, a background probe), never by calling the backend: probes must stay cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Reads and writes are going through.
    Ready,
    /// Cannot serve now but may recover by itself: take the instance out of rotation.
    NotReady(&'static str),
    /// Cannot recover without a restart: replace the instance.
    Broken(&'static str),
}

/// Reading every user, for export and backups. Memory stays bounded by one page.
pub trait UserScan: Send + Sync + 'static {
    /// Every user. SQLite hands them over sorted by username; DynamoDB in its own (hash)
    /// order, one Scan page at a time.
    fn scan(&self) -> UserPages<'_>;
}

#[async_trait]
pub trait UserStore: UserScan {
    /// Creates or replaces a user. Returns only once the write is durable.
    async fn put(&self, user: &User) -> Result<(), StoreError>;

    /// Creates or replaces many users at once (bulk import). Idempotent.
    async fn put_many(&self, users: &[User]) -> Result<(), StoreError>;

    /// Reads a user, always seeing every write that was acknowledged before.
    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError>;

    /// Whether the store can serve requests now (readiness) and at all (liveness).
    fn health(&self) -> Health;

    /// Finishes pending writes and releases connections. Called once, at shutdown.
    async fn close(&self);

    /// The backend's name, for metrics and logs.
    fn backend(&self) -> &'static str;
}

/// Opens the store that `url` names for serving requests, creating or migrating its schema
/// where the backend allows it (SQLite; DynamoDB tables are created by Terraform). Backends
/// that can cache point reads safely (SQLite) keep up to `cached_users` of them in memory.
pub async fn open(url: &DatabaseUrl, cached_users: usize) -> anyhow::Result<Arc<dyn UserStore>> {
    open_with(url, Workload::Serve, cached_users, Missing::Create).await
}

/// Like [`open`], for import and table creation: timeouts and retries suited to batches, and
/// no read cache. With [`Missing::Refuse`], a SQLite file that does not exist is an error
/// rather than a new, empty database.
pub async fn open_for_bulk(
    url: &DatabaseUrl,
    missing: Missing,
) -> anyhow::Result<Arc<dyn UserStore>> {
    open_with(url, Workload::Bulk, 0, missing).await
}

/// Opens the store that `url` names for reading only (export). A SQLite file is opened
/// read-only and never created; it may sit on read-only media.
pub async fn open_read_only(url: &DatabaseUrl) -> anyhow::Result<Box<dyn UserScan>> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Box::new(sqlite::ReadOnlyDatabase::open(path).await?),
        DatabaseUrl::DynamoDb { table } => {
            Box::new(dynamodb::DynamoDbStore::connect(table, Workload::Bulk).await?)
        }
    })
}

/// What to do when a SQLite database file does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create it and its schema (`serve`, `create-table`).
    Create,
    /// Fail: a typo in a path must not silently start an empty database (`import`).
    Refuse,
}

async fn open_with(
    url: &DatabaseUrl,
    workload: Workload,
    cached_users: usize,
    missing: Missing,
) -> anyhow::Result<Arc<dyn UserStore>> {
    let store: Box<dyn UserStore> = match url {
        DatabaseUrl::Sqlite(path) => {
            Box::new(sqlite::SqliteStore::open(path, cached_users, missing).await?)
        }
        DatabaseUrl::DynamoDb { table } => {
            Box::new(dynamodb::DynamoDbStore::connect(table, workload).await?)
        }
    };
    Ok(Arc::new(Instrumented::new(store)))
}
