//! Black-box tests of the real binary against what takes services down without being a bug of
//! theirs: clients that hold resources (slow uploads, readers that stop reading, bodies
//! announced far over the limit), disks that fill, database files moved under the process,
//! requests their clients abandon, and import files with one enormous field.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::Request;
use futures::future::join_all;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::server::{self, BINARY, RunningServer, metric};
use crate::common::{SqliteDatabase, TestDatabase};

/// More slow uploads than the default `--max-in-flight` (128).
const SLOW_UPLOADS: usize = 160;
const BODY: &str = r#"{"dateOfBirth":"1990-05-01"}"#;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn status(server: &RunningServer, path: &str) -> StatusCode {
    client()
        .get(server.url(path))
        .send()
        .await
        .expect("GET")
        .status()
}

async fn put(server: &RunningServer, user: &str) -> reqwest::Response {
    client()
        .put(server.url(&format!("/hello/{user}")))
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await
        .expect("PUT")
}

/// Polls `series` until it reaches `at_least`, for at most `within`; the last value seen.
async fn metric_reaches(
    server: &RunningServer,
    series: &str,
    at_least: f64,
    within: Duration,
) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        let value = metric(server, series).await;
        if value >= at_least || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `path` until it answers `wanted`, for at most `within`; the last status seen.
