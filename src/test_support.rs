//! Hooks for the integration tests only, compiled with the `test-support` feature (which the
//! crate's dev-dependency on itself turns on, so no build of the service has them).

/// A DynamoDB store on an emulator of the test's choosing.
pub use crate::store::backends::dynamodb::test_support as dynamodb;
