//! The router, driven in-process with `tower::ServiceExt::oneshot`: every status code of the
//! API contract, with the clock pinned so the day counts are exact.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use hello_birthday::clock::Clock;
use hello_birthday::domain::{BirthDate, Username};
use hello_birthday::http::{AppState, Limits, router};
use hello_birthday::lifecycle::Lifecycle;
use hello_birthday::store::{
    Health, Instrumented, StoreError, User, UserPages, UserScan, UserStore,
};
use hello_birthday::telemetry::Metrics;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

const TODAY: &str = "2026-11-28";

struct TestApp {
    store: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    lifecycle: Lifecycle,
    metrics: Metrics,
    _dir: Option<TempDir>,
}

impl TestApp {
    async fn new() -> Self {
        Self::on(TODAY).await
    }

    async fn on(today: &str) -> Self {
        let (store, dir) = common::sqlite_store().await;
        Self::instrumenting(store, today, Some(dir))
    }

    /// `store` with the metrics the service puts around it, recorded in this app's registry.
    fn instrumenting(store: Box<dyn UserStore>, today: &str, dir: Option<TempDir>) -> Self {
        let metrics = Metrics::new();
        let store = Arc::new(Instrumented::new(store, &metrics));
        Self::with_store(store, metrics, today, dir)
    }

    fn with_store(
        store: Arc<dyn UserStore>,
        metrics: Metrics,
        today: &str,
        dir: Option<TempDir>,
    ) -> Self {
        Self {
            store,
            clock: common::clock(today),
            lifecycle: Lifecycle::default(),
            metrics,
            _dir: dir,
        }
    }

    fn router(&self) -> Router {
        self.router_with(Limits::default())
    }

    fn router_with(&self, limits: Limits) -> Router {
        let state = AppState {
            store: self.store.clone(),
            clock: self.clock.clone(),
            lifecycle: self.lifecycle.clone(),
            metrics: self.metrics.clone(),
        };
        router(state, limits)
    }

