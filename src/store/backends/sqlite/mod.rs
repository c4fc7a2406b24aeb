//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through a single writer thread that commits whatever has queued up in one
//! transaction (group commit): every acknowledged write is fsynced (`synchronous=FULL`),
//! yet concurrent writers share the cost of the fsync.
//!
//! Point reads run inline on the async worker thread, on a read-only connection taken from
//! the store's own small pool ([`Readers`]): in WAL mode a reader never waits for the writer,
//! and a primary-key lookup costs a few microseconds, far less than handing the query to a
//! blocking thread and back. Readers read the file through a memory map and never wait for a
//! lock (busy timeout 0); in the rare case one would have to (another process recovering the
//! WAL), the read is retried on a blocking thread that may wait. Scans (export) always run on
//! a blocking thread. Nothing is shared with other processes but the file itself: every read
//! sees what the file holds, whoever wrote it.
//!
//! Health is kept up to date without querying on every probe: the writer thread records when
//! it took up work and how its last commit went, and a watcher thread checks every second
//! that the path still names the file that was opened (see [`health`]).

mod health;
mod schema;
mod url;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use futures_util::StreamExt;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use self::health::{FileWatch, WriterHealth};
use crate::domain::{BirthDate, Username};
use crate::store::{
    Backend, Health, Missing, StoreError, StoreOptions, User, UserPages, UserScan, UserStore,
    decode_birth_date, updated_at_now,
};

pub use self::url::DatabaseFile;

/// How long a connection waits for another process's lock before giving up.
/// Several instances may share one file (rolling deploys on one host), so waits do happen.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Writes queued beyond this make callers wait: backpressure instead of unbounded memory.
const WRITE_QUEUE_DEPTH: usize = 1024;
/// Upper bound of rows in one group commit, so one transaction never grows without limit.
/// Also the import batch: one commit each, so 1M users cost 20 commits, and a few batches
/// waiting in the import pipeline are still only a few MB.
const MAX_ROWS_PER_COMMIT: usize = 50_000;

const UPSERT: &str = "INSERT INTO users (username, date_of_birth, updated_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (username) DO UPDATE SET date_of_birth = excluded.date_of_birth, updated_at = excluded.updated_at";
const SELECT_ONE: &str = "SELECT date_of_birth FROM users WHERE username = ?1";
/// In primary-key order: the table is `WITHOUT ROWID`, so this walks the key's B-tree and
/// sorts nothing.
const SELECT_ALL: &str = "SELECT username, date_of_birth FROM users ORDER BY username";
/// Users per page of a scan: a few hundred kB, whatever the table's size.
const SCAN_PAGE: usize = 1000;
/// Readers map up to this much of the file instead of copying pages into each connection's
/// cache: a point read then costs no `pread` (measured: 0.66 of them per GET on a 5.5 MB
/// database of 100 000 users with the default 2 MB cache). It is address space, not memory:
/// only the pages read count, and they are shared with every connection and process.
const READER_MMAP_BYTES: i64 = 256 * 1024 * 1024;

pub struct SqliteStore {
    /// The database's real path (symlinks resolved).
    path: Arc<Path>,
    readers: Readers,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    writer_health: Arc<WriterHealth>,
    file: Arc<FileWatch>,
    closed: AtomicBool,
}

