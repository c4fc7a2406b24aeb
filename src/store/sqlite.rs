//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through a single writer thread that commits whatever has queued up in one
//! transaction (group commit): every acknowledged write is fsynced (`synchronous=FULL`),
//! yet concurrent writers share the cost of the fsync. Reads use a small pool of
//! read-only connections, which WAL lets run beside the writer without blocking.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{StoreError, User, UserStore};
use crate::domain::{BirthDate, IsoDate, Username};

/// How long a connection waits for another process's lock before giving up.
/// Several instances may share one file (rolling deploys on one host), so waits do happen.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Writes queued beyond this make callers wait: backpressure instead of unbounded memory.
const WRITE_QUEUE_DEPTH: usize = 1024;
/// Upper bound of rows in one group commit, so one transaction never grows without limit.
const MAX_ROWS_PER_COMMIT: usize = 50_000;

const UPSERT: &str = "INSERT INTO users (username, date_of_birth, updated_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (username) DO UPDATE SET date_of_birth = excluded.date_of_birth, updated_at = excluded.updated_at";
const SELECT_ONE: &str = "SELECT date_of_birth FROM users WHERE username = ?1";
const SELECT_ALL: &str = "SELECT username, date_of_birth FROM users";

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        "CREATE TABLE users (
            username      TEXT PRIMARY KEY NOT NULL,
            date_of_birth TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        ) WITHOUT ROWID;",
    )])
}

pub struct SqliteStore {
    readers: ReaderPool,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path)).await?
    }

    fn open_blocking(path: PathBuf) -> anyhow::Result<Self> {
        let mut writer = open_connection(&path, OpenFlags::SQLITE_OPEN_CREATE)
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| writer.pragma_update(None, "synchronous", "FULL"))
            .with_context(|| format!("cannot switch {} to WAL mode", path.display()))?;
        migrations()
            .to_latest(&mut writer)
            .with_context(|| format!("cannot migrate the schema of {}", path.display()))?;

        let readers = ReaderPool::open(&path, reader_count())?;
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let writer_thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(writer, queue))
            .context("cannot start the SQLite writer thread")?;
        Ok(Self {
            readers,
            writer: Mutex::new(Some(jobs)),
            writer_thread: Mutex::new(Some(writer_thread)),
        })
    }

    async fn write(&self, rows: Vec<(String, String)>) -> Result<(), StoreError> {
        let jobs = lock(&self.writer).clone().ok_or_else(closed)?;
        let (reply, outcome) = oneshot::channel();
        jobs.send(WriteJob { rows, reply })
            .await
            .map_err(|_| closed())?;
        outcome
            .await
            .map_err(|_| closed())?
            .map_err(|error| classify(SharedError(error)))
    }
}

fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .max(4)
}

fn open_connection(path: &Path, extra: OpenFlags) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are plain handles that a panic cannot leave half-updated.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn closed() -> StoreError {
    StoreError::unavailable("the SQLite store is closed")
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn put(&self, user: &User) -> Result<(), StoreError> {
        self.write(vec![encode(user)]).await
    }

    async fn put_many(&self, users: &[User]) -> Result<(), StoreError> {
        self.write(users.iter().map(encode).collect()).await
    }

    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError> {
        let key = username.as_str().to_owned();
        let stored = self
            .readers
            .run(move |conn| {
                conn.prepare_cached(SELECT_ONE)?
                    .query_row([key], |row| row.get::<_, String>(0))
                    .optional()
            })
            .await?;
        stored.as_deref().map(decode_birth_date).transpose()
    }

    async fn all(&self) -> Result<Vec<User>, StoreError> {
        let rows = self
            .readers
            .run(|conn| {
                conn.prepare(SELECT_ALL)?
                    .query_map([], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.iter().map(|(name, date)| decode(name, date)).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if lock(&self.writer)
            .as_ref()
            .is_none_or(mpsc::Sender::is_closed)
        {
            return Err(closed());
        }
        self.readers
            .run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    async fn close(&self) {
        self.readers.close();
        // Dropping the last sender lets the writer finish what is queued, then stop.
        lock(&self.writer).take();
        let writer_thread = lock(&self.writer_thread).take();
        if let Some(thread) = writer_thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the SQLite writer thread did not stop cleanly");
            }
        }
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

fn encode(user: &User) -> (String, String) {
    (
        user.username.as_str().to_owned(),
        user.birth_date.to_string(),
    )
}

fn decode(name: &str, date: &str) -> Result<User, StoreError> {
    let username = Username::parse(name)
        .map_err(|e| StoreError::failed(format!("stored username {name:?} is invalid: {e}")))?;
    Ok(User {
        username,
        birth_date: decode_birth_date(date)?,
    })
}

fn decode_birth_date(date: &str) -> Result<BirthDate, StoreError> {
    IsoDate::parse(date)
        .map(BirthDate::recorded)
        .map_err(|e| StoreError::failed(format!("stored date {date:?} is invalid: {e}")))
}

/// Busy or locked means another process holds the file: worth a retry. Anything else is a fault.
fn classify(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    let busy = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
        .filter_map(|e| e.downcast_ref::<rusqlite::Error>())
        .any(|e| {
            matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            )
        });
    if busy {
        StoreError::unavailable(error)
    } else {
        StoreError::failed(error)
    }
}

struct WriteJob {
    rows: Vec<(String, String)>,
    reply: oneshot::Sender<Result<(), Arc<rusqlite::Error>>>,
}

/// One group commit's error, handed to every writer in the group.
#[derive(Debug)]
struct SharedError(Arc<rusqlite::Error>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

fn run_writer(mut connection: Connection, mut queue: mpsc::Receiver<WriteJob>) {
    while let Some(first) = queue.blocking_recv() {
        let mut rows = first.rows.len();
        let mut group = vec![first];
        while rows < MAX_ROWS_PER_COMMIT {
            let Ok(job) = queue.try_recv() else { break };
            rows += job.rows.len();
            group.push(job);
        }
        let outcome = commit(&mut connection, &group).map_err(Arc::new);
        for job in group {
            // The caller may have gone away (request timed out); the write stands regardless.
            let _ = job.reply.send(outcome.clone());
        }
    }
}

fn commit(connection: &mut Connection, group: &[WriteJob]) -> rusqlite::Result<()> {
    let updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut upsert = transaction.prepare_cached(UPSERT)?;
        for (username, date_of_birth) in group.iter().flat_map(|job| &job.rows) {
            upsert.execute(params![username, date_of_birth, updated_at])?;
        }
    }
    transaction.commit()
}

/// A fixed set of read connections.
///
/// Hand-rolled rather than deadpool-sqlite because that pool runs a health query on every
/// checkout, which would double the thread hops of every GET.
struct ReaderPool {
    connections: Arc<Vec<Mutex<Connection>>>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    fn open(path: &Path, size: usize) -> anyhow::Result<Self> {
        let connections = (0..size)
            .map(|_| {
                let connection = open_connection(path, OpenFlags::empty())?;
                connection.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(connection))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("cannot open read connections to {}", path.display()))?;
        Ok(Self {
            connections: Arc::new(connections),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    async fn run<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        let connections = self.connections.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Holding a permit means at least one connection is free.
            let connection = connections
                .iter()
                .find_map(|slot| match slot.try_lock() {
                    Ok(guard) => Some(guard),
                    Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                    Err(TryLockError::WouldBlock) => None,
                })
                .ok_or_else(|| StoreError::failed("no free SQLite read connection"))?;
            query(&connection).map_err(classify)
        })
        .await
        .map_err(StoreError::failed)?
    }

    fn close(&self) {
        self.permits.close();
    }
}
