//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through a single writer thread that commits whatever has queued up in one
//! transaction (group commit): every acknowledged write is fsynced (`synchronous=FULL`),
//! yet concurrent writers share the cost of the fsync.
//!
//! Point reads run inline on the async worker thread, on a read-only connection that each
//! thread keeps for itself: in WAL mode a reader never waits for the writer, and a primary-key
//! lookup costs a few microseconds, far less than handing the query to a blocking thread and
//! back. The inline connection never waits for a lock (busy timeout 0); in the rare case it
//! would have to (another process recovering the WAL), the read is retried on a blocking
//! thread that may wait. Scans (export) always run on a blocking thread.
//!
//! Point reads are cached in memory (see [`read_cache`] for how the cache stays correct when
//! several processes share the file).

mod read_cache;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use tokio::sync::{mpsc, oneshot};

use self::read_cache::{Generations, ReadCache};
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
/// Touches the database file, unlike `SELECT 1`, so readiness notices a vanished or broken file.
const PING: &str = "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)";

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
    /// Identifies this store's connections in each thread's cache; see [`read_inline`].
    identity: Arc<PathBuf>,
    generations: Arc<Generations>,
    /// `None` when configured with no room for entries.
    cache: Option<ReadCache>,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Up to `cached_users` answers to point reads are kept in memory.
    pub async fn open(path: &Path, cached_users: usize) -> anyhow::Result<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, cached_users)).await?
    }

    fn open_blocking(path: PathBuf, cached_users: usize) -> anyhow::Result<Self> {
        let mut writer = open_connection(&path, OpenFlags::SQLITE_OPEN_CREATE)
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| writer.pragma_update(None, "synchronous", "FULL"))
            .with_context(|| format!("cannot switch {} to WAL mode", path.display()))?;
        migrations()
            .to_latest(&mut writer)
            .with_context(|| format!("cannot migrate the schema of {}", path.display()))?;

        let generations = Arc::new(Generations::open(&path)?);
        generations.advance_all();

        let (jobs, queue) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let writer_generations = generations.clone();
        let writer_thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(writer, &writer_generations, queue))
            .context("cannot start the SQLite writer thread")?;
        Ok(Self {
            identity: Arc::new(path),
            generations,
            cache: (cached_users > 0).then(|| ReadCache::new(cached_users)),
            writer: Mutex::new(Some(jobs)),
            writer_thread: Mutex::new(Some(writer_thread)),
        })
    }

    /// Runs a short query inline, falling back to a blocking thread if it would have to wait.
    async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        match read_inline(&self.identity, &query) {
            Err(error) if is_busy(&error) => self.read_blocking(query).await,
            result => result.map_err(classify),
        }
    }

    /// Runs a query on a blocking thread, on a fresh connection that may wait for locks.
    async fn read_blocking<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let path = self.identity.clone();
        tokio::task::spawn_blocking(move || {
            let connection = open_reader(&path, BUSY_TIMEOUT)?;
            query(&connection)
        })
        .await
        .map_err(StoreError::failed)?
        .map_err(classify)
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

fn open_connection(path: &Path, extra: OpenFlags) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

fn open_reader(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let connection = open_connection(path, OpenFlags::empty())?;
    connection.busy_timeout(busy_timeout)?;
    connection.pragma_update(None, "query_only", true)?;
    Ok(connection)
}

thread_local! {
    /// Each thread's read connections, one per open store. A store is known by its `Arc`;
    /// entries whose store is gone are dropped the next time the thread opens a connection.
    static INLINE_READERS: RefCell<Vec<(Weak<PathBuf>, Connection)>> = const { RefCell::new(Vec::new()) };
}

fn read_inline<T>(
    identity: &Arc<PathBuf>,
    query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    INLINE_READERS.with_borrow_mut(|readers| {
        let position = readers
            .iter()
            .position(|(owner, _)| Weak::as_ptr(owner) == Arc::as_ptr(identity));
        let index = match position {
            Some(index) => index,
            None => {
                readers.retain(|(owner, _)| owner.strong_count() > 0);
                readers.push((
                    Arc::downgrade(identity),
                    open_reader(identity, Duration::ZERO)?,
                ));
                readers.len() - 1
            }
        };
        query(&readers[index].1)
    })
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
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
        let key = username.as_str();
        let cached = self
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&self.generations, key));
        if let Some(birth_date) = cached {
            return Ok(birth_date);
        }
        let ticket = ReadCache::ticket(&self.generations, key);
        let owned_key = key.to_owned();
        let stored = self
            .read(move |conn| {
                conn.prepare_cached(SELECT_ONE)?
                    .query_row([&owned_key], |row| row.get::<_, String>(0))
                    .optional()
            })
            .await?;
        let birth_date = stored.as_deref().map(decode_birth_date).transpose()?;
        if let Some(cache) = &self.cache {
            cache.insert(key, ticket, birth_date);
        }
        Ok(birth_date)
    }

    async fn all(&self) -> Result<Vec<User>, StoreError> {
        let rows = self
            .read_blocking(|conn| {
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
        self.read(|conn| conn.query_row(PING, [], |_| Ok(()))).await
    }

    async fn close(&self) {
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
        .any(is_busy);
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

fn run_writer(
    mut connection: Connection,
    generations: &Generations,
    mut queue: mpsc::Receiver<WriteJob>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut rows = first.rows.len();
        let mut group = vec![first];
        while rows < MAX_ROWS_PER_COMMIT {
            let Ok(job) = queue.try_recv() else { break };
            rows += job.rows.len();
            group.push(job);
        }
        let outcome = commit(&mut connection, &group).map_err(Arc::new);
        // Even a failed commit may have landed (an I/O error after the WAL was written).
        for (username, _) in group.iter().flat_map(|job| &job.rows) {
            generations.advance(username);
        }
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
