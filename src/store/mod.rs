//! Where users are kept: the contract every backend fulfils, and nothing about any one backend.
//!
//! [`UserStore`] (with [`UserScan`]) is what the service calls; [`Backend`] is what a backend
//! provides so that [`open`] can choose it by the scheme of `--database-url`. The backends
//! themselves, and the choosing, live in [`backends`](self::backends).
//!
//! A new backend is a folder under `backends/` with a type implementing [`Backend`] (its URL,
//! parsed by itself, holding every setting only it has) and one line per list in `backends.rs`.
//! A setting only it has that comes from a flag of its own (a password file, say) joins its URL
//! through [`BackendArgs`], also in `backends.rs`; [`StoreOptions`] holds what every backend
//! is told alike.

pub(crate) mod backends;
mod instrumented;

use std::fmt;
use std::str::FromStr;

use futures_util::stream::BoxStream;

use crate::domain::{BirthDate, IsoDate, Username};
use crate::telemetry::Metrics;

pub use backends::{BackendArgs, DatabaseUrl, DatabaseUrlError, create, open, open_read_only};
pub use instrumented::Instrumented;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: Username,
    pub birth_date: BirthDate,
}

#[cfg(test)]
impl User {
    /// A user from a name and an ISO date known to be valid: the backends' unit tests.
    pub fn valid(name: &str, date: &str) -> Self {
        Self {
            username: Username::parse(name).unwrap(),
            birth_date: BirthDate::recorded(IsoDate::parse(date).unwrap()),
        }
    }
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
    /// Every user, in whatever order the backend keeps them, a page at a time.
    fn scan(&self) -> UserPages<'_>;
}

#[async_trait::async_trait]
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

/// What a store is opened for. Each backend turns it into its own settings (a networked
/// backend's timeouts and retries, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Answering HTTP requests: fail fast rather than hold a request past its deadline.
    Serve,
    /// An operator's batch job (import, export, create-table): ride out throttling.
    Bulk,
}

/// What to do when the store does not exist yet, for a backend that can create one when it is
/// opened (an embedded database file). Stores provisioned by infrastructure code are never
/// created by opening them, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create it and its schema (`serve`, `create-table`).
    Create,
    /// Fail: a typo in a path must not silently start an empty database (`import`).
    Refuse,
}

/// How to open a store: one value for every backend, each reading only what concerns it.
#[derive(Clone)]
pub struct StoreOptions {
    pub purpose: Purpose,
    pub missing: Missing,
    /// Where a backend registers series of its own (a connection pool's use, say); none for
    /// a batch job, which nobody scrapes.
    pub metrics: Option<Metrics>,
}

impl StoreOptions {
    /// For `serve`: creates a missing store where the backend can.
    pub fn serve() -> Self {
        Self {
            purpose: Purpose::Serve,
            missing: Missing::Create,
            metrics: None,
        }
    }

    /// For batch jobs: `missing` says whether a missing store may be created.
    pub fn bulk(missing: Missing) -> Self {
        Self {
            purpose: Purpose::Bulk,
            missing,
            metrics: None,
        }
    }

    /// The same, with the backend's own series registered in `metrics`.
    #[must_use]
    pub fn recording_into(mut self, metrics: &Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }
}

/// What a backend provides so that [`open`] can choose it by the scheme of `--database-url`.
/// Implemented by the type that holds the rest of the URL (for `sqlite://PATH`, the path),
/// which the backend parses itself.
pub(crate) trait Backend: FromStr<Err: fmt::Display> + fmt::Display {
    /// The scheme naming this backend: `sqlite` in `sqlite://hello-birthday.db`.
    const SCHEME: &'static str;
    /// What follows `SCHEME://`, as error messages show it: `PATH`, `TABLE`.
    const FORM: &'static str;

    /// Opens the store to serve or for a batch job; creates it only where `options` allow.
    async fn open(&self, options: StoreOptions) -> anyhow::Result<Box<dyn UserStore>>;

    /// Opens the store to read it only (export): never creates or changes anything.
    async fn open_read_only(&self) -> anyhow::Result<Box<dyn UserScan>>;

    /// Creates the store for local development and waits until it is usable (`create-table`);
    /// succeeds if it exists already. Says what it did, in one line for the operator.
    async fn create(&self) -> anyhow::Result<String>;
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

/// The time of last update every backend stores with each write: UTC, RFC 3339, milliseconds,
/// so values sort as text and a person can read them.
pub fn updated_at_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
