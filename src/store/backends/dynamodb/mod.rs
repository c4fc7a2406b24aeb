//! The production store: one DynamoDB table shared by every task.
//!
//! [`client`] builds the SDK client (TLS, timeouts, retries), [`item`] lays a user out as an
//! item; this module is the store. Reads are strongly consistent, so a `GET` after a `204`
//! sees the write from any task of the region (other regions' replicas catch up
//! asynchronously: docs/dynamodb.md). Region, credentials and endpoint come from the
//! standard AWS SDK chain.
//!
//! Readiness reflects the data plane only: a serving store records each successful read or
//! write, and a background probe (an eventually consistent `GetItem` of a key no user can
//! have) runs whenever nothing has succeeded lately ([`Freshness`]). The control plane
//! (`DescribeTable`) is never called on the serving path: it is rate-limited, logged as a management event, and a
//! throttle there says nothing about whether reads and writes work.

mod client;
mod item;
#[cfg(feature = "test-support")]
pub mod test_support;
mod url;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, TableStatus, WriteRequest,
};
use futures_util::{StreamExt, TryStreamExt};

use self::client::sdk_config;
use self::item::{DATE_OF_BIRTH, USERNAME};
use super::freshness::Freshness;
use crate::domain::{BirthDate, Username};
use crate::store::{
    Backend, BoxError, Health, Purpose, StoreError, StoreOptions, User, UserPages, UserScan,
    UserStore, updated_at_now,
};

pub use self::url::Table;

/// Users per `put_many` in an import: 100 `BatchWriteItem` calls, written concurrently.
/// Smaller than SQLite's, because DynamoDB has no commit to amortise and an operator's
/// progress bar should move every second.
const IMPORT_BATCH: usize = 2_500;
/// DynamoDB's limit of items in one `BatchWriteItem` call.
const BATCH_WRITE_LIMIT: usize = 25;
/// `BatchWriteItem` calls in flight at once within one `put_many`: enough to keep a bulk import
/// busy without one import starving the table's other clients.
const BATCH_WRITE_CONCURRENCY: usize = 16;
/// Rounds of resending what DynamoDB left unprocessed (throttled) before giving up.
const UNPROCESSED_ROUNDS: u32 = 10;
const UNPROCESSED_FIRST_BACKOFF: Duration = Duration::from_millis(50);
const UNPROCESSED_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Not a valid username (usernames are letters only), so no user can ever have it.
const PROBE_KEY: &str = "-readiness-probe-";
/// How long start-up waits for the first probe, so readiness is known when serving begins.
/// The service starts regardless: readiness then reports the outcome when it comes.
const FIRST_PROBE_WAIT: Duration = Duration::from_secs(2);

/// Error codes DynamoDB uses when a retry later will succeed.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// What `create_table` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TableCreated {
    Created,
    AlreadyExisted,
}

impl Backend for Table {
    const SCHEME: &'static str = "dynamodb";
    const FORM: &'static str = "TABLE";

    async fn open(&self, options: StoreOptions) -> anyhow::Result<Box<dyn UserStore>> {
        Ok(Box::new(
            DynamoDbStore::connect(self.name(), options.purpose).await?,
        ))
    }

    async fn open_read_only(&self) -> anyhow::Result<Box<dyn UserScan>> {
        Ok(Box::new(
            DynamoDbStore::connect(self.name(), Purpose::Bulk).await?,
        ))
    }

    async fn create(&self) -> anyhow::Result<String> {
        let store = DynamoDbStore::connect(self.name(), Purpose::Bulk).await?;
        let created = store
            .create_table()
            .await
            .with_context(|| format!("cannot create table {self}"))?;
        Ok(match created {
            TableCreated::Created => format!("created table {self}"),
            TableCreated::AlreadyExisted => format!("table {self} already exists"),
        })
    }
}

pub struct DynamoDbStore {
    client: Client,
    table: String,
    freshness: Arc<Freshness>,
    /// Items per Scan page; `None` lets DynamoDB fill pages up to 1 MB.
    scan_page_limit: Option<i32>,
    /// The background probe of a serving store, stopped with the store.
    prober: Option<tokio::task::AbortHandle>,
}

impl Drop for DynamoDbStore {
    fn drop(&mut self) {
        if let Some(prober) = &self.prober {
            prober.abort();
        }
    }
}

impl DynamoDbStore {
    /// Builds a client for `table` from the standard AWS chain. The service starts even while
    /// the table is unreachable: a serving store waits briefly for its first readiness probe,
    /// never fails on it.
    async fn connect(table: &str, purpose: Purpose) -> anyhow::Result<Self> {
        let config = sdk_config(purpose).await?;
        Ok(Self::new(Client::new(&config), table)
            .ready_for(purpose)
            .await)
    }