impl SqliteStore {
    /// Opens the database at `path` (creating it if `options.missing` says so) and brings its
    /// schema up to date.
    pub async fn open(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, options)).await?
    }

    fn open_blocking(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        let create = match options.missing {
            Missing::Create => OpenFlags::SQLITE_OPEN_CREATE,
            Missing::Refuse => {
                ensure_exists(path)?;
                OpenFlags::empty()
            }
        };
        let mut writer = open_connection(path, create)
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        // The configured path is what operators and other processes use: the watch follows it
        // (through any symlink) so that a switched link counts as a replaced file.
        let file = Arc::new(FileWatch::start(path)?);
        // SQLite follows symlinks for its own -wal and -shm files; the readers open that same
        // real file.
        let path = std::fs::canonicalize(path)
            .with_context(|| format!("cannot resolve the path {}", path.display()))?;
        schema::prepare(&mut writer)
            .with_context(|| format!("cannot set up {}", path.display()))?;

        let writer_health = Arc::new(WriterHealth::new());
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let writer_thread = {
            let health = writer_health.clone();
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || {
                    let _exit = health.exit_guard();
                    run_writer(writer, &health, queue);
                })
                .context("cannot start the SQLite writer thread")?
        };
        Ok(Self {
            readers: Readers::new(path.clone()),
            path: path.into(),
            writer: Mutex::new(Some(jobs)),
            writer_thread: Mutex::new(Some(writer_thread)),
            writer_health,
            file,
            closed: AtomicBool::new(false),
        })
    }

    /// Asks the writer for a probe commit (see [`commit`]), so its health is known even when
    /// no one writes. Never waits: a full queue means commits are under way.
    fn probe_writer(&self) {
        if let Some(jobs) = lock(&self.writer).as_ref() {
            let (reply, _) = oneshot::channel();
            let _ = jobs.try_send(WriteJob {
                rows: Vec::new(),
                reply,
            });
        }
    }

    /// Runs a short query inline, falling back to a blocking thread if it would have to wait.
    async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        match self.readers.read(&query) {
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
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let connection = open_reader(&path, BUSY_TIMEOUT)?;
            query(&connection)
        })
        .await
        .map_err(StoreError::failed)?
        .map_err(classify)
    }

    async fn write(&self, rows: Vec<(String, String)>) -> Result<(), StoreError> {
        if self.file.replaced() {
            // The path names another file now (or none): a write to the old one would be
            // acknowledged and then lost with it.
            return Err(StoreError::unavailable(REPLACED));
        }
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

impl Backend for DatabaseFile {
    const SCHEME: &'static str = "sqlite";
    const FORM: &'static str = "PATH";

    async fn open(&self, options: StoreOptions) -> anyhow::Result<Box<dyn UserStore>> {
        Ok(Box::new(SqliteStore::open(self.path(), options).await?))
    }

    async fn open_read_only(&self) -> anyhow::Result<Box<dyn UserScan>> {
        Ok(Box::new(ReadOnlyDatabase::open(self.path()).await?))
    }

    async fn create(&self) -> anyhow::Result<String> {
        let store = SqliteStore::open(self.path(), StoreOptions::bulk(Missing::Create)).await?;
        store.close().await;
        Ok(format!("{}://{self} is ready", Self::SCHEME))
    }
}

const REPLACED: &str = "the SQLite database file was replaced or deleted while in use";

fn ensure_exists(path: &Path) -> anyhow::Result<()> {
    match path.try_exists() {
        Ok(true) => Ok(()),
        Ok(false) => anyhow::bail!(
            "no SQLite database at {}: check the path (this command never creates one)",
            path.display()
        ),
        Err(error) => Err(error).with_context(|| format!("cannot look up {}", path.display())),
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
    connection.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
    Ok(connection)
}

/// The store's idle read connections. A read takes one (or opens one when none is idle) and
/// puts it back: reads run inline and never hold one across an `await`, so there are never
/// more than the threads reading at once, and each keeps its prepared statement and page cache.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let idle = lock(&self.idle).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open_reader(&self.path, Duration::ZERO)?,
        };
        let result = query(&connection);
        lock(&self.idle).push(connection);
        result
    }
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

impl UserScan for SqliteStore {
    fn scan(&self) -> UserPages<'_> {
        let path = self.path.clone();
        scan_pages(move || open_reader(&path, BUSY_TIMEOUT))
    }
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
            .read(move |conn| {
                conn.prepare_cached(SELECT_ONE)?
                    .query_row([&key], |row| row.get::<_, String>(0))
                    .optional()
            })
            .await?;
        stored.as_deref().map(decode_birth_date).transpose()
    }

    fn health(&self) -> Health {
        if self.closed.load(Ordering::Acquire) {
            return Health::NotReady("the SQLite store is closed");
        }
        if self.file.replaced() {
            return Health::NotReady(REPLACED);
        }
        let assessment = self.writer_health.assess();
        if assessment.probe_due {
            self.probe_writer();
        }
        assessment.health
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.file.stop();
        self.stop_writer().await;
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn import_batch_size(&self) -> usize {
        MAX_ROWS_PER_COMMIT
    }
}