async fn status_becomes(
    server: &RunningServer,
    path: &str,
    wanted: StatusCode,
    within: Duration,
) -> StatusCode {
    let deadline = Instant::now() + within;
    loop {
        let seen = status(server, path).await;
        if seen == wanted || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The operations endpoints answer 200 and a normal write and read go through, several times
/// over a second or two: while hostile clients hold whatever they hold.
async fn everyone_else_is_served(server: &RunningServer) {
    for round in 0..3 {
        for path in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(status(server, path).await, StatusCode::OK, "{path}");
        }
        let user = format!("normal{}", ["a", "b", "c"][round]);
        let written = put(server, &user).await;
        assert_eq!(
            written.status(),
            StatusCode::NO_CONTENT,
            "{:?}",
            written.text().await
        );
        let path = format!("/hello/{user}");
        assert_eq!(status(server, &path).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads one response head (up to the blank line) from a raw HTTP/1.1 connection.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).await.expect("read the answer");
        assert!(read > 0, "closed before an answer: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A PUT whose headers announce a small JSON body of which only the first byte is sent.
async fn slow_upload(server: &RunningServer, n: usize) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "PUT /hello/slow{} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        crate::common::nth_name(n),
        BODY.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    stream
}

pub async fn slow_uploads_over_http1_starve_no_one(database: &dyn TestDatabase) {
    let running = server::start(database, &["--request-timeout", "60s"]).await;
    let uploads = join_all((0..SLOW_UPLOADS).map(|n| slow_upload(&running, n))).await;
    // Nothing observable says the server has parsed their heads; a moment on loopback does.
    tokio::time::sleep(Duration::from_millis(500)).await;
    everyone_else_is_served(&running).await;
    drop(uploads);
}

/// An HTTP/2 connection to the server, driven in the background.
async fn h2_connect(server: &RunningServer) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let (send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(connection);
    send
}

pub async fn slow_uploads_over_http2_starve_no_one(database: &dyn TestDatabase) {
    const CONNECTIONS: usize = 4;
    const STREAMS: usize = 64;
    let running = server::start(database, &["--request-timeout", "60s"]).await;
    let mut connections = Vec::new();
    let mut streams = Vec::new();
    for connection in 0..CONNECTIONS {
        let mut send = h2_connect(&running).await;
        for stream in 0..STREAMS {
            send = send.ready().await.expect("ready");
            let request = Request::put(format!(
                "http://{}/hello/slow{}",
                running.addr,
                crate::common::nth_name(connection * STREAMS + stream)
            ))
            .header("content-type", "application/json")
            .header("content-length", BODY.len())
            .body(())
            .unwrap();
            // Streams past the server's concurrency limit wait on this side, unopened.
            let (response, mut body) = send.send_request(request, false).expect("open a stream");
            body.send_data(Bytes::from_static(b"{"), false)
                .expect("one byte");
            streams.push((response, body));
        }
        connections.push(send);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    everyone_else_is_served(&running).await;
    drop((streams, connections));
}

/// A PUT sent whole on a raw connection, whose answer is not waited for.
async fn whole_put(server: &RunningServer, user: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = format!(
        "PUT /hello/{user} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    stream
}

/// Another connection holds SQLite's write lock, so every PUT waits in the store (up to its
/// 5 s busy timeout) holding an in-flight slot: with 2 slots, both are taken. The operations
/// endpoints must still answer at once, never shed after the queue timeout.
#[tokio::test]
async fn operations_endpoints_are_never_shed_while_every_slot_is_taken() {
    let database = SqliteDatabase::fresh().await;
    let running = server::start(
        &database,
        &["--max-in-flight", "2", "--queue-timeout", "100ms"],
    )
    .await;
    let holder = rusqlite::Connection::open(database.path()).expect("open");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let writes = [
        whole_put(&running, "blockeda").await,
        whole_put(&running, "blockedb").await,
    ];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shed = put(&running, "third").await;
    assert_eq!(
        shed.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "both slots are taken"
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(status(&running, path).await, StatusCode::OK, "{path}");
    }
    holder.execute_batch("ROLLBACK").expect("release");
    drop(writes);
}

/// One HTTP/2 connection may not take more than a quarter of the in-flight slots.
#[tokio::test]
async fn one_http2_connection_gets_a_bounded_share_of_the_slots() {
    let database = SqliteDatabase::fresh().await;
    let running = server::start(&database, &["--max-in-flight", "32"]).await;
    let send = h2_connect(&running).await;
    let send = send.ready().await.expect("ready");
    // The server's SETTINGS arrive with the handshake; one round trip makes sure of them.
    let (response, _) = send
        .clone()
        .send_request(
            Request::get(format!("http://{}/healthz", running.addr))
                .body(())
                .unwrap(),
            true,
        )
        .expect("request");
    assert_eq!(response.await.expect("answer").status(), StatusCode::OK);
    let streams = send.current_max_send_streams();
    assert!(
        streams <= 8,
        "{streams} concurrent streams on one connection"
    );
}

/// A client that sends pipelined requests and never reads the answers: once the socket
/// buffers are full, our writes make no progress. The connection is closed after the send
/// timeout and counted; with a connection cap of 2, two such clients do not lock others out.
#[tokio::test]
async fn clients_that_stop_reading_are_disconnected_and_counted() {
    let database = SqliteDatabase::fresh().await;
    let running = server::start(
        &database,
        &["--max-connections", "2", "--send-timeout", "1s"],
    )
    .await;
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..2 {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(1024).expect("SO_RCVBUF");
        let stream = socket.connect(running.addr).await.expect("connect");
        let (reader, mut writer) = stream.into_split();
        writers.push(tokio::spawn(async move {
            for _ in 0..20_000 {
                let request = b"GET /openapi.json HTTP/1.1\r\nHost: test\r\n\r\n";
                if writer.write_all(request).await.is_err() {
                    return;
                }
            }
        }));
        readers.push(reader);
    }
    let series = r#"http_connections_closed_total{reason="send_timeout"}"#;
    // Served on a third connection once a slot frees: both are closed within the send timeout
    // plus the time their buffers take to fill.
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let value = metric(&running, series).await;
            if value >= 2.0 {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the non-reading clients were not disconnected");
    assert_eq!(closed, 2.0);
    for mut reader in readers {
        let mut sink = Vec::new();
        let ended =
            tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut sink)).await;
        assert!(ended.is_ok(), "the connection is still open");
    }
    assert_eq!(status(&running, "/healthz").await, StatusCode::OK);
    for writer in writers {
        writer.abort();
    }
}

/// A client that behaved, sat idle, then stops reading: its connection's timer was set for the
/// idle timeout (75 s), yet the send timeout still applies from the first write that waits.
#[tokio::test]
async fn a_client_that_stops_reading_after_a_quiet_spell_gets_the_send_timeout() {
    let database = SqliteDatabase::fresh().await;
    let running = server::start(
        &database,
        &["--send-timeout", "1s", "--header-read-timeout", "1s"],
    )
    .await;
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1024).expect("SO_RCVBUF");
    let mut stream = socket.connect(running.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("request");
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Past the header-read timer: only the idle timeout is left to wake the connection.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_reader, mut writer) = stream.into_split();
    let flood = tokio::spawn(async move {
        let request = b"GET /openapi.json HTTP/1.1\r\nHost: test\r\n\r\n";
        while writer.write_all(request).await.is_ok() {}
    });
    let series = r#"http_connections_closed_total{reason="send_timeout"}"#;
    let closed = metric_reaches(&running, series, 1.0, Duration::from_secs(10)).await;
    flood.abort();
    assert_eq!(closed, 1.0, "not closed long before the idle timeout");
}

/// A body announced over the limit is refused before any of it is read: no `100 Continue`,
/// and no waiting for bytes that will never be accepted anyway.
#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_it_is_read() {
    let database = SqliteDatabase::fresh().await;
    // A request timeout far longer than the waits below: a 413 here cannot be a timeout.
    let running = server::start(&database, &["--request-timeout", "60s"]).await;
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut stream = TcpStream::connect(running.addr).await.expect("connect");
        let head = format!(
            "PUT /hello/alice HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{expect}Content-Length: 1000000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("send");
        let answer = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream))
            .await
            .expect("answered without the body");
        assert!(answer.starts_with("HTTP/1.1 413"), "{expect:?}: {answer}");
    }
    // 5 000 bytes announced, 4 000 sent: refused at once, not after the request timeout.
    let mut stream = TcpStream::connect(running.addr).await.expect("connect");
    let head = "PUT /hello/alice HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(&[b' '; 4000]).await.expect("send");
    let answer = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream))
        .await
        .expect("answered without the rest of the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let send = h2_connect(&running).await;
    let mut send = send.ready().await.expect("ready");
    let request = Request::put(format!("http://{}/hello/alice", running.addr))
        .header("content-type", "application/json")
        .header("content-length", 1_000_000_000u64)
        .body(())
        .unwrap();
    let (response, _body) = send.send_request(request, false).expect("stream");
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("answered over HTTP/2 without the body")
        .expect("response");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        metric(
            &running,
            r#"http_requests_total{method="PUT",route="/hello/{username}",status="413"}"#
        )
        .await,
        4.0
    );
}

