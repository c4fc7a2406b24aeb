//! Runs the real `hello-birthday` binary as a child process.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::TestDatabase;

pub const BINARY: &str = env!("CARGO_BIN_EXE_hello-birthday");
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RunningServer {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    /// While true, the test stops reading the server's stdout, as a stalled log shipper would.
    stdout_stalled: Arc<AtomicBool>,
}

/// Starts `hello-birthday serve` on a free loopback port and waits until it says it is ready.
pub async fn start(database: &dyn TestDatabase, extra_args: &[&str]) -> RunningServer {
    let mut command = Command::new(BINARY);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database.url(),
        ])
        .args(extra_args)
        .envs(database.env())
        .env_remove("LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn hello-birthday");
    let stdout = child.stdout.take().expect("piped stdout");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let stdout_stalled = Arc::new(AtomicBool::new(false));
    let addr = tokio::time::timeout(
        STARTUP_TIMEOUT,
        wait_until_ready(stdout, logs.clone(), stdout_stalled.clone()),
    )
    .await
    .expect("the server did not become ready in time");
    RunningServer {
        child,
        addr,
        logs,
        stdout_stalled,
    }
}

/// Reads JSON log lines until the "ready to serve" one, then keeps draining stdout in the
/// background so the server never blocks on a full pipe.
async fn wait_until_ready(
    stdout: ChildStdout,
    logs: Arc<Mutex<Vec<String>>>,
    stalled: Arc<AtomicBool>,
) -> SocketAddr {
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read stdout")
            .expect("the server exited before becoming ready");
        logs.lock().unwrap().push(line.clone());
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["message"] == "ready to serve" {
            break entry["address"]
                .as_str()
                .expect("address field")
                .parse()
                .expect("socket address");
        }
    };
    tokio::spawn(async move {
        loop {
            while stalled.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let Ok(Some(line)) = lines.next_line().await else {
                return;
            };
            logs.lock().unwrap().push(line);
        }
    });
    addr
}

/// The status of a GET of `path`, for the operations endpoints.
pub async fn status(
    http: &reqwest::Client,
    server: &RunningServer,
    path: &str,
) -> reqwest::StatusCode {
    http.get(server.url(path))
        .send()
        .await
        .expect("GET")
        .status()
}

/// Polls `path` until it answers `wanted`, for at most `within`; the last status seen.
pub async fn status_becomes(
    http: &reqwest::Client,
    server: &RunningServer,
    path: &str,
    wanted: reqwest::StatusCode,
    within: Duration,
) -> reqwest::StatusCode {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = status(http, server, path).await;
        if seen == wanted || tokio::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The server leaves rotation (`/readyz` answers 503) within `within`, while `/healthz` still
/// answers 200: a store outage it can recover from needs no restart.
pub async fn assert_not_ready_but_alive(
    http: &reqwest::Client,
    server: &RunningServer,
    within: Duration,
) {
    let unavailable = reqwest::StatusCode::SERVICE_UNAVAILABLE;
    let readiness = status_becomes(http, server, "/readyz", unavailable, within).await;
    assert_eq!(readiness, unavailable, "still ready after {within:?}");
    let liveness = status(http, server, "/healthz").await;
    assert_eq!(liveness, reqwest::StatusCode::OK, "it can recover");
}

impl RunningServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id().expect("the server is still running") as libc::pid_t;
        // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(result, 0, "kill({pid}, {signal}) failed");
    }

    /// Stops reading the server's stdout: once the pipe is full, its log writes block.
    pub fn stall_stdout(&self) {
        self.stdout_stalled.store(true, Ordering::Relaxed);
    }

    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    pub async fn kill_hard(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait_exit().await;
    }

    pub async fn wait_exit(&mut self) -> ExitStatus {
        tokio::time::timeout(EXIT_TIMEOUT, self.child.wait())
            .await
            .expect("the server did not exit in time")
            .expect("wait for the server")
    }

    /// Waits until the server has logged a line whose message starts with `prefix`: the exact
    /// moment a step of its shutdown sequence happened, instead of a guess with a sleep.
    pub async fn logged(&self, prefix: &str) {
        let deadline = tokio::time::Instant::now() + EXIT_TIMEOUT;
        while !self.log_entries().iter().any(|entry| {
            entry["message"]
                .as_str()
                .is_some_and(|message| message.starts_with(prefix))
        }) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never logged {prefix:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every stdout line so far, parsed as JSON (the binary logs JSON by default).
    pub fn log_entries(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

/// An HTTP client for the black-box tests: patient enough for a loaded machine, never hung forever.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The value of one exact series (`name{labels}`) on `/metrics`, 0 when absent.
pub async fn metric(server: &RunningServer, series: &str) -> f64 {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}