impl SqliteStore {
    async fn stop_writer(&self) {
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
}

/// Reads every user on a blocking thread, one read transaction (a consistent snapshot), and
/// hands them over a page at a time. At most two pages wait in the channel, so memory stays
/// flat; if the consumer goes away, the scan stops.
fn scan_pages(
    open: impl FnOnce() -> rusqlite::Result<Connection> + Send + 'static,
) -> UserPages<'static> {
    let (pages, received) = mpsc::channel::<Result<Vec<User>, StoreError>>(2);
    tokio::task::spawn_blocking(move || {
        let send = |page| pages.blocking_send(page).is_ok();
        let walk = || -> Result<(), StoreError> {
            let connection = open().map_err(classify)?;
            let mut select = connection.prepare(SELECT_ALL).map_err(classify)?;
            let mut rows = select.query([]).map_err(classify)?;
            let mut page = Vec::with_capacity(SCAN_PAGE);
            while let Some(row) = rows.next().map_err(classify)? {
                let text = |i| {
                    row.get_ref(i)
                        .and_then(|v| Ok(v.as_str()?))
                        .map_err(classify)
                };
                page.push(User::decode(text(0)?, text(1)?)?);
                if page.len() == SCAN_PAGE
                    && !send(Ok(std::mem::replace(
                        &mut page,
                        Vec::with_capacity(SCAN_PAGE),
                    )))
                {
                    return Ok(());
                }
            }
            if !page.is_empty() {
                send(Ok(page));
            }
            Ok(())
        };
        if let Err(error) = walk() {
            send(Err(error));
        }
    });
    futures_util::stream::unfold(received, |mut received| async move {
        received.recv().await.map(|page| (page, received))
    })
    .boxed()
}

/// A database opened only to be read (export): never created, never written, no writer
/// thread. Works on a read-only copy on read-only media too.
pub struct ReadOnlyDatabase {
    path: PathBuf,
    /// Read as a file nobody changes (SQLite's `immutable`): the only way to read a WAL
    /// database whose directory cannot hold the `-shm` file SQLite would otherwise create.
    immutable: bool,
}

impl ReadOnlyDatabase {
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path)).await?
    }

    fn open_blocking(path: PathBuf) -> anyhow::Result<Self> {
        ensure_exists(&path)?;
        let shared = Self {
            path,
            immutable: false,
        };
        let error = match shared.connect().and_then(|c| schema::check_readable(&c)) {
            Ok(()) => return Ok(shared),
            Err(error) => error,
        };
        // Without write access to the directory, SQLite can read a WAL database only if its
        // -shm file exists, or as immutable. Immutable ignores the -wal file, so it is safe
        // only when that file holds nothing.
        if !is_cannot_open(&error) || wal_has_content(&shared.path)? {
            return Err(error).with_context(|| {
                format!(
                    "cannot read SQLite database {} (on read-only media, copy it together with its -wal and -shm files)",
                    shared.path.display()
                )
            });
        }
        let immutable = Self {
            immutable: true,
            ..shared
        };
        immutable
            .connect()
            .and_then(|c| schema::check_readable(&c))
            .with_context(|| format!("cannot read SQLite database {}", immutable.path.display()))?;
        Ok(immutable)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mode = if self.immutable {
            "immutable=1"
        } else {
            "mode=ro"
        };
        let connection = Connection::open_with_flags(file_uri(&self.path, mode), flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        Ok(connection)
    }
}

impl UserScan for ReadOnlyDatabase {
    fn scan(&self) -> UserPages<'_> {
        let database = Self {
            path: self.path.clone(),
            immutable: self.immutable,
        };
        scan_pages(move || database.connect())
    }
}

fn is_cannot_open(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
    )
}

fn wal_has_content(database: &Path) -> anyhow::Result<bool> {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    match std::fs::metadata(&wal) {
        Ok(metadata) => Ok(metadata.len() > 0),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot look up {}", wal.display())),
    }
}

/// `file:` URI for `path` with one query parameter, escaping what URIs reserve.
fn file_uri(path: &Path, parameter: &str) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'?' | b'#' | b'%' | b' ' => uri.push_str(&format!("%{byte:02X}")),
            _ if byte.is_ascii() && !byte.is_ascii_control() => uri.push(char::from(*byte)),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri.push('?');
    uri.push_str(parameter);
    uri
}

