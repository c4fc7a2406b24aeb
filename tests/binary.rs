//! Black-box tests of the built binary: lifecycle, durability and concurrency, run once per
//! store backend with the same expectations.

mod common;

use std::time::Duration;

use common::server::{self, BINARY, RunningServer};
use common::{SqliteDatabase, TestDatabase};
use futures::future::join_all;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn put(
    client: &reqwest::Client,
    server: &RunningServer,
    user: &str,
    date: &str,
) -> StatusCode {
    client
        .put(server.url(&format!("/hello/{user}")))
        .json(&serde_json::json!({ "dateOfBirth": date }))
        .send()
        .await
        .expect("PUT")
        .status()
}

async fn greeting(
    client: &reqwest::Client,
    server: &RunningServer,
    user: &str,
) -> (StatusCode, String) {
    let response = client
        .get(server.url(&format!("/hello/{user}")))
        .send()
        .await
        .expect("GET");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON body");
    (
        status,
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A user name made of letters only, distinct for every `n`.
fn letters(n: usize) -> String {
    let mut name = String::from("user");
    let mut rest = n;
    loop {
        name.push((b'a' + (rest % 26) as u8) as char);
        rest /= 26;
        if rest == 0 {
            return name;
        }
    }
}

pub async fn data_survives_a_restart(database: &dyn TestDatabase) {
    let http = client();
    let mut first = server::start(database, &[]).await;
    assert_eq!(
        put(&http, &first, "alice", "1990-05-01").await,
        StatusCode::NO_CONTENT
    );
    first.terminate();
    assert!(first.wait_exit().await.success());

    let second = server::start(database, &[]).await;
    let (status, message) = greeting(&http, &second, "alice").await;
    assert_eq!(status, StatusCode::OK);
    assert!(message.starts_with("Hello, alice! "), "{message}");
}

pub async fn acknowledged_writes_survive_kill_9(database: &dyn TestDatabase) {
    let http = client();
    let mut doomed = server::start(database, &[]).await;
    let writes = (0..50).map(|n| {
        let (http, doomed, user) = (&http, &doomed, letters(n));
        async move { (put(http, doomed, &user, "1991-02-03").await, user) }
    });
    let acknowledged: Vec<String> = join_all(writes)
        .await
        .into_iter()
        .filter(|(status, _)| *status == StatusCode::NO_CONTENT)
        .map(|(_, user)| user)
        .collect();
    assert_eq!(acknowledged.len(), 50);
    doomed.kill_hard().await;

    let revived = server::start(database, &[]).await;
    for user in acknowledged {
        assert_eq!(
            greeting(&http, &revived, &user).await.0,
            StatusCode::OK,
            "{user} was lost"
        );
    }
}

pub async fn a_request_in_flight_at_sigterm_completes_and_the_process_exits_0(
    database: &dyn TestDatabase,
) {
    let mut running = server::start(database, &[]).await;
    let body = br#"{"dateOfBirth":"1990-05-01"}"#;
    let mut stream = TcpStream::connect(running.addr).await.expect("connect");
    let head = format!(
        "PUT /hello/inflight HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
        .write_all(&body[..10])
        .await
        .expect("send half the body");
    tokio::time::sleep(Duration::from_millis(200)).await;

    running.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.expect("send the rest");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(running.wait_exit().await.success());
}

pub async fn readiness_fails_during_the_drain_delay_while_requests_are_still_served(
    database: &dyn TestDatabase,
) {
    let http = client();
    let mut running = server::start(database, &["--drain-delay", "2s"]).await;
    assert_eq!(
        http.get(running.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    running.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        http.get(running.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        put(&http, &running, "late", "1990-05-01").await,
        StatusCode::NO_CONTENT
    );
    assert!(running.wait_exit().await.success());
}

pub async fn two_hundred_concurrent_puts_all_land(database: &dyn TestDatabase) {
    let running = server::start(database, &[]).await;
    // Separate clients, so the writes arrive over many connections at once.
    let writes = (0..200).map(|n| {
        let running = &running;
        async move {
            let user = letters(n);
            let date = format!("19{:02}-0{}-1{}", n % 100, 1 + n % 9, n % 10);
            (put(&client(), running, &user, &date).await, user, date)
        }
    });
    let results = join_all(writes).await;
    assert!(
        results
            .iter()
            .all(|(status, _, _)| *status == StatusCode::NO_CONTENT)
    );
    let http = client();
    for (_, user, _) in &results {
        assert_eq!(
            greeting(&http, &running, user).await.0,
            StatusCode::OK,
            "{user} missing"
        );
    }
}

pub async fn access_logs_are_json_with_route_status_and_request_id(database: &dyn TestDatabase) {
    let mut running = server::start(database, &[]).await;
    let response = client()
        .get(running.url("/hello/nobody"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    running.terminate();
    running.wait_exit().await;
    let entry = running
        .log_entries()
        .into_iter()
        .find(|entry| entry["request_id"] == "trace-me-123")
        .expect("an access log line with the request id");
    assert_eq!(entry["route"], "/hello/{username}");
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["status"], 404);
    assert!(entry["latency_ms"].is_number());
    assert!(
        !entry.to_string().contains("nobody"),
        "usernames stay out of access logs"
    );
}

pub async fn a_client_that_stalls_mid_headers_is_disconnected(database: &dyn TestDatabase) {
    let running = server::start(database, &["--request-timeout", "1s"]).await;
    let mut stalled = TcpStream::connect(running.addr).await.expect("connect");
    stalled
        .write_all(b"GET /hello/alice HTTP/1.1\r\nHost: test\r\n")
        .await
        .expect("send part of the headers");
    let mut rest = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server kept a stalled connection open");
    assert_eq!(
        greeting(&client(), &running, "alice").await.0,
        StatusCode::NOT_FOUND,
        "still serving others"
    );
}

pub async fn healthcheck_subcommand_reports_liveness(database: &dyn TestDatabase) {
    let mut running = server::start(database, &[]).await;
    let url = running.url("/healthz");
    let healthy = tokio::process::Command::new(BINARY)
        .args(["healthcheck", "--url", &url])
        .status()
        .await
        .unwrap();
    assert!(healthy.success());
    running.terminate();
    running.wait_exit().await;
    let unreachable = tokio::process::Command::new(BINARY)
        .args(["healthcheck", "--url", &url])
        .output()
        .await
        .unwrap();
    assert!(!unreachable.status.success());
}

/// Instantiates every black-box test above for one backend.
#[macro_export]
macro_rules! binary_tests_for {
    ($backend:ident, $database:expr) => {
        $crate::binary_tests_for!($backend, $database, [
            data_survives_a_restart,
            acknowledged_writes_survive_kill_9,
            a_request_in_flight_at_sigterm_completes_and_the_process_exits_0,
            readiness_fails_during_the_drain_delay_while_requests_are_still_served,
            two_hundred_concurrent_puts_all_land,
            access_logs_are_json_with_route_status_and_request_id,
            a_client_that_stalls_mid_headers_is_disconnected,
            healthcheck_subcommand_reports_liveness,
        ]);
    };
    ($backend:ident, $database:expr, [$($test:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(&$database).await;
                }
            )*
        }
    };
}

binary_tests_for!(sqlite, SqliteDatabase::fresh().await);

/// Several processes may share one SQLite file (a rolling deploy on one host). Each caches
/// what it reads, yet none may answer from its cache once another has acknowledged a write.
#[tokio::test]
async fn processes_sharing_a_sqlite_file_see_each_others_writes_at_once() {
    let database = SqliteDatabase::fresh().await;
    let servers = [
        server::start(&database, &[]).await,
        server::start(&database, &[]).await,
    ];
    let client = client();
    let today = chrono::Utc::now().date_naive();
    for round in 0..20 {
        let writer = &servers[round % 2];
        let reader = &servers[(round + 1) % 2];
        // Both have the previous answer cached before the write.
        for server in &servers {
            greeting(&client, server, "shared").await;
            greeting(&client, server, "shared").await;
        }
        let date = format!("19{:02}-{:02}-{:02}", 50 + round, 1 + round % 12, 1 + round);
        assert_eq!(
            put(&client, writer, "shared", &date).await,
            StatusCode::NO_CONTENT
        );

        let expected = expected_greeting("shared", &date, today);
        assert_eq!(
            greeting(&client, reader, "shared").await,
            (StatusCode::OK, expected.clone())
        );
        assert_eq!(
            greeting(&client, writer, "shared").await,
            (StatusCode::OK, expected)
        );
    }
}

fn expected_greeting(user: &str, date: &str, today: chrono::NaiveDate) -> String {
    use hello_birthday::domain::{BirthDate, Greeting, IsoDate, Username};
    let birth_date = BirthDate::recorded(IsoDate::parse(date).unwrap());
    Greeting::new(Username::parse(user).unwrap(), birth_date, today).to_string()
}
binary_tests_for!(dynamodb, common::dynamodb::DynamoDbDatabase::fresh().await);

/// Configuration mistakes stop the process at once with one line on stderr, never a panic.
mod bad_configuration {
    use super::*;

    fn run_serve(args: &[&str]) -> std::process::Output {
        std::process::Command::new(BINARY)
            .arg("serve")
            .args(args)
            .output()
            .expect("run hello-birthday")
    }

    fn assert_one_clear_line(output: &std::process::Output, expected: &str) {
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "one line expected:\n{stderr}"
        );
        assert!(stderr.contains(expected), "{expected:?} not in {stderr:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    #[test]
    fn unknown_scheme() {
        let output = run_serve(&[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://db/users",
        ]);
        assert_one_clear_line(&output, "unknown scheme");
    }

    #[test]
    fn unparseable_url() {
        let output = run_serve(&["--listen", "127.0.0.1:0", "--database-url", "not a url"]);
        assert_one_clear_line(&output, "expected sqlite://PATH or dynamodb://TABLE");
    }

    #[test]
    fn unwritable_path() {
        let output = run_serve(&[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite:///proc/no/such/dir/users.db",
        ]);
        assert_one_clear_line(&output, "cannot open SQLite database");
    }

    #[test]
    fn port_in_use() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let output = run_serve(&["--listen", &addr, "--database-url", &url]);
        assert_one_clear_line(&output, "cannot listen on");
    }

    #[test]
    fn unparseable_duration() {
        let output = run_serve(&["--request-timeout", "soon"]);
        assert_one_clear_line(&output, "--request-timeout");
    }
}
