//! Where users are kept. One trait, one implementation per backend, chosen by `--database-url`.

pub mod dynamodb;
mod instrumented;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

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

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates or replaces a user. Returns only once the write is durable.
    async fn put(&self, user: &User) -> Result<(), StoreError>;

    /// Creates or replaces many users at once (bulk import). Idempotent.
    async fn put_many(&self, users: &[User]) -> Result<(), StoreError>;

    /// Reads a user, always seeing every write that was acknowledged before.
    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError>;

    /// Every user, in no particular order (export, backups).
    async fn all(&self) -> Result<Vec<User>, StoreError>;

    /// Succeeds when the store can serve requests (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Finishes pending writes and releases connections. Called once, at shutdown.
    async fn close(&self);

    /// The backend's name, for metrics and logs.
    fn backend(&self) -> &'static str;
}

/// Opens the store that `url` names for serving requests, creating or migrating its schema
/// where the backend allows it (SQLite; DynamoDB tables are created by Terraform). Backends
/// that can cache point reads safely (SQLite) keep up to `cached_users` of them in memory.
pub async fn open(url: &DatabaseUrl, cached_users: usize) -> anyhow::Result<Arc<dyn UserStore>> {
    open_with(url, Workload::Serve, cached_users).await
}

/// Like [`open`], for import, export and table creation: timeouts and retries suited to
/// batches, and no read cache.
pub async fn open_for_bulk(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn UserStore>> {
    open_with(url, Workload::Bulk, 0).await
}

async fn open_with(
    url: &DatabaseUrl,
    workload: Workload,
    cached_users: usize,
) -> anyhow::Result<Arc<dyn UserStore>> {
    let store: Box<dyn UserStore> = match url {
        DatabaseUrl::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path, cached_users).await?),
        DatabaseUrl::DynamoDb { table } => {
            Box::new(dynamodb::DynamoDbStore::connect(table, workload).await?)
        }
    };
    Ok(Arc::new(Instrumented::new(store)))
}