fn encode(user: &User) -> (String, String) {
    (
        user.username.as_str().to_owned(),
        user.birth_date.to_string(),
    )
}

/// Failures that may pass are worth a retry: another process holds the file (busy, locked),
/// or the file or its disk cannot take the write now (full, an I/O error, a read-only or
/// vanished file system, a file that cannot be opened). The rest, a corrupt file or a query
/// of ours that is wrong, is a fault.
fn classify(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    let temporary = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
        .filter_map(|e| e.downcast_ref::<rusqlite::Error>())
        .any(|e| {
            is_busy(e)
                || matches!(
                    e.sqlite_error_code(),
                    Some(
                        ErrorCode::DiskFull
                            | ErrorCode::SystemIoFailure
                            | ErrorCode::ReadOnly
                            | ErrorCode::CannotOpen
                    )
                )
        });
    if temporary {
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
    health: &WriterHealth,
    mut queue: mpsc::Receiver<WriteJob>,
) {
    while let Some(first) = queue.blocking_recv() {
        health.started_work();
        let mut rows = first.rows.len();
        let mut group = vec![first];
        while rows < MAX_ROWS_PER_COMMIT {
            let Ok(job) = queue.try_recv() else { break };
            rows += job.rows.len();
            group.push(job);
        }
        let outcome = commit(&mut connection, &group).map_err(Arc::new);
        health.finished_work(outcome.as_ref().err().map(|e| e.as_ref()));
        for job in group {
            // The caller may have gone away (request timed out); the write stands regardless.
            let _ = job.reply.send(outcome.clone());
        }
    }
}

/// Commits the group's rows in one transaction. A group with no rows is a health probe, and
/// it too writes: it rewrites the schema version with the value it holds, one page through
/// the WAL and its fsync, changing nothing. An empty commit would touch no file, and so would
/// succeed on a full disk and declare writes healthy while every real one fails.
fn commit(connection: &mut Connection, group: &[WriteJob]) -> rusqlite::Result<()> {
    let updated_at = updated_at_now();
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if group.iter().all(|job| job.rows.is_empty()) {
        let version: i64 =
            transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        transaction.pragma_update(None, "user_version", version)?;
    } else {
        let mut upsert = transaction.prepare_cached(UPSERT)?;
        for (username, date_of_birth) in group.iter().flat_map(|job| &job.rows) {
            upsert.execute(params![username, date_of_birth, updated_at])?;
        }
    }
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store on a new database file in `dir`.
    async fn new_store(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(
            &dir.path().join("a.db"),
            StoreOptions::bulk(Missing::Create),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_writer_thread_that_died_while_open_breaks_liveness() {
        let dir = tempfile::tempdir().unwrap();
        let store = new_store(&dir).await;
        assert_eq!(store.health(), Health::Ready);
        // The thread ends as it would after a panic; the store itself was never closed.
        store.stop_writer().await;
        assert!(
            matches!(store.health(), Health::Broken(_)),
            "{:?}",
            store.health()
        );
    }

    #[tokio::test]
    async fn a_closed_store_is_not_ready_but_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let store = new_store(&dir).await;
        store.close().await;
        assert!(matches!(store.health(), Health::NotReady(_)));
    }

    #[tokio::test]
    async fn readers_are_read_only_and_map_the_file() {
        let dir = tempfile::tempdir().unwrap();
        new_store(&dir).await.close().await;
        let reader = open_reader(&dir.path().join("a.db"), Duration::ZERO).unwrap();
        let pragma = |name: &str| -> i64 {
            reader
                .pragma_query_value(None, name, |row| row.get(0))
                .unwrap()
        };
        assert_eq!(pragma("mmap_size"), READER_MMAP_BYTES);
        assert_eq!(pragma("query_only"), 1);
    }

    #[test]
    fn file_uris_escape_what_sqlite_would_read_as_query_or_fragment() {
        assert_eq!(
            file_uri(Path::new("/tmp/a b?c#d%e.db"), "mode=ro"),
            "file:/tmp/a%20b%3Fc%23d%25e.db?mode=ro"
        );
    }
}
