//! The values the infrastructure relies on (deploy/service-contract.json) are the ones the
//! service really uses. Terraform's tests read the same file, so the two cannot drift apart.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use hello_birthday::cli::args::{Cli, Command};
use hello_birthday::http::{AppState, Limits, router};
use hello_birthday::lifecycle::Lifecycle;
use hello_birthday::telemetry::Metrics;
use serde_json::Value;
use tower::ServiceExt;

fn contract() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/service-contract.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the contract"))
        .expect("valid JSON")
}

#[test]
fn the_default_listen_port_is_the_container_port() {
    let Command::Serve(args) = Cli::parse_from(["hello-birthday", "serve"]).command else {
        unreachable!("parsed the serve subcommand")
    };
    assert_eq!(
        u64::from(args.listen.port()),
        contract()["container_port"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn the_operations_paths_answer_200() {
    let (store, _dir) = common::sqlite_store().await;
    let state = AppState {
        store: std::sync::Arc::from(store),
        clock: common::clock("2026-11-28"),
        lifecycle: Lifecycle::default(),
        metrics: Metrics::new(),
    };
    let contract = contract();
    for key in ["liveness_path", "readiness_path", "metrics_path"] {
        let path = contract[key].as_str().unwrap();
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router(state.clone(), Limits::default())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{key} = {path}");
    }
}

/// Only the API is public: every operation the service documents outside `/hello` (the
/// operations endpoints) stays off the internet-facing listener.
#[test]
fn the_public_path_pattern_covers_the_api_and_nothing_else() {
    let pattern = contract()["public_path_pattern"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = pattern.strip_suffix('*').expect("a prefix pattern");
    let document = serde_json::to_value(hello_birthday::http::openapi()).unwrap();
    let paths = document["paths"].as_object().expect("paths");
    for (path, operations) in paths {
        let public = operations
            .as_object()
            .unwrap()
            .values()
            .all(|operation| operation["tags"][0] == "hello");
        assert_eq!(path.starts_with(prefix), public, "{path}");
    }
    assert!(paths.keys().any(|path| path.starts_with(prefix)));
}

/// ECS `stopTimeout` and the chart's `terminationGracePeriodSeconds` are checked against
/// drain delay + shutdown grace + this figure, read from the contract.
#[test]
fn the_shutdown_overhead_is_the_contracts() {
    assert_eq!(
        hello_birthday::lifecycle::SHUTDOWN_OVERHEAD.as_secs(),
        contract()["shutdown_overhead_seconds"].as_u64().unwrap()
    );
}
