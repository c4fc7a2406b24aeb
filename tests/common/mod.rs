//! Helpers shared by the integration tests. Each test binary uses a different subset.
#![allow(dead_code)]

pub mod dynamodb;
pub mod server;

use std::sync::Arc;

use chrono::NaiveDate;
use hello_birthday::clock::FixedClock;
use hello_birthday::config::DatabaseUrl;
use hello_birthday::domain::IsoDate;
use hello_birthday::store::{self, Missing, UserStore};
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
/// opened the way the binary opens it (instrumented).
pub async fn sqlite_store() -> (Arc<dyn UserStore>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = DatabaseUrl::Sqlite(dir.path().join("test.db"));
    (store::open(&url, 1000).await.expect("open SQLite"), dir)
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
        let url = DatabaseUrl::Sqlite(database.path());
        store::open_for_bulk(&url, Missing::Create)
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
