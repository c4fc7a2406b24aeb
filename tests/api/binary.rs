//! Black-box tests of the built binary: lifecycle, durability and concurrency, run once per
//! store backend with the same expectations.

use crate::common;

use std::time::Duration;

use crate::common::server::{
    self, BINARY, RunningServer, assert_not_ready_but_alive, client, status, status_becomes,
};
use crate::common::{SqliteDatabase, TestDatabase};
use futures::future::join_all;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
        let (http, doomed, user) = (&http, &doomed, common::nth_name(n));
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
    // Nothing observable says the server has parsed the head; a moment on loopback does.
    tokio::time::sleep(Duration::from_millis(200)).await;

    running.terminate();
    running.logged("no longer accepting connections").await;
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
    assert_eq!(status(&http, &running, "/readyz").await, StatusCode::OK);
    running.terminate();
    running.logged("shutting down").await;
    assert_eq!(
        status(&http, &running, "/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        put(&http, &running, "late", "1990-05-01").await,
        StatusCode::NO_CONTENT
    );
    assert!(running.wait_exit().await.success());
}

pub async fn two_hundred_concurrent_puts_all_land(database: &dyn TestDatabase) {
    // Room for all 200 at once: this is about writes racing, not load shedding, and the
    // emulator is slow enough that some would wait past the queue timeout for one of 128 slots.
    let running = server::start(database, &["--max-in-flight", "256"]).await;
    // Separate clients, so the writes arrive over many connections at once.
    let writes = (0..200).map(|n| {
        let running = &running;
        async move {
            let user = common::nth_name(n);
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

per_backend!(
    database: [
        data_survives_a_restart,
        acknowledged_writes_survive_kill_9,
        a_request_in_flight_at_sigterm_completes_and_the_process_exits_0,
        readiness_fails_during_the_drain_delay_while_requests_are_still_served,
        two_hundred_concurrent_puts_all_land,
        access_logs_are_json_with_route_status_and_request_id,
        a_client_that_stalls_mid_headers_is_disconnected,
        healthcheck_subcommand_reports_liveness,
    ],
);

/// Several processes may share one SQLite file (a rolling deploy on one host): once one has
/// acknowledged a write, every other answers it.
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
        // Both have read the previous answer before the write.
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
            "mysql://db/users",
        ]);
        assert_one_clear_line(&output, "unknown scheme");
    }

    #[test]
    fn unparseable_url() {
        let output = run_serve(&["--listen", "127.0.0.1:0", "--database-url", "not a url"]);
        assert_one_clear_line(
            &output,
            "expected sqlite://PATH, dynamodb://TABLE or postgres://USER@HOST[:PORT][,HOST2[:PORT]...]/DATABASE",
        );
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

/// Connections, overload and lifecycle: the timers, the caps and the signals,
/// seen from a client's socket. The store plays no part in these, so they run on SQLite.
mod connections {
    use std::time::Instant;

    use super::*;

    /// One HTTP/1.1 request on an open connection; returns the response head and body.
    async fn exchange(stream: &mut TcpStream, request: &str) -> String {
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = stream.read(&mut chunk).await.expect("read");
            assert!(
                read > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&response)
            );
            response.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&response).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .map_or(0, |n| n.trim().parse().expect("content-length"));
                if body.len() >= length {
                    return text;
                }
            }
        }
    }

    const GET_HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

    /// How long until the server closes `stream`, reading (and discarding) what it sends.
    async fn time_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut sink = Vec::new();
        tokio::time::timeout(limit, stream.read_to_end(&mut sink))
            .await
            .ok()
            .map(|_| started.elapsed())
    }

    /// The old behaviour closed idle connections after the header-read timeout, so an ALB
    /// reusing one got a 502. Idle and header-read are separate now: a connection idle for
    /// longer than the header-read timeout still serves, and is closed after the idle one.
    #[tokio::test]
    async fn an_idle_keep_alive_connection_outlives_the_header_read_timeout_then_closes() {
        let database = SqliteDatabase::fresh().await;
        let running = server::start(
            &database,
            &["--header-read-timeout", "1s", "--idle-timeout", "4s"],
        )
        .await;
        let mut stream = TcpStream::connect(running.addr).await.expect("connect");
        assert!(
            exchange(&mut stream, GET_HEALTHZ)
                .await
                .starts_with("HTTP/1.1 200")
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            exchange(&mut stream, GET_HEALTHZ)
                .await
                .starts_with("HTTP/1.1 200")
        );
        let closed_after = time_until_closed(&mut stream, Duration::from_secs(12))
            .await
            .expect("an idle connection is closed after the idle timeout");
        assert!(
            closed_after >= Duration::from_millis(3500),
            "closed after {closed_after:?}, before the 4 s idle timeout"
        );
    }

    #[tokio::test]
    async fn silent_connections_and_incomplete_http2_prefaces_are_closed_after_the_header_read_timeout()
     {
        let database = SqliteDatabase::fresh().await;
        let running = server::start(&database, &["--header-read-timeout", "1s"]).await;
        let mut silent = Vec::new();
        for _ in 0..20 {
            silent.push(TcpStream::connect(running.addr).await.expect("connect"));
        }
        let mut preface = TcpStream::connect(running.addr).await.expect("connect");
        preface
            .write_all(b"PRI * HTTP/2.0\r\n")
            .await
            .expect("half a preface");
        let mut trickle = TcpStream::connect(running.addr).await.expect("connect");
        trickle
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .expect("half a head");

        assert_eq!(
            greeting(&client(), &running, "alice").await.0,
            StatusCode::NOT_FOUND
        );
        for stream in silent.iter_mut().chain([&mut preface, &mut trickle]) {
            let closed = time_until_closed(stream, Duration::from_secs(5)).await;
            assert!(
                closed.is_some(),
                "a connection that sent no request was kept open"
            );
        }
    }

    #[tokio::test]
    async fn at_the_connection_cap_new_connections_wait_while_open_ones_keep_being_served() {
        let database = SqliteDatabase::fresh().await;
        let running = server::start(&database, &["--max-connections", "2"]).await;
        let mut first = TcpStream::connect(running.addr).await.expect("connect");
        let mut second = TcpStream::connect(running.addr).await.expect("connect");
        for stream in [&mut first, &mut second] {
            assert!(
                exchange(stream, GET_HEALTHZ)
                    .await
                    .starts_with("HTTP/1.1 200")
            );
        }
        let mut waiting = TcpStream::connect(running.addr)
            .await
            .expect("the backlog takes it");
        waiting
            .write_all(GET_HEALTHZ.as_bytes())
            .await
            .expect("send");
        let mut byte = [0u8; 1];
        let answered =
            tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut byte)).await;
        assert!(
            answered.is_err(),
            "a third connection was served past the cap of 2"
        );
        assert!(
            exchange(&mut first, GET_HEALTHZ)
                .await
                .starts_with("HTTP/1.1 200")
        );

        drop(first);
        let answer = tokio::time::timeout(Duration::from_secs(5), exchange(&mut waiting, ""))
            .await
            .expect("served once a slot is free");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test]
    async fn request_ids_are_bounded_trace_ids_logged_and_oversized_headers_refused_and_counted() {
        let database = SqliteDatabase::fresh().await;
        let mut running = server::start(&database, &[]).await;
        let trace = "Root=1-67891233-abcdef012345678912345678;Sampled=1";
        let response = client()
            .get(running.url("/healthz"))
            .header("x-request-id", "x".repeat(10_000))
            .header("x-amzn-trace-id", trace)
            .send()
            .await
            .unwrap();
        let replaced = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(replaced.len(), 36, "{replaced}");

        let mut stream = TcpStream::connect(running.addr).await.expect("connect");
        let huge = format!(
            "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n",
            "y".repeat(17 * 1024)
        );
        let answer = exchange(&mut stream, &huge).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        // The connection is counted once hyper has closed it, just after the answer.
        let mut counted = false;
        for _ in 0..50 {
            let metrics = client()
                .get(running.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            counted =
                metrics.contains(r#"http_connections_closed_total{reason="headers_too_large"} 1"#);
            if counted {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(counted, "the 431 was not counted");

        running.terminate();
        running.wait_exit().await;
        let entry = running
            .log_entries()
            .into_iter()
            .find(|entry| entry["request_id"] == replaced.as_str())
            .expect("the access log line of the request");
        assert_eq!(entry["trace_id"], trace);
        assert!(
            !entry.to_string().contains("xxxxxxxx"),
            "the oversized id was logged"
        );
    }
}

/// SIGTERM at any moment, a second signal, and exits that nothing can hold up.
mod lifecycle {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    use std::time::Instant;

    use super::*;

    /// The store is still opening (the test holds the SQLite file locked) when SIGTERM comes.
    #[tokio::test]
    async fn sigterm_while_the_store_opens_ends_the_process_promptly_and_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let lock = rusqlite::Connection::open(&path).unwrap();
        lock.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held(x);")
            .unwrap();
        let child = tokio::process::Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(format!("sqlite://{}", path.display()))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pid = child.id().expect("still starting") as libc::pid_t;
        // SAFETY: kill(2) on a pid we spawned has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let started = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .expect("exited")
            .unwrap();
        assert_eq!(
            output.status.signal(),
            None,
            "killed by the signal instead of handling it"
        );
        assert!(output.status.success(), "{:?}", output.status);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("stopped during start-up"), "{stdout}");
        drop(lock);
    }

    #[tokio::test]
    async fn a_second_signal_during_the_drain_exits_at_once_with_a_non_zero_status() {
        let database = SqliteDatabase::fresh().await;
        let mut running = server::start(&database, &["--drain-delay", "30s"]).await;
        running.terminate();
        running.logged("shutting down").await;
        running.signal(libc::SIGINT);
        let status = tokio::time::timeout(Duration::from_secs(5), running.wait_exit())
            .await
            .expect("the second signal ends the 30 s drain at once");
        assert_eq!(status.code(), Some(143));
        assert!(
            running.log_entries().iter().any(|entry| entry["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("second signal"))),
            "the forced exit is logged"
        );
    }

    /// A log reader that stops reading fills the pipe and blocks the log writer; the exit
    /// still comes within drain + grace + the fixed bound (here 0 + 1 s + 5 s).
    #[tokio::test]
    async fn shutdown_is_bounded_when_stdout_stalls() {
        let database = SqliteDatabase::fresh().await;
        let mut running = server::start(&database, &["--shutdown-grace", "1s"]).await;
        running.stall_stdout();
        let http = client();
        // About 250 bytes of access log each: well past a 64 KiB pipe.
        for _ in 0..1000 {
            http.get(running.url("/healthz")).send().await.unwrap();
        }
        running.terminate();
        let started = Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(15), running.wait_exit())
            .await
            .expect("a stalled stdout held the exit up");
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "took {:?}",
            started.elapsed()
        );
        assert!(status.success(), "{status:?}");
    }
}

/// The store's files and health, seen from outside: many processes starting on one fresh
/// file, URLs that cannot be shared, and readiness that follows what the store can do.
mod store_health {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use common::dynamodb::{
        ControlPlaneProxy, PrivateMoto, create_table_at, env_for, random_table_name,
    };
    use hello_birthday::test_support::dynamodb::READY_WINDOW;

    /// Every instance of a deploy may start at the same moment on a file that does not
    /// exist yet: each must create, switch to WAL and migrate without tripping on the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_processes_start_on_one_fresh_sqlite_file_at_once() {
        const PROCESSES: usize = 12;
        let database = SqliteDatabase::not_created();
        let servers = join_all((0..PROCESSES).map(|_| server::start(&database, &[]))).await;
        let http = client();
        assert_eq!(
            put(&http, &servers[0], "alice", "1990-05-01").await,
            StatusCode::NO_CONTENT
        );
        for server in &servers {
            assert_eq!(greeting(&http, server, "alice").await.0, StatusCode::OK);
            assert_eq!(status(&http, server, "/readyz").await, StatusCode::OK);
        }
    }

    #[test]
    fn sqlite_databases_that_connections_cannot_share_are_refused_at_start() {
        for url in [
            "sqlite://:memory:",
            "sqlite://file::memory:?cache=shared",
            "sqlite://file:x.db?mode=memory",
        ] {
            let output = std::process::Command::new(BINARY)
                .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
                .env_remove("DATABASE_URL")
                .output()
                .expect("run hello-birthday");
            assert!(!output.status.success(), "{url}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(stderr.trim_end().lines().count(), 1, "{url}: {stderr}");
            assert!(
                stderr.contains("not a file every connection can share"),
                "{url}: {stderr}"
            );
        }
    }

    /// Another process holds SQLite's write lock and never lets go: reads still work, but no
    /// write can land, so the instance must leave rotation until the lock is released. It
    /// is still alive: it recovers by itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readiness_fails_while_sqlite_cannot_take_writes_and_recovers_after() {
        let database = SqliteDatabase::fresh().await;
        let running = server::start(&database, &[]).await;
        let http = client();
        assert_eq!(status(&http, &running, "/readyz").await, StatusCode::OK);

        let holder = rusqlite::Connection::open(database.path()).expect("open");
        holder
            .execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        let within = Duration::from_secs(20);
        assert_not_ready_but_alive(&http, &running, within).await;
        assert_eq!(
            greeting(&http, &running, "nobody").await.0,
            StatusCode::NOT_FOUND,
            "reads work"
        );

        holder
            .execute_batch("ROLLBACK")
            .expect("release the write lock");
        assert_eq!(
            status_becomes(&http, &running, "/readyz", StatusCode::OK, within).await,
            StatusCode::OK
        );
        assert_eq!(
            put(&http, &running, "alice", "1990-05-01").await,
            StatusCode::NO_CONTENT
        );
    }

    /// A restore copied over the file of a running process: the process now serves a file
    /// nobody else sees. Readiness fails and writes are refused rather than lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlite_file_replaced_under_a_running_process_fails_readiness() {
        let database = SqliteDatabase::fresh().await;
        let running = server::start(&database, &[]).await;
        let http = client();
        assert_eq!(
            put(&http, &running, "alice", "1990-05-01").await,
            StatusCode::NO_CONTENT
        );

        let restored = SqliteDatabase::fresh().await;
        std::fs::copy(restored.path(), database.dir().join("restore.db")).expect("copy");
        std::fs::rename(database.dir().join("restore.db"), database.path()).expect("replace");
        assert_eq!(
            status_becomes(
                &http,
                &running,
                "/readyz",
                StatusCode::SERVICE_UNAVAILABLE,
                Duration::from_secs(10)
            )
            .await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            put(&http, &running, "bob", "1990-05-01").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    /// Readiness on DynamoDB follows the data plane. A proxy between the service and the
    /// emulator refuses `DescribeTable` as a throttle or a missing IAM permission would: the
    /// service stays ready. Stopping the emulator stops reads and writes: readiness fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamodb_readiness_ignores_the_control_plane_and_follows_the_data_plane() {
        let moto = PrivateMoto::start();
        let table = random_table_name();
        create_table_at(&moto.endpoint(), &table)
            .await
            .expect("create table");
        let proxy = Arc::new(ControlPlaneProxy::start(moto.endpoint()).await);
        let database = ProxiedTable {
            table: table.clone(),
            endpoint: proxy.endpoint(),
        };
        let running = server::start(&database, &[]).await;
        let http = client();
        assert_eq!(status(&http, &running, "/readyz").await, StatusCode::OK);

        proxy.deny_describe_table();
        assert!(
            create_table_at(&proxy.endpoint(), &table).await.is_err(),
            "DescribeTable is refused"
        );
        // Idle for longer than the readiness window: the background probe alone keeps it ready.
        let quiet_until = Instant::now() + 2 * READY_WINDOW;
        while Instant::now() < quiet_until {
            assert_eq!(
                status(&http, &running, "/readyz").await,
                StatusCode::OK,
                "control plane only"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(
            put(&http, &running, "alice", "1990-05-01").await,
            StatusCode::NO_CONTENT
        );

        drop(moto);
        // The data plane is down.
        assert_not_ready_but_alive(&http, &running, Duration::from_secs(30)).await;
    }

    struct ProxiedTable {
        table: String,
        endpoint: String,
    }

    impl TestDatabase for ProxiedTable {
        fn url(&self) -> String {
            format!("dynamodb://{}", self.table)
        }

        fn env(&self) -> Vec<(String, String)> {
            env_for(&self.endpoint)
        }
    }
}
