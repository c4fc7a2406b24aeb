//! hello-birthday: stores dates of birth and tells people how many days remain until
//! their next birthday.
//!
//! Layout, from the outside in:
//! - [`cli`]: the command line, its flags and one module per subcommand;
//! - [`server`]: listening, connections and the shutdown sequence that [`lifecycle`] times;
//! - [`http`]: routes, extractors, middleware and the one error type that maps to HTTP;
//! - [`transfer`]: import and export of the previous system's JSON file;
//! - [`store`]: the store contract, and its backends (SQLite, DynamoDB) chosen by URL;
//! - [`domain`]: the parsed types (username, date of birth) and the calendar rules;
//! - [`clock`]: today's date, injected so tests choose it; [`time`]: moments shared between threads;
//! - [`telemetry`]: JSON logs and Prometheus metrics.
//!
//! Arrows only point down this list (`cli` to everything, `domain` to nothing here).

pub mod cli;
pub mod clock;
pub mod domain;
pub mod http;
pub mod lifecycle;
pub mod server;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod time;
pub mod transfer;
