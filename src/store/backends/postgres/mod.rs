//! The store for every other cloud and any Kubernetes: one PostgreSQL table, reached through a
//! bounded pool of connections to whichever host of the URL is the primary now.
//!
//! [`url`] parses the URL, [`flags`] adds what comes from flags, [`tls`] sets up rustls by `sslmode`, [`connect`] opens connections
//! (host by host, each within a timeout), [`classify`] sorts failures into "retry later" and
//! "broken", [`schema`] creates and checks the table, [`group_commit`] lets the PUTs that arrive
//! together share one statement and one commit, and [`sql`] holds every statement.
//!
//! Every operation runs within a deadline, waiting for a connection included, so a slow or
//! frozen server gives a 503 well within the request timeout. A connection that failed with a
//! transient error is closed, never handed to the next request; if it had been idle in the
//! pool and the server behind it is gone (a failover), the operation is retried once on a new
//! connection, which finds the new primary.
//!
//! Readiness, as with DynamoDB, follows the store's own recent results: every success is
//! recorded, and a background probe (the GET statement, for a key no user can have) runs only
//! when nothing has succeeded lately ([`Freshness`]). It also reports the pool's use, into
//! the registry the store was opened with.

mod classify;
mod connect;
mod flags;
mod group_commit;
mod schema;
mod sql;
mod tls;
mod url;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use chrono::NaiveDate;
use deadpool::managed::{Object, PoolError};
use futures_util::stream::FuturesUnordered;
use futures_util::{StreamExt, TryStreamExt};
use metrics::{Counter, Gauge};
use tokio_postgres::Row;

use self::classify::Failure;
use self::connect::{Connection, Connector, Profile, chain};
use self::group_commit::{Queue, Start};
use self::schema::{Found, Migrated};
use super::freshness::Freshness;
use crate::domain::{BirthDate, IsoDate, Username};
use crate::store::{
    Backend, Health, Purpose, StoreError, StoreOptions, User, UserPages, UserScan, UserStore,
};
use crate::telemetry::Metrics;

pub use self::flags::{DEFAULT_POOL_SIZE, PostgresArgs};
pub use self::url::{ALIAS, PostgresUrl};
/// Users per `put_many` in an import, as SQLite's: a few MB in flight.
const IMPORT_BATCH: usize = 50_000;
/// Users per statement within a `put_many`, and statements in flight at once: each is one
/// server process's work, and two keep both cores of a small server busy.
const WRITE_CHUNK: usize = 10_000;
const WRITE_CONCURRENCY: usize = 2;

/// How long `serve` waits at start for the schema (a `create-table` started at the same
/// moment may still be running).
const STARTUP_PATIENCE: Duration = Duration::from_secs(5);
const STARTUP_RETRY: Duration = Duration::from_millis(200);

type Pool = deadpool::managed::Pool<Connector>;
type Pooled = Object<Connector>;

impl Backend for PostgresUrl {
    const SCHEME: &'static str = "postgres";
    const FORM: &'static str = "USER@HOST[:PORT][,HOST2[:PORT]...]/DATABASE";

    async fn open(&self, options: StoreOptions) -> anyhow::Result<Box<dyn UserStore>> {
        let store = PostgresStore::connect(self, options.purpose, options.metrics.as_ref()).await?;
        Ok(Box::new(store))
    }

    async fn open_read_only(&self) -> anyhow::Result<Box<dyn UserScan>> {
        Ok(Box::new(
            PostgresStore::connect(self, Purpose::Bulk, None).await?,
        ))
    }

    async fn create(&self) -> anyhow::Result<String> {
        let target = format!("{}://{self}", Self::SCHEME);
        Ok(match PostgresStore::create_table(self).await? {
            Migrated::Yes => format!("created the schema in {target}"),
            Migrated::AlreadyCurrent => format!("{target} is ready"),
        })
    }
}