/// The access-log lines of `route` with `status`, once the server has exited.
fn log_lines(running: &RunningServer, method: &str, code: u16) -> Vec<serde_json::Value> {
    running
        .log_entries()
        .into_iter()
        .filter(|entry| {
            entry["message"] == "request" && entry["method"] == method && entry["status"] == code
        })
        .collect()
}

const ABANDONED: &str =
    r#"http_requests_total{method="PUT",route="/hello/{username}",status="499"}"#;

/// A client that gives up while sending its body leaves one log line and one sample, 499.
pub async fn a_request_abandoned_mid_body_is_logged_and_counted_as_499(
    database: &dyn TestDatabase,
) {
    let mut running = server::start(database, &[]).await;
    let stream = slow_upload(&running, 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    assert_eq!(
        metric_reaches(&running, ABANDONED, 1.0, Duration::from_secs(10)).await,
        1.0
    );
    running.terminate();
    running.wait_exit().await;
    assert_eq!(log_lines(&running, "PUT", 499).len(), 1);
}

/// The store is slow (another connection holds SQLite's write lock) and the client closes
/// while its PUT waits: one log line and one sample, 499, and nothing else for it.
#[tokio::test]
async fn a_request_abandoned_while_the_store_is_slow_is_logged_and_counted_as_499() {
    let database = SqliteDatabase::fresh().await;
    let mut running = server::start(&database, &[]).await;
    let holder = rusqlite::Connection::open(database.path()).expect("open");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let stream = whole_put(&running, "patient").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    assert_eq!(
        metric_reaches(&running, ABANDONED, 1.0, Duration::from_secs(10)).await,
        1.0
    );
    holder.execute_batch("ROLLBACK").expect("release");
    running.terminate();
    running.wait_exit().await;
    let lines: Vec<_> = running
        .log_entries()
        .into_iter()
        .filter(|entry| entry["message"] == "request" && entry["method"] == "PUT")
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 499);
    assert_eq!(lines[0]["route"], "/hello/{username}");
}

