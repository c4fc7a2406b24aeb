use std::time::Instant;

use async_trait::async_trait;

use super::{StoreError, User, UserStore};
use crate::domain::{BirthDate, Username};

/// Wraps any store with latency and error metrics, so every backend reports the same series.
pub struct Instrumented {
    inner: Box<dyn UserStore>,
}

impl Instrumented {
    pub fn new(inner: Box<dyn UserStore>) -> Self {
        Self { inner }
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = call.await;
        let backend = self.inner.backend();
        metrics::histogram!("store_operation_duration_seconds", "backend" => backend, "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        if let Err(error) = &result {
            metrics::counter!("store_operation_errors_total", "backend" => backend, "operation" => operation, "kind" => error.kind())
                .increment(1);
        }
        result
    }
}

#[async_trait]
impl UserStore for Instrumented {
    async fn put(&self, user: &User) -> Result<(), StoreError> {
        self.observe("put", self.inner.put(user)).await
    }

    async fn put_many(&self, users: &[User]) -> Result<(), StoreError> {
        self.observe("put_many", self.inner.put_many(users)).await
    }

    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError> {
        self.observe("get", self.inner.get(username)).await
    }

    async fn all(&self) -> Result<Vec<User>, StoreError> {
        self.observe("all", self.inner.all()).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.observe("ping", self.inner.ping()).await
    }

    async fn close(&self) {
        self.inner.close().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}