pub struct PostgresStore {
    shared: Arc<Shared>,
    /// The background probe of a serving store, stopped with the store.
    prober: Option<tokio::task::AbortHandle>,
}

/// What the store and its probe share.
struct Shared {
    pool: Pool,
    freshness: Freshness,
    gauges: PoolMetrics,
    /// PUTs waiting for a statement to carry them.
    writes: Queue,
    /// The URL with its password hidden, for messages.
    target: String,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(prober) = &self.prober {
            prober.abort();
        }
    }
}

impl PostgresStore {
    /// Opens a pool on `url` and checks the schema. For `serve`, a schema that is not there
    /// yet is waited for a few seconds (a `create-table` started at the same moment); then a
    /// missing schema, a wrong password or a certificate that does not verify stop the
    /// process, while a server that cannot be reached only leaves it not ready until it can
    /// be. Batch jobs need the server and the schema at once.
    async fn connect(
        url: &PostgresUrl,
        purpose: Purpose,
        metrics: Option<&Metrics>,
    ) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared::new(url, purpose, metrics)?);
        let patience = match purpose {
            Purpose::Serve => STARTUP_PATIENCE,
            Purpose::Bulk => Duration::ZERO,
        };
        match shared.check_schema(patience).await? {
            Reached::Yes => shared.freshness.succeeded_at(Instant::now()),
            Reached::No(error) if purpose == Purpose::Serve => tracing::warn!(
                database = %shared.target,
                error = %error,
                "PostgreSQL cannot be reached yet: serving, not ready until it can"
            ),
            Reached::No(error) => {
                return Err(anyhow::Error::new(error))
                    .with_context(|| format!("cannot open {}", shared.target));
            }
        }
        let prober = (purpose == Purpose::Serve)
            .then(|| tokio::spawn(Probe(shared.clone()).run()).abort_handle());
        Ok(Self { shared, prober })
    }

    /// Creates the table, or brings it to this build's version; safe to run many at once.
    async fn create_table(url: &PostgresUrl) -> anyhow::Result<Migrated> {
        let shared = Shared::new(url, Purpose::Bulk, None)?;
        let mut client = shared
            .pool
            .manager()
            .session()
            .await
            .with_context(|| format!("cannot open {}", shared.target))?;
        schema::migrate(&mut client)
            .await
            .map_err(|e| anyhow::anyhow!("{}", chain(e.as_ref())))
            .with_context(|| format!("cannot create the schema in {}", shared.target))
    }
}

/// Whether the server answered at start.
enum Reached {
    Yes,
    No(connect::ConnectError),
}

impl Shared {
    fn new(url: &PostgresUrl, purpose: Purpose, metrics: Option<&Metrics>) -> anyhow::Result<Self> {
        let profile = Profile::for_purpose(purpose, url.connect_timeout());
        let tls = tls::connector(url)?;
        let size = url.pool_size().unwrap_or(DEFAULT_POOL_SIZE).get();
        let pool = Pool::builder(Connector::new(url.clone(), tls, profile))
            .max_size(size)
            .build()
            .context("cannot set up the PostgreSQL connection pool")?;
        let gauges = metrics.map_or_else(PoolMetrics::unrecorded, PoolMetrics::register);
        gauges.max_connections.set(size as f64);
        let statements = metrics.map_or_else(Counter::noop, |metrics| {
            metrics.counter("store_write_statements_total", &[("backend", "postgres")])
        });
        Ok(Self {
            pool,
            writes: Queue::new(size, statements),
            freshness: Freshness::new(
                "PostgreSQL reads and writes have stopped succeeding",
                "no PostgreSQL read or write has succeeded yet",
            ),
            gauges,
            target: format!("{}://{url}", PostgresUrl::SCHEME),
        })
    }

    fn profile(&self) -> &Profile {
        self.pool.manager().profile()
    }