per_backend!(
    database: [
        slow_uploads_over_http1_starve_no_one,
        slow_uploads_over_http2_starve_no_one,
        a_request_abandoned_mid_body_is_logged_and_counted_as_499,
    ],
);

/// A SQLite database at a path of the test's choosing.
struct SqliteAt(PathBuf);

impl TestDatabase for SqliteAt {
    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

/// Says why a test could not run, on the terminal even when the harness captures output.
fn skip(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// A small tmpfs, mounted for one test and unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` where this machine does not let the test mount one (not root, no
    /// CAP_SYS_ADMIN): the caller skips, saying why.
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes until the file system says it is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create the filler");
    for chunk in [1 << 20, 4096, 512] {
        while file.write_all(&vec![0u8; chunk]).is_ok() {}
    }
    let _ = file.sync_all();
}

/// The disk under the SQLite file fills up: a PUT is 503 with `Retry-After` (temporary, not
/// our bug), readiness fails and stays failed past the idle probe's interval (an empty commit
/// writes nothing, so it proves nothing), the process is still alive, and once space returns
/// the same process becomes ready again by itself and takes writes. Every write acknowledged
/// before, during and after is still there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_503_not_ready_until_a_real_write_succeeds_and_loses_nothing() {
    const TEST: &str = "a_full_disk_is_503_not_ready_until_a_real_write_succeeds";
    let tmpfs = match Tmpfs::mount("8m") {
        Ok(tmpfs) => tmpfs,
        Err(reason) => return skip(TEST, &reason),
    };
    let database = SqliteAt(tmpfs.path().join("users.db"));
    let mut running = server::start(&database, &[]).await;
    let mut acknowledged = Vec::new();
    assert_eq!(
        put(&running, "before").await.status(),
        StatusCode::NO_CONTENT
    );
    acknowledged.push("before".to_owned());

    let filler = tmpfs.path().join("filler");
    fill(&filler);
    let mut refused = None;
    for n in 0..500 {
        let user = format!("full{}", crate::common::nth_name(n));
        let answer = put(&running, &user).await;
        match answer.status() {
            StatusCode::NO_CONTENT => acknowledged.push(user),
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(answer);
                break;
            }
            other => panic!("{other}: {:?}", answer.text().await),
        }
    }
    let refused = refused.expect("500 writes to a full disk were all acknowledged");
    assert!(refused.headers().contains_key("retry-after"));
    let error = refused.text().await.unwrap();
    assert!(error.contains("temporarily unavailable"), "{error}");

    // Longer than the idle probe's 5 s: readiness stays failed while the disk is full.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        assert_eq!(
            status(&running, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(&running, "/healthz").await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    std::fs::remove_file(&filler).expect("free the space");
    assert_eq!(
        status_becomes(&running, "/readyz", StatusCode::OK, Duration::from_secs(20)).await,
        StatusCode::OK,
        "ready again once space returns, without a client write"
    );
    assert_eq!(
        put(&running, "after").await.status(),
        StatusCode::NO_CONTENT
    );
    acknowledged.push("after".to_owned());

    running.terminate();
    assert!(running.wait_exit().await.success());
    let restarted = server::start(&database, &[]).await;
    for user in &acknowledged {
        let path = format!("/hello/{user}");
        assert_eq!(
            status(&restarted, &path).await,
            StatusCode::OK,
            "{user} lost"
        );
    }
}