    async fn send(&self, request: Request<Body>) -> Response {
        self.router()
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    async fn put_raw(
        &self,
        user: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Response {
        let mut request = Request::put(format!("/hello/{user}"));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn put(&self, user: &str, date: &str) -> Response {
        let body = json!({ "dateOfBirth": date }).to_string();
        self.put_raw(user, Some("application/json"), body).await
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn stored(&self, user: &str) -> Option<BirthDate> {
        self.store
            .get(&Username::parse(user).unwrap())
            .await
            .unwrap()
    }
}

async fn body_json(response: Response) -> Value {
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
}

async fn body_text(response: Response) -> String {
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts a JSON error answer and returns its message.
async fn error_message(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = body_json(response).await;
    body["error"].as_str().expect("an error message").to_owned()
}

async fn message(app: &TestApp, user: &str) -> String {
    let response = app.get(&format!("/hello/{user}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    body_json(response).await["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

mod hello {
    use super::*;

    #[tokio::test]
    async fn put_answers_204_with_an_empty_body_and_stores_the_date() {
        let app = TestApp::new().await;
        let response = app.put("alice", "1990-05-01").await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(body_text(response).await.is_empty());
        assert_eq!(app.stored("alice").await.unwrap().to_string(), "1990-05-01");
    }

    #[tokio::test]
    async fn put_replaces_an_existing_user() {
        let app = TestApp::new().await;
        app.put("alice", "1990-05-01").await;
        assert_eq!(
            app.put("alice", "1991-12-01").await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            message(&app, "alice").await,
            "Hello, alice! Your birthday is in 3 day(s)"
        );
    }

    #[tokio::test]
    async fn get_counts_days_to_the_next_birthday_byte_for_byte() {
        let app = TestApp::new().await;
        app.put("alice", "1990-11-29").await;
        app.put("bob", "1990-11-27").await;
        app.put("carol", "2000-02-29").await;
        assert_eq!(
            message(&app, "alice").await,
            "Hello, alice! Your birthday is in 1 day(s)"
        );
        assert_eq!(
            message(&app, "bob").await,
            "Hello, bob! Your birthday is in 364 day(s)"
        );
        assert_eq!(
            message(&app, "carol").await,
            "Hello, carol! Your birthday is in 92 day(s)"
        );
    }

    #[tokio::test]
    async fn get_says_happy_birthday_on_the_day() {
        let app = TestApp::new().await;
        app.put("alice", "1990-11-28").await;
        assert_eq!(
            message(&app, "alice").await,
            "Hello, alice! Happy birthday!"
        );
    }

    #[tokio::test]
    async fn leap_day_birthdays_are_celebrated_on_28_february_in_common_years() {
        let app = TestApp::on("2027-02-28").await;
        app.put("leap", "2000-02-29").await;
        assert_eq!(message(&app, "leap").await, "Hello, leap! Happy birthday!");
        let app = TestApp::with_store(app.store.clone(), app.metrics.clone(), "2028-02-28", None);
        assert_eq!(
            message(&app, "leap").await,
            "Hello, leap! Your birthday is in 1 day(s)"
        );
    }

    #[tokio::test]
    async fn usernames_are_case_sensitive() {
        let app = TestApp::new().await;
        app.put("alice", "1990-11-29").await;
        app.put("Alice", "1990-11-30").await;
        assert_eq!(
            message(&app, "alice").await,
            "Hello, alice! Your birthday is in 1 day(s)"
        );
        assert_eq!(
            message(&app, "Alice").await,
            "Hello, Alice! Your birthday is in 2 day(s)"
        );
        assert_eq!(
            app.get("/hello/ALICE").await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn percent_encoded_letters_are_letters() {
        let app = TestApp::new().await;
        assert_eq!(
            app.put("%61lice", "1990-11-29").await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            message(&app, "alice").await,
            "Hello, alice! Your birthday is in 1 day(s)"
        );
    }

    #[tokio::test]
    async fn unknown_user_is_404_with_a_json_error() {
        let app = TestApp::new().await;
        let error = error_message(app.get("/hello/nobody").await, StatusCode::NOT_FOUND).await;
        assert_eq!(error, "no user named nobody");
    }

    #[tokio::test]
    async fn extra_fields_are_ignored() {
        let app = TestApp::new().await;
        let body = r#"{"dateOfBirth":"1990-05-01","nickname":"al"}"#;
        let response = app.put_raw("alice", Some("application/json"), body).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn json_content_type_with_parameters_is_accepted() {
        let app = TestApp::new().await;
        let body = r#"{"dateOfBirth":"1990-05-01"}"#;
        let response = app
            .put_raw("alice", Some("application/json; charset=utf-8"), body)
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
}

mod rejections {
    use super::*;

    const BAD_USERNAMES: &[&str] = &[
        "al1ce",
        "alice_",
        "al-ice",
        "al%20ice",
        "al%2Fice",
        "%C3%A9lodie",
        "%F0%9F%8E%82",
        "%FF",
        "al.ice",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 65 letters
    ];

    #[tokio::test]
    async fn invalid_usernames_are_400_on_put_and_get() {
        let app = TestApp::new().await;
        for user in BAD_USERNAMES {
            let error =
                error_message(app.put(user, "1990-05-01").await, StatusCode::BAD_REQUEST).await;
            assert!(error.contains("username"), "{user}: {error}");
            error_message(
                app.get(&format!("/hello/{user}")).await,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    }

    #[tokio::test]
    async fn sixty_four_letters_is_the_longest_name() {
        let app = TestApp::new().await;
        let name = "a".repeat(64);
        assert_eq!(
            app.put(&name, "1990-05-01").await.status(),
            StatusCode::NO_CONTENT
        );
    }

    #[tokio::test]
    async fn invalid_bodies_are_400_and_change_nothing() {
        let app = TestApp::new().await;
        app.put("alice", "1990-05-01").await;
        let bodies = [
            r#"{"dateOfBirth":"2026-11-28"}"#, // today
            r#"{"dateOfBirth":"2026-11-29"}"#, // future
            r#"{"dateOfBirth":"2021-02-29"}"#,
            r#"{"dateOfBirth":"2021-13-01"}"#,
            r#"{"dateOfBirth":"1990-1-1"}"#,
            r#"{"dateOfBirth":"1990-05-01T00:00:00Z"}"#,
            r#"{"dateOfBirth":""}"#,
            r#"{"dateOfBirth":19900501}"#,
            r#"{"dateOfBirth":null}"#,
            r#"{}"#,
            r#"{"dateofbirth":"1990-05-01"}"#,
            r#"["1990-05-01"]"#,
            r#""1990-05-01""#,
            r#"null"#,
            r#"42"#,
            r#"{"dateOfBirth":"1990-05-01""#,
            r#"not json"#,
            "",
        ];
        for body in bodies {
            let response = app.put_raw("alice", Some("application/json"), body).await;
            let error = error_message(response, StatusCode::BAD_REQUEST).await;
            assert!(!error.is_empty(), "{body}");
            assert_eq!(
                app.stored("alice").await.unwrap().to_string(),
                "1990-05-01",
                "{body} changed storage"
            );
        }
    }

    #[tokio::test]
    async fn error_messages_tell_the_client_what_to_fix() {
        let app = TestApp::new().await;
        let future = app.put("alice", "2030-01-01").await;
        assert_eq!(
            error_message(future, StatusCode::BAD_REQUEST).await,
            "dateOfBirth must be before today (2026-11-28)"
        );
        let shape = app.put("alice", "1990-1-1").await;
        assert!(
            error_message(shape, StatusCode::BAD_REQUEST)
                .await
                .contains("YYYY-MM-DD")
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_415() {
        let app = TestApp::new().await;
        let body = r#"{"dateOfBirth":"1990-05-01"}"#;
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let response = app.put_raw("alice", content_type, body).await;
            error_message(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        }
        assert!(app.stored("alice").await.is_none());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        let app = TestApp::new().await;
        let body = format!(
            r#"{{"dateOfBirth":"1990-05-01","padding":"{}"}}"#,
            "x".repeat(8192)
        );
        let response = app.put_raw("alice", Some("application/json"), body).await;
        error_message(response, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert!(app.stored("alice").await.is_none());
    }

    #[tokio::test]
    async fn unknown_routes_are_404_in_json() {
        let app = TestApp::new().await;
        for path in ["/", "/hello", "/hello/", "/hello/alice/extra", "/nope"] {
            error_message(app.get(path).await, StatusCode::NOT_FOUND).await;
        }
    }

    #[tokio::test]
    async fn wrong_methods_are_405_with_an_allow_header() {
        let app = TestApp::new().await;
        for method in [Method::POST, Method::DELETE, Method::PATCH] {
            let request = Request::builder()
                .method(method)
                .uri("/hello/alice")
                .body(Body::empty())
                .unwrap();
            let response = app.send(request).await;
            let allow = response.headers()[header::ALLOW]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
            error_message(response, StatusCode::METHOD_NOT_ALLOWED).await;
        }
    }
}

/// Stores that misbehave on purpose, to reach the server-error paths.
mod faults {
    use super::*;

    enum Fault {
        Unavailable,
        Failed,
        Slow,
        Panics,
        /// A store that only a restart can fix (a dead SQLite writer).
        Broken,
    }

    impl UserScan for Fault {
        fn scan(&self) -> UserPages<'_> {
            Box::pin(futures::stream::once(self.misbehave()))
        }
    }

    #[async_trait]
    impl UserStore for Fault {
        async fn put(&self, _: &User) -> Result<(), StoreError> {
            self.misbehave().await
        }
        async fn put_many(&self, _: &[User]) -> Result<(), StoreError> {
            self.misbehave().await
        }
        async fn get(&self, _: &Username) -> Result<Option<BirthDate>, StoreError> {
            self.misbehave().await
        }
        fn health(&self) -> Health {
            match self {
                Self::Broken => Health::Broken("the writer is gone"),
                _ => Health::NotReady("the store does not answer"),
            }
        }
        async fn close(&self) {}
        fn backend(&self) -> &'static str {
            "fault"
        }

        fn import_batch_size(&self) -> usize {
            1
        }
    }

    impl Fault {
        async fn misbehave<T>(&self) -> Result<T, StoreError> {
            match self {
                Self::Unavailable => Err(StoreError::unavailable("throttled by secret-table-name")),
                Self::Failed => Err(StoreError::failed(
                    "disk I/O error at /secret/path/users.db",
                )),
                Self::Slow => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Err(StoreError::failed("unreachable"))
                }
                Self::Panics | Self::Broken => panic!("a bug"),
            }
        }
    }

    fn app(fault: Fault) -> TestApp {
        TestApp::with_store(Arc::new(fault), Metrics::new(), TODAY, None)
    }

    #[tokio::test]
    async fn a_temporarily_unavailable_store_is_503_with_retry_after() {
        let app = app(Fault::Unavailable);
        for response in [
            app.get("/hello/alice").await,
            app.put("alice", "1990-05-01").await,
        ] {
            assert!(response.headers().contains_key(header::RETRY_AFTER));
            let error = error_message(response, StatusCode::SERVICE_UNAVAILABLE).await;
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[tokio::test]
    async fn a_failing_store_is_an_opaque_500() {
        let app = app(Fault::Failed);
        let error = error_message(
            app.get("/hello/alice").await,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
        .await;
        assert_eq!(error, "internal error");
    }

    /// Logs written while `run` runs on this thread, as text lines.
    async fn logs_of<F: Future<Output = ()>>(run: F) -> String {
        #[derive(Clone, Default)]
        struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        run.await;
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    /// The cause of a 500 is logged on a line of its own that names the request, so it can be
    /// found from the id a client reports; the access line carries the same id.
    #[tokio::test]
    async fn a_server_error_is_logged_with_its_cause_and_request_id() {
        let app = app(Fault::Failed);
        let logs = logs_of(async {
            let request = Request::get("/hello/alice")
                .header("x-request-id", "req-42")
                .body(Body::empty())
                .unwrap();
            let response = app.send(request).await;
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        })
        .await;
        let failure = logs
            .lines()
            .find(|line| line.contains("request failed"))
            .unwrap_or_else(|| panic!("no failure line in {logs}"));
        assert!(failure.contains("ERROR"), "{failure}");
        assert!(failure.contains("request_id=\"req-42\""), "{failure}");
        assert!(failure.contains("disk I/O error"), "{failure}");
    }

    /// The whole request arrived; the store is what is slow: our fault, so 503, not 408.
    #[tokio::test(start_paused = true)]
    async fn a_request_slowed_by_the_store_is_503_with_retry_after_not_408() {
        let app = app(Fault::Slow);
        for response in [
            app.get("/hello/alice").await,
            app.put("alice", "1990-05-01").await,
        ] {
            assert!(response.headers().contains_key(header::RETRY_AFTER));
            let error = error_message(response, StatusCode::SERVICE_UNAVAILABLE).await;
            assert!(
                error.contains("may or may not have taken effect"),
                "{error}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_does_not_finish_its_body_gets_408() {
        use futures::StreamExt;
        let app = app(Fault::Slow);
        let half: Result<&'static [u8], std::io::Error> = Ok(br#"{"dateOf"#);
        let never_ends = futures::stream::iter([half]).chain(futures::stream::pending());
        let response = app
            .put_raw(
                "alice",
                Some("application/json"),
                Body::from_stream(never_ends),
            )
            .await;
        error_message(response, StatusCode::REQUEST_TIMEOUT).await;
    }

    /// With every in-flight slot held by a stalled request, the next one waits the queue
    /// timeout and is shed with 503, long before its request timeout.
    #[tokio::test(start_paused = true)]
    async fn past_max_in_flight_requests_are_shed_with_503_after_the_queue_timeout() {
        let app = app(Fault::Slow);
        let limits = Limits {
            max_in_flight: 1,
            ..Limits::default()
        };
        let router = app.router_with(limits);
        let get = || Request::get("/hello/alice").body(Body::empty()).unwrap();
        let stalled = tokio::spawn(router.clone().oneshot(get()));
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        let shed = router.oneshot(get()).await.unwrap();
        assert_eq!(started.elapsed(), Limits::default().queue_timeout);
        assert!(shed.headers().contains_key(header::RETRY_AFTER));
        let error = error_message(shed, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(error.contains("overloaded"), "{error}");
        let metrics = body_text(app.get("/metrics").await).await;
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("http_requests_shed_total ") && !line.ends_with(" 0")),
            "{metrics}"
        );
        stalled.abort();
    }

    #[tokio::test]
    async fn a_panic_is_an_opaque_500_not_a_dropped_connection() {
        let app = app(Fault::Panics);
        let error = error_message(
            app.get("/hello/alice").await,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
        .await;
        assert_eq!(error, "internal error");
    }

    #[tokio::test]
    async fn readiness_is_503_while_the_store_does_not_answer() {
        let app = app(Fault::Unavailable);
        error_message(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(
            app.get("/healthz").await.status(),
            StatusCode::OK,
            "a store that may recover keeps the process alive"
        );
    }

    #[tokio::test]
    async fn liveness_fails_when_the_store_cannot_recover_by_itself() {
        let app = app(Fault::Broken);
        let error = error_message(app.get("/healthz").await, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(error, "the writer is gone");
        error_message(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
    }
}

mod operations {
    use super::*;

    #[tokio::test]
    async fn liveness_and_readiness_are_200_when_all_is_well() {
        let app = TestApp::new().await;
        assert_eq!(
            body_json(app.get("/healthz").await).await,
            json!({"status": "ok"})
        );
        assert_eq!(
            body_json(app.get("/readyz").await).await,
            json!({"status": "ready"})
        );
    }

    #[tokio::test]
    async fn readiness_is_503_once_shutdown_begins() {
        let app = TestApp::new().await;
        app.lifecycle.begin_shutdown();
        error_message(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(
            app.put("alice", "1990-05-01").await.status(),
            StatusCode::NO_CONTENT,
            "still serving"
        );
    }

    #[tokio::test]
    async fn metrics_use_route_templates_never_usernames() {
        let app = TestApp::new().await;
        app.put("metricsuser", "1990-05-01").await;
        app.get("/hello/metricsuser").await;
        app.get("/hello/metricsuser").await;
        let response = app.get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let text = body_text(response).await;
        assert!(!text.contains("metricsuser"));
        for series in [
            r#"http_requests_total{method="PUT",route="/hello/{username}",status="204"}"#,
            r#"http_request_duration_seconds_bucket{method="GET",route="/hello/{username}",status="200""#,
            r#"store_operation_duration_seconds_bucket{backend="sqlite",operation="put""#,
            "hello_birthday_build_info{version=",
        ] {
            assert!(text.contains(series), "missing {series}");
        }
    }

    #[tokio::test]
    async fn store_errors_are_counted() {
        let app = TestApp::instrumenting(faults_store(), TODAY, None);
        app.get("/hello/alice").await;
        let text = body_text(app.get("/metrics").await).await;
        assert!(text.contains(
            r#"store_operation_errors_total{backend="fault",operation="get",kind="unavailable"}"#
        ));
    }

    fn faults_store() -> Box<dyn UserStore> {
        struct Throttled;
        impl UserScan for Throttled {
            fn scan(&self) -> UserPages<'_> {
                Box::pin(futures::stream::once(async {
                    Err(StoreError::unavailable("throttled"))
                }))
            }
        }
        #[async_trait]
        impl UserStore for Throttled {
            async fn put(&self, _: &User) -> Result<(), StoreError> {
                Err(StoreError::unavailable("throttled"))
            }
            async fn put_many(&self, _: &[User]) -> Result<(), StoreError> {
                Err(StoreError::unavailable("throttled"))
            }
            async fn get(&self, _: &Username) -> Result<Option<BirthDate>, StoreError> {
                Err(StoreError::unavailable("throttled"))
            }
            fn health(&self) -> Health {
                Health::Ready
            }
            async fn close(&self) {}
            fn backend(&self) -> &'static str {
                "fault"
            }

            fn import_batch_size(&self) -> usize {
                1
            }
        }
        Box::new(Throttled)
    }

    #[tokio::test]
    async fn request_ids_are_generated_or_propagated() {
        let app = TestApp::new().await;
        let generated = app.get("/healthz").await;
        assert!(!generated.headers()["x-request-id"].is_empty());
        let request = Request::get("/healthz")
            .header("x-request-id", "abc-123")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(request).await.headers()["x-request-id"], "abc-123");
    }

    #[tokio::test]
    async fn request_ids_that_are_too_long_empty_or_not_visible_ascii_are_replaced() {
        let app = TestApp::new().await;
        let longest = "a".repeat(128);
        let request = Request::get("/healthz")
            .header("x-request-id", &longest)
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(request).await.headers()["x-request-id"], *longest);
        for bad in [
            "a".repeat(129),
            "a".repeat(60_000),
            String::new(),
            "two words".into(),
        ] {
            let request = Request::get("/healthz")
                .header("x-request-id", &bad)
                .body(Body::empty())
                .unwrap();
            let response = app.send(request).await;
            let replaced = response.headers()["x-request-id"].to_str().unwrap();
            assert_ne!(replaced, bad);
            assert_eq!(replaced.len(), 36, "a generated UUID: {replaced}");
        }
    }

    /// Every operation the served document lists is routed, and every method it does not list
    /// on a listed path is refused with 405: the document and the router are the same table.
    #[tokio::test]
    async fn the_served_openapi_document_lists_exactly_what_the_router_serves() {
        // PUT first, so that the GET finds the user: a 404 then can only mean "no such route".
        const METHODS: [&str; 5] = ["put", "get", "post", "delete", "patch"];
        let app = TestApp::new().await;
        let document = body_json(app.get("/openapi.json").await).await;
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        let paths = document["paths"].as_object().expect("paths");
        assert!(paths.len() >= 5, "{paths:?}");
        for (template, operations) in paths {
            let path = template.replace("{username}", "alice");
            for method in METHODS {
                let request = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&path)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(r#"{"dateOfBirth":"1990-05-01"}"#))
                    .unwrap();
                let status = app.send(request).await.status();
                if operations.get(method).is_some() {
                    assert!(
                        status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {template} is documented but answered {status}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {template} is not documented"
                    );
                }
            }
        }
        let undocumented = app.get("/hello").await.status();
        assert_eq!(undocumented, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_openapi_document_gives_every_status_of_the_contract() {
        let app = TestApp::new().await;
        let document = body_json(app.get("/openapi.json").await).await;
        let hello = &document["paths"]["/hello/{username}"];
        let statuses = |method: &str| -> Vec<String> {
            hello[method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        for status in ["204", "400", "405", "408", "413", "415", "500", "503"] {
            assert!(statuses("put").contains(&status.to_owned()), "PUT {status}");
        }
        for status in ["200", "400", "404", "405", "408", "500", "503"] {
            assert!(statuses("get").contains(&status.to_owned()), "GET {status}");
        }
        for method in ["put", "get"] {
            let parameters = hello[method]["parameters"].as_array().expect("parameters");
            assert_eq!(parameters.len(), 1, "{method}");
            assert_eq!(parameters[0]["name"], "username");
            assert_eq!(parameters[0]["in"], "path");
            assert_eq!(parameters[0]["schema"]["pattern"], "^[A-Za-z]{1,64}$");
            let error = &hello[method]["responses"]["503"]["content"]["application/json"]["schema"];
            assert_eq!(error["$ref"], "#/components/schemas/ErrorBody", "{method}");
        }
    }
}
