use std::sync::OnceLock;
use std::time::Instant;

use async_trait::async_trait;
use metrics::Histogram;

use super::{Health, StoreError, User, UserPages, UserScan, UserStore};
use crate::domain::{BirthDate, Username};

/// Wraps any store with latency and error metrics, so every backend reports the same series.
pub struct Instrumented {
    inner: Box<dyn UserStore>,
    /// Looked up once rather than per call, and on first use rather than at construction:
    /// stores are opened before the metrics recorder is installed.
    latency: OnceLock<Latency>,
}

/// One latency histogram per operation.
struct Latency {
    put: Histogram,
    put_many: Histogram,
    get: Histogram,
}

impl Latency {
    fn register(backend: &'static str) -> Self {
        let histogram = |operation: &'static str| metrics::histogram!("store_operation_duration_seconds", "backend" => backend, "operation" => operation);
        Self {
            put: histogram("put"),
            put_many: histogram("put_many"),
            get: histogram("get"),
        }
    }
}

impl Instrumented {
    pub fn new(inner: Box<dyn UserStore>) -> Self {
        Self {
            inner,
            latency: OnceLock::new(),
        }
    }

    fn latency(&self) -> &Latency {
        self.latency
            .get_or_init(|| Latency::register(self.inner.backend()))
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        latency: &Histogram,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        latency.record(started.elapsed().as_secs_f64());
        if let Err(error) = &result {
            let backend = self.inner.backend();
            metrics::counter!("store_operation_errors_total", "backend" => backend, "operation" => operation, "kind" => error.kind())
                .increment(1);
        }
        result
    }
}

impl UserScan for Instrumented {
    fn scan(&self) -> UserPages<'_> {
        self.inner.scan()
    }
}

#[async_trait]
impl UserStore for Instrumented {
    async fn put(&self, user: &User) -> Result<(), StoreError> {
        self.observe("put", &self.latency().put, self.inner.put(user))
            .await
    }

    async fn put_many(&self, users: &[User]) -> Result<(), StoreError> {
        self.observe(
            "put_many",
            &self.latency().put_many,
            self.inner.put_many(users),
        )
        .await
    }

    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError> {
        self.observe("get", &self.latency().get, self.inner.get(username))
            .await
    }

    fn health(&self) -> Health {
        self.inner.health()
    }

    async fn close(&self) {
        self.inner.close().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn import_batch_size(&self) -> usize {
        self.inner.import_batch_size()
    }
}