    /// Connects and reads the schema's version, trying again for up to `patience` while the
    /// schema is not there yet.
    async fn check_schema(&self, patience: Duration) -> anyhow::Result<Reached> {
        let give_up = Instant::now() + patience;
        loop {
            let out_of_time = Instant::now() >= give_up;
            let client = match self.pool.manager().session().await {
                Ok(client) => client,
                Err(error) if error.is_misconfiguration() => {
                    return Err(anyhow::Error::new(error))
                        .with_context(|| format!("cannot open {}", self.target));
                }
                // Waiting would only delay the start: the probe takes over from here.
                Err(error) => return Ok(Reached::No(error)),
            };
            let found = schema::found(&client)
                .await
                .map_err(|e| anyhow::anyhow!("{}", chain(&e)))
                .with_context(|| format!("cannot read the schema version in {}", self.target))?;
            match found {
                found if found.is_usable() => return Ok(Reached::Yes),
                Found::Foreign => anyhow::bail!(
                    "{}: a table `users` exists that hello-birthday did not create",
                    self.target
                ),
                found if out_of_time => anyhow::bail!("{}", self.no_schema(found)),
                _ => tokio::time::sleep(STARTUP_RETRY).await,
            }
        }
    }

    fn no_schema(&self, found: Found) -> String {
        let what = match found {
            Found::Version(version) => {
                format!(
                    "schema version {version}, and this build needs {}",
                    schema::CURRENT
                )
            }
            _ => "no hello-birthday schema (no table `users` on the search path)".to_owned(),
        };
        format!(
            "{} has {what}: run `hello-birthday create-table` with the migration role first (docs/postgres.md)",
            self.target
        )
    }

    /// Sends `request` on a pooled connection within the operation's deadline, retrying once
    /// on a new connection if a pooled one turned out to lead to a server that is gone.
    async fn run(&self, request: Request<'_>) -> Result<Option<Row>, StoreError> {
        let operation = request.operation();
        let deadline = Instant::now() + self.profile().deadline;
        let mut retried = false;
        loop {
            let connection = self.checkout(operation, deadline).await?;
            let reused = Object::metrics(&connection).recycle_count > 0;
            match tokio::time::timeout_at(deadline.into(), request.send(&connection)).await {
                Ok(Ok(answer)) => {
                    self.freshness.succeeded_at(Instant::now());
                    return Ok(answer);
                }
                Ok(Err(error)) => {
                    let failure = Failure::classify(operation, error);
                    if failure.transient {
                        drop(Object::take(connection));
                    }
                    if failure.retry_elsewhere && reused && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(failure.error);
                }
                Err(_) => {
                    drop(Object::take(connection));
                    return Err(StoreError::unavailable(TimedOut {
                        operation,
                        after: self.profile().deadline,
                    }));
                }
            }
        }
    }

    /// Writes `user` in the next statement a writer sends ([`group_commit`]), and returns once
    /// that statement is committed, or when the operation's deadline has passed.
    async fn put(self: &Arc<Self>, user: &User) -> Result<(), StoreError> {
        let (outcome, start) = self.writes.push(user.clone());
        if let Start::Writer = start {
            Writer::start(self.clone());
        }
        let deadline = self.profile().deadline;
        match tokio::time::timeout(deadline, outcome).await {
            Ok(Ok(outcome)) => outcome.map_err(StoreError::from),
            Ok(Err(_)) => Err(StoreError::failed(
                "PostgreSQL put: the writer carrying it ended without an answer",
            )),
            Err(_) => Err(StoreError::unavailable(TimedOut {
                operation: "put",
                after: deadline,
            })),
        }
    }

