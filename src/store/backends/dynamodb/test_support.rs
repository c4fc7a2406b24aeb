//! What the integration tests need to reach DynamoDB on an emulator they start themselves
//! (tests/api/common/dynamodb.rs). Compiled only with the `test-support` feature, which the
//! crate's dev-dependency on itself turns on: `cargo test` has it, no build of the service does.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};

use super::{DynamoDbStore, client::config_loader};
use crate::store::{Purpose, UserStore};

pub use crate::store::backends::freshness::{PROBE_INTERVAL, READY_WINDOW};

/// Items per Scan page of a test's store: small, so a few hundred users span several pages.
pub const SCAN_PAGE_ITEMS: i32 = 50;

/// A store on `table` at `endpoint`, opened as the service opens one for `purpose` (a serving
/// store starts its readiness probe), except for the endpoint, region and credentials, which
/// are the test's, and for its small Scan pages.
pub async fn open(
    endpoint: &str,
    region: &str,
    table: &str,
    purpose: Purpose,
) -> anyhow::Result<Box<dyn UserStore>> {
    let store = DynamoDbStore::new(client(endpoint, region, purpose).await?, table)
        .with_scan_page_limit(SCAN_PAGE_ITEMS)
        .ready_for(purpose)
        .await;
    Ok(Box::new(store))
}

/// Creates `table` at `endpoint` as `create-table` does, and waits until it is active.
pub async fn create_table(endpoint: &str, region: &str, table: &str) -> anyhow::Result<()> {
    let store = DynamoDbStore::new(client(endpoint, region, Purpose::Bulk).await?, table);
    store.create_table().await?;
    Ok(())
}

async fn client(endpoint: &str, region: &str, purpose: Purpose) -> anyhow::Result<Client> {
    let config = config_loader(purpose)?
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    Ok(Client::new(&config))
}
