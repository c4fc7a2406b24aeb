//! hello-birthday: stores dates of birth and tells people how many days remain until
//! their next birthday.
//!
//! Layout: [`domain`] holds the parsed types and the calendar rules, [`http`] the API,
//! [`store`] the storage backends, [`config`] the command line, [`telemetry`] logs and
//! metrics, [`server`] the wiring and shutdown sequence, [`transfer`] import and export.

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod healthcheck;
pub mod http;
pub mod lifecycle;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod transfer;