    /// A connection from the pool, or a new one, before `deadline`.
    async fn checkout(
        &self,
        operation: &'static str,
        deadline: Instant,
    ) -> Result<Pooled, StoreError> {
        let status = self.pool.status();
        if status.available == 0 && status.size >= status.max_size {
            self.gauges.waits.increment(1);
        }
        match tokio::time::timeout_at(deadline.into(), self.pool.get()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(PoolError::Backend(error))) => {
                // A missing table or grant is a fault to fix, not an outage to wait out.
                let broken = error
                    .database_error()
                    .is_some_and(|db| db.code().code().starts_with("42"));
                let error = anyhow::Error::new(error).context(format!("PostgreSQL {operation}"));
                Err(if broken {
                    StoreError::failed(error)
                } else {
                    StoreError::unavailable(error)
                })
            }
            Ok(Err(other)) => Err(StoreError::unavailable(other.to_string())),
            Err(_) => {
                self.gauges.timeouts.increment(1);
                Err(StoreError::unavailable(TimedOut {
                    operation,
                    after: self.profile().deadline,
                }))
            }
        }
    }

    /// The pool's use now, as gauges.
    fn report_pool(&self) {
        let status = self.pool.status();
        self.gauges
            .in_use
            .set((status.size - status.available) as f64);
        self.gauges.idle.set(status.available as f64);
        self.gauges.waiting.set(status.waiting as f64);
    }
}

/// The pool's series, registered once when the store is opened.
struct PoolMetrics {
    in_use: Gauge,
    idle: Gauge,
    max_connections: Gauge,
    waiting: Gauge,
    waits: Counter,
    timeouts: Counter,
}

impl PoolMetrics {
    fn register(metrics: &Metrics) -> Self {
        let backend = [("backend", "postgres")];
        let connections = |state| {
            metrics.gauge(
                "store_pool_connections",
                &[("backend", "postgres"), ("state", state)],
            )
        };
        Self {
            in_use: connections("in_use"),
            idle: connections("idle"),
            max_connections: metrics.gauge("store_pool_max_connections", &backend),
            waiting: metrics.gauge("store_pool_waiting", &backend),
            waits: metrics.counter("store_pool_waits_total", &backend),
            timeouts: metrics.counter("store_pool_timeouts_total", &backend),
        }
    }

    /// For a batch job: counted nowhere.
    fn unrecorded() -> Self {
        Self {
            in_use: Gauge::noop(),
            idle: Gauge::noop(),
            max_connections: Gauge::noop(),
            waiting: Gauge::noop(),
            waits: Counter::noop(),
            timeouts: Counter::noop(),
        }
    }
}

/// What the store asks of the server: one statement each.
enum Request<'a> {
    Get(&'a str),
    /// Users to create or replace, each name once: the operation's name ("put" for the
    /// service's writes, "put_many" for an import's), names, and dates in the same order.
    Put(&'static str, &'a [&'a str], &'a [NaiveDate]),
    Probe,
}

impl Request<'_> {
    fn operation(&self) -> &'static str {
        match self {
            Self::Get(_) => "get",
            Self::Put(operation, ..) => operation,
            Self::Probe => "readiness probe",
        }
    }

    /// The row a read found; nothing for a write.
    async fn send(&self, connection: &Connection) -> Result<Option<Row>, tokio_postgres::Error> {
        let client = &connection.client;
        match self {
            Self::Get(name) => client.query_opt(&connection.get, &[name]).await,
            Self::Probe => client.query_opt(&connection.get, &[&sql::PROBE_KEY]).await,
            Self::Put(_, names, dates) => client
                .execute(&connection.put, &[names, dates])
                .await
                .map(|_| None),
        }
    }
}

/// An operation that ran out of time: the server is slow, frozen or unreachable.
#[derive(Debug)]
struct TimedOut {
    operation: &'static str,
    after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PostgreSQL {}: no answer within {:?}",
            self.operation, self.after
        )
    }
}

impl std::error::Error for TimedOut {}

/// Sends the queued writes, a statement at a time, until none wait.
struct Writer {
    shared: Arc<Shared>,
    /// Whether its place among the writers was given back by the queue, when it found none.
    ended: bool,
}

