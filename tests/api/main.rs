//! The integration tests, in one binary (one link of the AWS SDK, one set of helpers):
//! - [`router`]: the router in-process with `oneshot`, every status of the API contract;
//! - [`store_conformance`]: what every store backend must do, run against each;
//! - [`binary`]: the real binary, started per test on port 0 with a fresh database;
//! - [`resilience`]: the real binary against hostile clients, full disks and moved files;
//! - [`import_export`]: the `import` and `export` subcommands against each backend;
//! - [`contract`]: the values the infrastructure relies on are the ones the service uses;
//! - [`postgres`]: what only PostgreSQL has (schema and roles, passwords, TLS, outages, hosts).
//!
//! Scenarios that concern every backend are written once and instantiated per backend by
//! [`per_backend!`]; DynamoDB runs against moto (`common::dynamodb`), PostgreSQL against a real
//! server (`common::postgres`).

#[macro_use]
mod common;

mod binary;
mod contract;
mod import_export;
mod postgres;
mod resilience;
mod router;
mod store_conformance;
