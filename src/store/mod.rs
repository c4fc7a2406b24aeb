//! Where users are kept. One trait, one implementation per backend, chosen by `--database-url`.

pub mod dynamodb;
mod instrumented;
pub mod postgres;
pub mod sqlite;
mod url;

use std::num::NonZeroUsize;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::domain::{BirthDate, IsoDate, Username};

pub use instrumented::Instrumented;
pub use url::{DatabaseUrl, DatabaseUrlError};

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

    /// Users per `put_many` that suit this backend in a bulk import.
    fn import_batch_size(&self) -> usize;
}

/// What a store is opened for. Each backend turns it into its own settings (DynamoDB: client
/// timeouts and retries; SQLite: whether the file may be created).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Answering HTTP requests: fail fast rather than hold a request past its deadline.
    Serve,
    /// An operator's batch job (import, export, create-table): ride out throttling.
    Bulk,
}

/// What to do when the store does not exist yet. Only SQLite can create one; a DynamoDB table
/// comes from Terraform (or `create-table` for local development).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create it and its schema (`serve`, `create-table`).
    Create,
    /// Fail: a typo in a path must not silently start an empty database (`import`).
    Refuse,
}

/// How to open a store: one value for every backend, each reading only what concerns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    pub purpose: Purpose,
    pub missing: Missing,
    pub sqlite: sqlite::SqliteOptions,
}

impl StoreOptions {
    /// For `serve`: creates a missing SQLite file, and caches up to `sqlite_read_cache` point reads.
    pub fn serve(sqlite_read_cache: Option<NonZeroUsize>) -> Self {
        Self {
            purpose: Purpose::Serve,
            missing: Missing::Create,
            sqlite: sqlite::SqliteOptions {
                read_cache: sqlite_read_cache,
            },
        }
    }

    /// For batch jobs: no read cache; `missing` says whether a SQLite file may be created.
    pub fn bulk(missing: Missing) -> Self {
        Self {
            purpose: Purpose::Bulk,
            missing,
            sqlite: sqlite::SqliteOptions { read_cache: None },
        }
    }
}

/// Opens the store that `url` names, with latency and error metrics around it. SQLite's schema
/// is created or migrated here; DynamoDB tables are never created by opening them.
pub async fn open(url: &DatabaseUrl, options: StoreOptions) -> anyhow::Result<Arc<dyn UserStore>> {
    let store: Box<dyn UserStore> = match url {
        DatabaseUrl::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path, options).await?),
        DatabaseUrl::DynamoDb { table } => {
            Box::new(dynamodb::DynamoDbStore::connect(table, options.purpose).await?)
        }
        DatabaseUrl::Postgres(url) => {
            Box::new(postgres::PostgresStore::connect(url, options.purpose).await?)
        }
    };
    Ok(Arc::new(Instrumented::new(store)))
}

/// Opens the store that `url` names for reading only (export). A SQLite file is opened
/// read-only and never created; it may sit on read-only media.
pub async fn open_read_only(url: &DatabaseUrl) -> anyhow::Result<Box<dyn UserScan>> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Box::new(sqlite::ReadOnlyDatabase::open(path).await?),
        DatabaseUrl::DynamoDb { table } => {
            Box::new(dynamodb::DynamoDbStore::connect(table, Purpose::Bulk).await?)
        }
        DatabaseUrl::Postgres(url) => {
            Box::new(postgres::PostgresStore::connect(url, Purpose::Bulk).await?)
        }
    })
}

/// What `create-table` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableCreated {
    Created,
    AlreadyExisted,
}

/// Creates the store's table (DynamoDB) or file and schema (SQLite) for local development, and
/// waits until it is usable. Succeeds if it exists already.
pub async fn create_table(url: &DatabaseUrl) -> anyhow::Result<TableCreated> {
    match url {
        DatabaseUrl::DynamoDb { table } => {
            let store = dynamodb::DynamoDbStore::connect(table, Purpose::Bulk).await?;
            Ok(store
                .create_table()
                .await
                .with_context(|| format!("cannot create table {table}"))?)
        }
        DatabaseUrl::Sqlite(path) => {
            let existed = path.try_exists().unwrap_or(false);
            let store =
                sqlite::SqliteStore::open(path, StoreOptions::bulk(Missing::Create)).await?;
            store.close().await;
            Ok(if existed {
                TableCreated::AlreadyExisted
            } else {
                TableCreated::Created
            })
        }
        DatabaseUrl::Postgres(url) => postgres::PostgresStore::create_table(url).await,
    }
}

impl User {
    /// Rebuilds a user from what a backend stored. A row that no longer parses is a fault of
    /// the store (written by something else, or corrupted), never a client error.
    pub fn decode(name: &str, date: &str) -> Result<Self, StoreError> {
        let username = Username::parse(name)
            .map_err(|e| StoreError::failed(format!("stored username {name:?} is invalid: {e}")))?;
        Ok(Self {
            username,
            birth_date: decode_birth_date(date)?,
        })
    }
}

/// A stored date of birth. It was before "today" when written, so it is taken as recorded.
pub fn decode_birth_date(date: &str) -> Result<BirthDate, StoreError> {
    IsoDate::parse(date)
        .map(BirthDate::recorded)
        .map_err(|e| StoreError::failed(format!("stored date {date:?} is invalid: {e}")))
}

/// The `updatedAt` / `updated_at` value both backends store with each write: UTC, RFC 3339,
/// milliseconds, so values sort as text and a person can read them.
pub fn updated_at_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