impl Writer {
    fn start(shared: Arc<Shared>) {
        tokio::spawn(
            Self {
                shared,
                ended: false,
            }
            .run(),
        );
    }

    async fn run(mut self) {
        while let Some(batch) = self.shared.writes.take() {
            let (names, dates) = columns(&last_write_wins(batch.iter().map(|w| &w.user)));
            // Boxed: the statement's future is large, and the writer's own, copied more than
            // once as it is spawned, is then only a pointer to it.
            let outcome = Box::pin(self.shared.run(Request::Put("put", &names, &dates))).await;
            let outcome = outcome.map(drop).map_err(group_commit::Failed::from);
            for waiting in batch {
                waiting.finish(outcome.clone());
            }
        }
        self.ended = true;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.writes.abandon();
        }
    }
}

/// Reads the sentinel key whenever nothing else has succeeded lately.
struct Probe(Arc<Shared>);

impl Probe {
    async fn run(self) {
        loop {
            let due = self.0.freshness.probe_due().await;
            self.0.report_pool();
            if due {
                self.run_once().await;
            }
        }
    }

    async fn run_once(&self) {
        let probed = self.0.run(Request::Probe).await;
        if let Err(error) = probed {
            tracing::warn!(
                database = %self.0.target,
                error = %chain(&error),
                "readiness probe: PostgreSQL failed"
            );
        }
    }
}

fn birth_date(date: NaiveDate) -> Result<BirthDate, StoreError> {
    IsoDate::from_naive(date)
        .map(BirthDate::recorded)
        .map_err(|e| StoreError::failed(format!("stored date {date} cannot be served: {e}")))
}

fn decode(row: &Row) -> Result<User, StoreError> {
    let name: &str = row.get(0);
    let username = Username::parse(name)
        .map_err(|e| StoreError::failed(format!("stored username {name:?} is invalid: {e}")))?;
    Ok(User {
        username,
        birth_date: birth_date(row.get(1))?,
    })
}

/// One user per name, the last of each: Postgres refuses a statement that updates a row
/// twice. In username order, so each statement walks the primary key's B-tree once, and two
/// statements in flight at once lock the rows they share in the same order (no deadlock).
fn last_write_wins<'a>(users: impl IntoIterator<Item = &'a User>) -> Vec<&'a User> {
    let mut sorted: Vec<&User> = users.into_iter().collect();
    // Stable: of equal names, the last written stays last.
    sorted.sort_by(|a, b| a.username.cmp(&b.username));
    let mut unique: Vec<&User> = Vec::with_capacity(sorted.len());
    for user in sorted {
        match unique.last_mut() {
            Some(last) if last.username == user.username => *last = user,
            _ => unique.push(user),
        }
    }
    unique
}

/// A statement's parameters: the names, and the dates in the same order.
fn columns<'a>(users: &[&'a User]) -> (Vec<&'a str>, Vec<NaiveDate>) {
    users
        .iter()
        .map(|u| (u.username.as_str(), u.birth_date.as_naive()))
        .unzip()
}

/// The connection of an export, inside its snapshot transaction. Dropped before the end
/// (an error, or a reader that stopped), it is closed rather than handed back to the pool
/// with the transaction still open.
struct Snapshot(Option<Pooled>);

impl Snapshot {
    async fn open(shared: &Shared) -> Result<Self, StoreError> {
        let connection = shared
            .checkout("export", Instant::now() + shared.profile().deadline)
            .await?;
        let snapshot = Self(Some(connection));
        snapshot
            .client()
            .batch_execute(&format!("{}; {}", sql::BEGIN_SNAPSHOT, sql::DECLARE_EXPORT))
            .await
            .map_err(|e| Failure::classify("export", e).error)?;
        Ok(snapshot)
    }

    fn client(&self) -> &tokio_postgres::Client {
        &self.0.as_ref().expect("open until finished").client
    }

