//! Helpers shared by the integration tests: fixtures per backend, the binary, names and dates.

pub mod dynamodb;
mod names;
pub mod server;

pub use names::nth_name;

use std::sync::Arc;

use chrono::NaiveDate;
use hello_birthday::clock::FixedClock;
use hello_birthday::domain::IsoDate;
use hello_birthday::store::{self, DatabaseUrl, Missing, StoreOptions, UserStore};
use tempfile::TempDir;

pub fn date(text: &str) -> NaiveDate {
    IsoDate::parse(text)
        .expect("test dates are valid")
        .as_naive()
}

pub fn clock(today: &str) -> Arc<FixedClock> {
    Arc::new(FixedClock(date(today)))
}

/// A SQLite store in a fresh temporary directory, removed when the `TempDir` is dropped,
/// opened the way the binary opens it to serve.
pub async fn sqlite_store() -> (Box<dyn UserStore>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir.path().join("test.db"));
    let options = StoreOptions::serve();
    (store::open(&url, options).await.expect("open SQLite"), dir)
}

/// `sqlite://PATH` for a file of a test's own.
pub fn sqlite_url(path: &std::path::Path) -> DatabaseUrl {
    format!("sqlite://{}", path.display())
        .parse()
        .expect("a plain path is a SQLite URL")
}

/// A database the real binary can be pointed at, fresh for each test.
pub trait TestDatabase: Send + Sync {
    /// The `--database-url` to pass.
    fn url(&self) -> String;
    /// Extra environment the binary needs to reach it.
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

pub struct SqliteDatabase {
    dir: TempDir,
}

impl SqliteDatabase {
    /// An empty database, created as `create-table` creates it (`import` never creates one).
    pub async fn fresh() -> Self {
        let database = Self::not_created();
        store::open(
            &sqlite_url(&database.path()),
            StoreOptions::bulk(Missing::Create),
        )
        .await
        .expect("create SQLite database")
        .close()
        .await;
        database
    }

    /// Only an empty directory: the database file does not exist yet.
    pub fn not_created() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("test.db")
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl TestDatabase for SqliteDatabase {
    fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }
}

/// A store backend as the tests see it: how to get a fresh, empty one of each kind.
pub trait Backend {
    /// For the real binary: a `--database-url` and its environment.
    async fn database() -> Box<dyn TestDatabase>;
    /// In-process, opened as the binary opens it; the second value keeps it alive.
    async fn store() -> (Arc<dyn UserStore>, Box<dyn Send>);
}

pub struct Sqlite;
pub struct DynamoDb;

impl Backend for Sqlite {
    async fn database() -> Box<dyn TestDatabase> {
        Box::new(SqliteDatabase::fresh().await)
    }

    async fn store() -> (Arc<dyn UserStore>, Box<dyn Send>) {
        let (store, dir) = sqlite_store().await;
        (Arc::from(store), Box::new(dir))
    }
}

impl Backend for DynamoDb {
    async fn database() -> Box<dyn TestDatabase> {
        Box::new(dynamodb::DynamoDbDatabase::fresh().await)
    }

    async fn store() -> (Arc<dyn UserStore>, Box<dyn Send>) {
        let (store, table) = dynamodb::fresh_store().await;
        (store, Box::new(table))
    }
}

/// Instantiates scenarios once per backend, as `sqlite::NAME` and `dynamodb::NAME`, by how
/// they take their fixture:
/// - `database:` a fresh `&dyn TestDatabase`, for the real binary;
/// - `store:` a fresh `&dyn UserStore` opened in-process, closed afterwards;
/// - `backend:` the [`Backend`] as a type parameter, for scenarios that need several fixtures.
macro_rules! per_backend {
    ($($fixture:ident: [$($test:ident),+ $(,)?]),+ $(,)?) => {
        mod sqlite {
            $( per_backend!(@tests Sqlite, $fixture, $($test),+); )+
        }
        mod dynamodb {
            $( per_backend!(@tests DynamoDb, $fixture, $($test),+); )+
        }
    };
    (@tests $backend:ident, database, $($test:ident),+) => {
        $(
            #[tokio::test]
            async fn $test() {
                use $crate::common::Backend as _;
                let database = $crate::common::$backend::database().await;
                super::$test(database.as_ref()).await;
            }
        )+
    };
    (@tests $backend:ident, store, $($test:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                use $crate::common::Backend as _;
                let (store, _keep) = $crate::common::$backend::store().await;
                super::$test(store.as_ref()).await;
                store.close().await;
            }
        )+
    };
    (@tests $backend:ident, backend, $($test:ident),+) => {
        $(
            #[tokio::test]
            async fn $test() {
                super::$test::<$crate::common::$backend>().await;
            }
        )+
    };
}