    /// A store with no background probe: readiness then follows its own calls alone.
    fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
            freshness: Arc::new(Freshness::new(
                "DynamoDB reads and writes have stopped succeeding",
                "no DynamoDB read or write has succeeded yet",
            )),
            scan_page_limit: None,
            prober: None,
        }
    }

    /// Caps Scan pages at `items`, so tests can cross page boundaries with a small table.
    #[cfg(feature = "test-support")]
    #[must_use]
    fn with_scan_page_limit(mut self, items: i32) -> Self {
        self.scan_page_limit = Some(items);
        self
    }

    /// What serving needs: the background probe, started before the first request.
    async fn ready_for(self, purpose: Purpose) -> Self {
        match purpose {
            Purpose::Serve => self.with_readiness_probe().await,
            Purpose::Bulk => self,
        }
    }

    /// Starts the background probe and waits up to [`FIRST_PROBE_WAIT`] for its first result.
    async fn with_readiness_probe(mut self) -> Self {
        let probe = Probe {
            client: self.client.clone(),
            table: self.table.clone(),
            freshness: self.freshness.clone(),
        };
        let _ = tokio::time::timeout(FIRST_PROBE_WAIT, probe.run_once()).await;
        self.prober = Some(tokio::spawn(probe.run()).abort_handle());
        self
    }

    fn succeeded(&self) {
        self.freshness.succeeded_at(Instant::now());
    }

    /// Creates the table for local development and waits until it is active. Succeeds if it
    /// already exists. Production tables come from Terraform, never from here.
    async fn create_table(&self) -> Result<TableCreated, StoreError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(USERNAME)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(StoreError::failed)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(USERNAME)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(StoreError::failed)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        let outcome = match created {
            Ok(_) => TableCreated::Created,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                TableCreated::AlreadyExisted
            }
            Err(error) => return Err(self.classify("CreateTable", error)),
        };
        // A new table takes a few seconds to become usable on AWS.
        for _ in 0..120 {
            if self.table_status().await? == Some(TableStatus::Active) {
                return Ok(outcome);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::unavailable(format!(
            "table {} did not become active within a minute",
            self.table
        )))
    }

    async fn table_status(&self) -> Result<Option<TableStatus>, StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.classify("DescribeTable", e))?;
        Ok(described.table.and_then(|t| t.table_status))
    }

    fn classify<E>(&self, operation: &'static str, error: SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let transient = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ResponseError(e) => e.raw().status().is_server_error(),
            SdkError::ServiceError(e) => {
                e.raw().status().is_server_error()
                    || e.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
            }
            _ => false,
        };
        let error = Failure {
            operation,
            table: self.table.clone(),
            source: error.into(),
        };
        if transient {
            StoreError::unavailable(error)
        } else {
            StoreError::failed(error)
        }
    }

    /// Writes at most 25 distinct users, resending whatever DynamoDB leaves unprocessed.
    async fn write_batch(&self, users: &[User], updated_at: &str) -> Result<(), StoreError> {
        let mut pending: Vec<WriteRequest> = users
            .iter()
            .map(|user| {
                let put = PutRequest::builder()
                    .set_item(Some(item::encode(user, updated_at)))
                    .build()
                    .map_err(StoreError::failed)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        let mut backoff = UNPROCESSED_FIRST_BACKOFF;
        for round in 1..=UNPROCESSED_ROUNDS {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| self.classify("BatchWriteItem", e))?;
            pending = output
                .unprocessed_items
                .and_then(|mut tables| tables.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            if round < UNPROCESSED_ROUNDS {
                // Full jitter: concurrent batches that were throttled together spread out.
                tokio::time::sleep(backoff.mul_f64(jitter())).await;
                backoff = (backoff * 2).min(UNPROCESSED_MAX_BACKOFF);
            }
        }
        Err(StoreError::unavailable(format!(
            "DynamoDB left {} items of table {} unprocessed after {UNPROCESSED_ROUNDS} attempts",
            pending.len(),
            self.table
        )))
    }
}

/// Reads the sentinel key whenever nothing else has succeeded lately.
struct Probe {
    client: Client,
    table: String,
    freshness: Arc<Freshness>,
}

impl Probe {
    async fn run(self) {
        loop {
            if self.freshness.probe_due().await {
                self.run_once().await;
            }
        }
    }

    async fn run_once(&self) {
        let started = Instant::now();
        let outcome = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(USERNAME, AttributeValue::S(PROBE_KEY.to_owned()))
            .projection_expression(USERNAME)
            .send()
            .await;
        match outcome {
            // The moment it was sent: a slow answer must not look fresher than it is.
            Ok(_) => self.freshness.succeeded_at(started),
            Err(error) => tracing::warn!(
                table = %self.table,
                error = %aws_smithy_types::error::display::DisplayErrorContext(&error),
                "readiness probe: DynamoDB GetItem failed"
            ),
        }
    }
}

/// A failed call, with the operation and table named so logs point at the cause.
#[derive(Debug)]
struct Failure {
    operation: &'static str,
    table: String,
    source: BoxError,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynamoDB {} on table {}", self.operation, self.table)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// A factor in [0, 1) that differs between calls, from the standard library's per-instance
/// random hash keys, so no random-number crate is needed for backoff jitter.
fn jitter() -> f64 {
    let bits = RandomState::new().hash_one(0u8);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Keeps the last write of each username, in order: `BatchWriteItem` rejects a batch that
/// names one key twice, and the last one is what a sequence of `put`s would leave.
fn last_write_wins(users: &[User]) -> Vec<&User> {
    let mut position: HashMap<&Username, usize> = HashMap::with_capacity(users.len());
    let mut unique: Vec<&User> = Vec::with_capacity(users.len());
    for user in users {
        match position.get(&user.username) {
            Some(&at) => unique[at] = user,
            None => {
                position.insert(&user.username, unique.len());
                unique.push(user);
            }
        }
    }
    unique
}

impl UserScan for DynamoDbStore {
    /// One page per Scan response, decoded and handed over as it arrives; the paginator asks
    /// for the next page only when the consumer wants it.
    fn scan(&self) -> UserPages<'_> {
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            // An export right after an import must contain every imported user.
            .consistent_read(true)
            .set_limit(self.scan_page_limit)
            .projection_expression("#u, #d")
            .expression_attribute_names("#u", USERNAME)
            .expression_attribute_names("#d", DATE_OF_BIRTH)
            .into_paginator()
            .send();
        futures_util::stream::unfold(pages, |mut pages| async move {
            pages.next().await.map(|page| (page, pages))
        })
        .map(|page| {
            let page = page.map_err(|e| self.classify("Scan", e))?;
            self.succeeded();
            page.items().iter().map(item::user).collect()
        })
        .boxed()
    }
}

#[async_trait]
impl UserStore for DynamoDbStore {
    async fn put(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::encode(user, &updated_at_now())))
            .send()
            .await
            .map_err(|e| self.classify("PutItem", e))?;
        self.succeeded();
        Ok(())
    }

    async fn put_many(&self, users: &[User]) -> Result<(), StoreError> {
        let updated_at = updated_at_now();
        let unique = last_write_wins(users);
        // Owned chunks keep the stream's closure free of borrowed-slice lifetimes, which the
        // `Send` future that `async_trait` needs cannot express.
        let chunks: Vec<Vec<User>> = unique
            .chunks(BATCH_WRITE_LIMIT)
            .map(|chunk| chunk.iter().map(|&user| user.clone()).collect())
            .collect();
        let updated_at = &updated_at;
        futures_util::stream::iter(chunks)
            .map(|chunk| async move { self.write_batch(&chunk, updated_at).await })
            .buffer_unordered(BATCH_WRITE_CONCURRENCY)
            .try_collect::<()>()
            .await?;
        self.succeeded();
        Ok(())
    }

    async fn get(&self, username: &Username) -> Result<Option<BirthDate>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(USERNAME, AttributeValue::S(username.as_str().to_owned()))
            .consistent_read(true)
            .projection_expression(DATE_OF_BIRTH)
            .send()
            .await
            .map_err(|e| self.classify("GetItem", e))?;
        self.succeeded();
        output.item.as_ref().map(item::birth_date).transpose()
    }

    fn health(&self) -> Health {
        self.freshness.health_at(Instant::now())
    }

    async fn close(&self) {
        // Every write is acknowledged by DynamoDB before `put` returns; nothing is buffered.
        if let Some(prober) = &self.prober {
            prober.abort();
        }
    }

    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    fn import_batch_size(&self) -> usize {
        IMPORT_BATCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_in_one_batch_keep_the_last_write_in_first_position() {
        let users = [
            User::valid("alice", "1990-01-01"),
            User::valid("bob", "1991-01-01"),
            User::valid("alice", "1992-01-01"),
        ];
        let unique = last_write_wins(&users);
        assert_eq!(unique, [&users[2], &users[1]]);
    }

    #[test]
    fn jitter_stays_within_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