    /// The next page, empty at the end.
    async fn next_page(&self) -> Result<Vec<User>, StoreError> {
        let rows = self
            .client()
            .query(sql::FETCH_EXPORT, &[])
            .await
            .map_err(|e| Failure::classify("export", e).error)?;
        rows.iter().map(decode).collect()
    }

    /// Ends the transaction and hands the connection back.
    async fn finish(mut self) -> Result<(), StoreError> {
        self.client()
            .batch_execute(sql::END_SNAPSHOT)
            .await
            .map_err(|e| Failure::classify("export", e).error)?;
        self.0.take();
        Ok(())
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(Object::take(connection));
        }
    }
}

impl UserScan for PostgresStore {
    /// Every user in username order, one snapshot, 1 000 per page through a server-side
    /// cursor: memory holds one page whatever the table's size.
    fn scan(&self) -> UserPages<'_> {
        enum Step {
            Start,
            Reading(Box<Snapshot>),
            Done,
        }
        futures_util::stream::unfold(Step::Start, move |step| async move {
            let snapshot = match step {
                Step::Done => return None,
                Step::Start => match Snapshot::open(&self.shared).await {
                    Ok(snapshot) => Box::new(snapshot),
                    Err(error) => return Some((Err(error), Step::Done)),
                },
                Step::Reading(snapshot) => snapshot,
            };
            match snapshot.next_page().await {
                Ok(page) if page.is_empty() => match snapshot.finish().await {
                    Ok(()) => None,
                    Err(error) => Some((Err(error), Step::Done)),
                },
                Ok(page) => {
                    self.shared.freshness.succeeded_at(Instant::now());
                    Some((Ok(page), Step::Reading(snapshot)))
                }
                Err(error) => Some((Err(error), Step::Done)),
            }
        })
        .boxed()
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn put(&self, user: &User) -> Result<(), StoreError> {
        self.shared.put(user).await
    }

    async fn put_many(&self, users: &[User]) -> Result<(), StoreError> {
        let statements: Vec<(Vec<&str>, Vec<NaiveDate>)> = last_write_wins(users)
            .chunks(WRITE_CHUNK)
            .map(columns)
            .collect();
        // No closure over the statements: `async_trait`'s `Send` future cannot name the
        // lifetimes a closure's argument would need.
        let mut in_flight = FuturesUnordered::new();
        for (names, dates) in &statements {
            if in_flight.len() == WRITE_CONCURRENCY {
                in_flight.try_next().await?;
            }
            in_flight.push(self.shared.run(Request::Put("put_many", names, dates)));
        }
        while in_flight.try_next().await?.is_some() {}
        Ok(())
    }

    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError> {
        let row = self.shared.run(Request::Get(username.as_str())).await?;
        row.map(|row| birth_date(row.get(0))).transpose()
    }

    fn health(&self) -> Health {
        self.shared.freshness.health_at(Instant::now())
    }

    async fn close(&self) {
        // Every write was committed before `put` returned; nothing is buffered.
        if let Some(prober) = &self.prober {
            prober.abort();
        }
        self.shared.pool.close();
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn import_batch_size(&self) -> usize {
        IMPORT_BATCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_the_last_write_of_each_name_in_name_order() {
        let users = [
            User::valid("zed", "1990-01-01"),
            User::valid("amy", "1991-01-01"),
            User::valid("zed", "1992-01-01"),
            User::valid("amy", "1993-01-01"),
            User::valid("bob", "1994-01-01"),
        ];
        let unique = last_write_wins(&users);
        assert_eq!(unique, [&users[3], &users[4], &users[2]]);
    }

    #[test]
    fn dates_a_year_zero_to_9999_read_back_and_others_are_refused() {
        for text in ["0000-01-01", "1990-05-01", "9999-12-31"] {
            let date = IsoDate::parse(text).unwrap().as_naive();
            assert_eq!(birth_date(date).unwrap().to_string(), text);
        }
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert!(matches!(birth_date(far), Err(StoreError::Failed(_))));
    }
}
