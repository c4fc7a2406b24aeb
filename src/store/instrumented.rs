use std::time::Instant;

use async_trait::async_trait;
use metrics::{Counter, Histogram};

use super::{Health, StoreError, User, UserPages, UserScan, UserStore};
use crate::domain::{BirthDate, Username};
use crate::telemetry::Metrics;

/// Wraps any store with latency and error metrics, so every backend reports the same series.
pub struct Instrumented {
    inner: Box<dyn UserStore>,
    put: Operation,
    put_many: Operation,
    get: Operation,
}

/// The series of one operation, registered once when the store is wrapped; errors are
/// counted by kind, `unavailable` or `failed` as [`StoreError`] has them.
struct Operation {
    latency: Histogram,
    unavailable: Counter,
    failed: Counter,
}

impl Operation {
    fn register(metrics: &Metrics, backend: &'static str, operation: &'static str) -> Self {
        let labels = [("backend", backend), ("operation", operation)];
        let errors = |kind| {
            let labels = [
                ("backend", backend),
                ("operation", operation),
                ("kind", kind),
            ];
            metrics.counter("store_operation_errors_total", &labels)
        };
        Self {
            latency: metrics.histogram("store_operation_duration_seconds", &labels),
            unavailable: errors("unavailable"),
            failed: errors("failed"),
        }
    }

    async fn observe<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        self.latency.record(started.elapsed().as_secs_f64());
        match &result {
            Err(StoreError::Unavailable(_)) => self.unavailable.increment(1),
            Err(StoreError::Failed(_)) => self.failed.increment(1),
            Ok(_) => {}
        }
        result
    }
}

impl Instrumented {
    /// `inner`, recording into `metrics`.
    pub fn new(inner: Box<dyn UserStore>, metrics: &Metrics) -> Self {
        let backend = inner.backend();
        Self {
            put: Operation::register(metrics, backend, "put"),
            put_many: Operation::register(metrics, backend, "put_many"),
            get: Operation::register(metrics, backend, "get"),
            inner,
        }
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
        self.put.observe(self.inner.put(user)).await
    }

    async fn put_many(&self, users: &[User]) -> Result<(), StoreError> {
        self.put_many.observe(self.inner.put_many(users)).await
    }

    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError> {
        self.get.observe(self.inner.get(username)).await
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