/// Every way the configured path can stop naming the file the process has open: the process
/// leaves rotation and refuses writes rather than acknowledge them into a file nobody sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_watch_notices_every_way_the_path_can_stop_naming_the_open_file() {
    async fn case(how: &'static str) {
        let original = SqliteDatabase::fresh().await;
        let dir = original.dir();
        let other = dir.join("other.db");
        std::fs::copy(original.path(), &other).expect("a second database");
        let configured = if how == "symlink switched" {
            let link = dir.join("current.db");
            std::os::unix::fs::symlink(original.path(), &link).expect("symlink");
            link
        } else {
            original.path()
        };
        let running = server::start(&SqliteAt(configured.clone()), &[]).await;
        assert_eq!(
            put(&running, "alice").await.status(),
            StatusCode::NO_CONTENT
        );
        match how {
            "deleted" => std::fs::remove_file(&configured).expect("delete"),
            "renamed" => std::fs::rename(&configured, dir.join("moved.db")).expect("rename"),
            "replaced" => std::fs::rename(&other, &configured).expect("replace"),
            "symlink switched" => {
                let next = dir.join("next.db");
                std::os::unix::fs::symlink(&other, &next).expect("symlink");
                std::fs::rename(&next, &configured).expect("switch the symlink");
            }
            _ => unreachable!(),
        }
        assert_eq!(
            status_becomes(
                &running,
                "/readyz",
                StatusCode::SERVICE_UNAVAILABLE,
                Duration::from_secs(10)
            )
            .await,
            StatusCode::SERVICE_UNAVAILABLE,
            "{how}: still ready"
        );
        assert_eq!(
            put(&running, "bob").await.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{how}: a write was accepted"
        );
    }
    join_all(["deleted", "renamed", "replaced", "symlink switched"].map(case)).await;
}

/// One name of 128 MiB: `import` refuses the file while reading that record, with memory
/// bounded by what a valid record can take, not by the field. Peak RSS is the kernel's
/// figure for the child (getrusage, taken by a Python wrapper that runs nothing else).
#[tokio::test]
async fn import_refuses_a_huge_name_with_bounded_memory() {
    const NAME_MIB: usize = 128;
    const MAX_PEAK_RSS_MIB: u64 = 64;
    let database = SqliteDatabase::fresh().await;
    let measure = "import resource, subprocess, sys\n\
        code = subprocess.run(sys.argv[1:]).returncode\n\
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
        sys.exit(code)";
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", measure, BINARY, "import", "-", "--database-url"])
        .arg(database.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 and hello-birthday");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = tokio::spawn(async move {
        let chunk = vec![b'a'; 1 << 20];
        let _ = stdin
            .write_all(br#"{"alice": {"dateOfBirth": "1990-05-01"}, ""#)
            .await;
        for _ in 0..NAME_MIB {
            if stdin.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = stdin
            .write_all(br#"": {"dateOfBirth": "1990-05-01"}}"#)
            .await;
    });
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("import finished")
        .expect("wait");
    feeder.await.expect("feeder");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_kib: u64 = stdout
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stdout:?}"));
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "import of a {NAME_MIB} MiB name: peak RSS {:.1} MiB",
            peak_kib as f64 / 1024.0
        );
    }
    assert!(!output.status.success(), "{stdout} {stderr}");
    assert!(stderr.contains("longer than"), "{stderr}");
    assert!(
        peak_kib < MAX_PEAK_RSS_MIB * 1024,
        "peak RSS {peak_kib} KiB for a {NAME_MIB} MiB name"
    );
}
