//! DynamoDB for tests: a local emulator (moto) shared by every test of one test binary, and a
//! fresh table with a random name for each test, so tests never see each other's data.
//!
//! `scripts/check/10-rust.sh` starts one emulator for all test binaries and passes its address
//! in `HELLO_BIRTHDAY_TEST_DYNAMODB_ENDPOINT`. Without it (plain `cargo test`), the test binary
//! starts its own from the venv that script installs. These tests never skip.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hello_birthday::store::{Purpose, UserStore};
use hello_birthday::test_support::dynamodb as emulated;

use super::TestDatabase;

pub const ENDPOINT_VAR: &str = "HELLO_BIRTHDAY_TEST_DYNAMODB_ENDPOINT";
pub const REGION: &str = "eu-west-1";

/// The emulator's base URL, starting it on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => start_moto(),
    })
}

fn moto_server() -> PathBuf {
    let moto = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/venvs/moto/bin/moto_server");
    assert!(
        moto.exists(),
        "{} is missing: run ./scripts/test.sh rust once to install the emulator",
        moto.display()
    );
    moto
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_until_listening(port: u16) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on {address}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_moto() -> String {
    let moto = moto_server();
    let port = free_port();
    // A static's destructor never runs, so a watcher shell stops the emulator once this test
    // process is gone, instead of leaving one moto behind per test binary.
    let script = format!(
        r#""$0" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; trap 'kill $m' EXIT; while kill -0 {pid} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done"#,
        pid = std::process::id()
    );
    let mut watcher = Command::new("sh")
        .args(["-c", &script])
        .arg(&moto)
        .stdin(Stdio::null())
        .spawn()
        .expect("start moto_server");
    // Reaps the watcher if it ends first (moto crashed), so no zombie lingers.
    std::thread::spawn(move || watcher.wait());
    wait_until_listening(port);
    format!("http://127.0.0.1:{port}")
}

/// An emulator of one test's own, for tests that stop and restart it. Stopped on drop.
pub struct PrivateMoto {
    child: Child,
    pub port: u16,
}

impl PrivateMoto {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts on a given port, e.g. the one a previous instance used, with empty state.
    pub fn start_on(port: u16) -> Self {
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        wait_until_listening(port);
        Self { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment that points the binary (or the SDK's standard chain) at the emulator.
pub fn env() -> Vec<(String, String)> {
    env_for(endpoint())
}

/// Like [`env`], for any endpoint (a private emulator, or a proxy in front of one).
pub fn env_for(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        // Keep a developer's own AWS profile out of the tests.
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub fn random_table_name() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A store on `table` at any endpoint (also unreachable ones, for failure tests), opened as
/// the service opens one for `purpose`, with small Scan pages.
pub async fn store_at(endpoint: &str, table: &str, purpose: Purpose) -> Box<dyn UserStore> {
    emulated::open(endpoint, REGION, table, purpose)
        .await
        .expect("open a DynamoDB store")
}

/// Creates `table` at `endpoint`, as `create-table` does.
pub async fn create_table_at(endpoint: &str, table: &str) -> anyhow::Result<()> {
    emulated::create_table(endpoint, REGION, table).await
}

/// Creates a table with a random name and returns a serving store on it.
pub async fn fresh_store() -> (Arc<dyn UserStore>, String) {
    let table = random_table_name();
    create_table_at(endpoint(), &table)
        .await
        .expect("create table");
    let store = store_at(endpoint(), &table, Purpose::Serve).await;
    (Arc::from(store), table)
}

/// A fresh table the real binary can be pointed at.
pub struct DynamoDbDatabase {
    table: String,
}

impl DynamoDbDatabase {
    pub async fn fresh() -> Self {
        let (_, table) = fresh_store().await;
        Self { table }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

impl TestDatabase for DynamoDbDatabase {
    fn url(&self) -> String {
        format!("dynamodb://{}", self.table)
    }

    fn env(&self) -> Vec<(String, String)> {
        env()
    }
}

/// Sits between the binary and an emulator and forwards every request, until told to refuse
/// the control plane's `DescribeTable` (known by its `X-Amz-Target` header) with the
/// `AccessDeniedException` a missing IAM permission gives; reads and writes still go through.
/// Stopped on drop.
pub struct ControlPlaneProxy {
    address: SocketAddr,
    deny: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

struct ProxyState {
    upstream: String,
    deny: Arc<std::sync::atomic::AtomicBool>,
    client: reqwest::Client,
}

impl ControlPlaneProxy {
    pub async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let deny = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let state = Arc::new(ProxyState {
            upstream,
            deny: deny.clone(),
            client: reqwest::Client::new(),
        });
        let router = axum::Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            address,
            deny,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn deny_describe_table(&self) {
        self.deny.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for ControlPlaneProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    axum::extract::State(state): axum::extract::State<Arc<ProxyState>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if state.deny.load(std::sync::atomic::Ordering::SeqCst) && target.ends_with(".DescribeTable") {
        let denied = r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User is not authorized to perform: dynamodb:DescribeTable (test proxy)"}"#;
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
            denied,
        )
            .into_response();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = state
        .client
        .request(method, format!("{}{path}", state.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut answer_headers = answer.headers().clone();
    for hop in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ] {
        answer_headers.remove(hop);
    }
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().extend(answer_headers);
    response
}
