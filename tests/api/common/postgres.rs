//! PostgreSQL for tests: a real server on 127.0.0.1, shared by every test of one test binary,
//! and a fresh database for each test (cloned from a template that already holds the schema),
//! so tests never see each other's data. Tests that stop, freeze or reconfigure a server start
//! a private one.
//!
//! `scripts/check/10-rust.sh` starts one server for all test binaries and passes its
//! superuser URL in `HELLO_BIRTHDAY_TEST_POSTGRES_URL`. Without it (plain `cargo test`), the
//! test binary starts its own. Servers are made and started by `scripts/lib/postgres-server.sh`
//! (initdb and postgres refuse to run as root; it runs them as the `postgres` user then).
//! These tests never skip.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hello_birthday::store::{self, DatabaseUrl, StoreOptions, UserStore};
use tempfile::TempDir;
use tokio_postgres::{Client, NoTls};

use super::TestDatabase;

pub const URL_VAR: &str = "HELLO_BIRTHDAY_TEST_POSTGRES_URL";
const READY_WITHIN: Duration = Duration::from_secs(30);

fn server_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/postgres-server.sh")
}

/// Where the server's programs are (`pg_isready`, `pg_ctl`, ...).
pub fn bin_dir() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let output = Command::new(server_script())
            .arg("bin")
            .output()
            .expect("run postgres-server.sh");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
    .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A server the tests can reach as the trusted superuser `postgres`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    pub port: u16,
}

impl Server {
    /// The URL for `user` on database `dbname`.
    pub fn url(&self, user: &str, dbname: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{dbname}", self.port)
    }

    /// A superuser session on `dbname`.
    pub async fn admin(&self, dbname: &str) -> Client {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname={dbname} connect_timeout=10",
                self.port
            ),
            NoTls,
        )
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL on port {}: {e}", self.port));
        tokio::spawn(connection);
        client
    }

    /// A new database holding the schema, cloned from this process's template.
    pub async fn fresh_database(&self) -> PostgresDatabase {
        self.database_from(&self.template().await).await
    }

    /// A new database without the schema (what `create-table` starts from).
    pub async fn empty_database(&self) -> PostgresDatabase {
        self.database_from("template1").await
    }

    async fn database_from(&self, template: &str) -> PostgresDatabase {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        create_database(self, &name, template).await;
        PostgresDatabase {
            server: *self,
            name,
        }
    }

    /// A database with the schema made by the service's own `create-table` code, created
    /// once per test process and server, and cloned for each test.
    async fn template(&self) -> String {
        static TEMPLATES: tokio::sync::Mutex<Vec<(u16, String)>> =
            tokio::sync::Mutex::const_new(Vec::new());
        let mut templates = TEMPLATES.lock().await;
        if let Some((_, name)) = templates.iter().find(|(port, _)| *port == self.port) {
            return name.clone();
        }
        let name = format!("template_{}", uuid::Uuid::new_v4().simple());
        create_database(self, &name, "template1").await;
        let url: DatabaseUrl = self.url("postgres", &name).parse().expect("valid URL");
        store::create(&url).await.expect("create the schema");
        templates.push((self.port, name.clone()));
        name
    }
}

/// `CREATE DATABASE`, retried while the template still has a session ending (the one that
/// made its schema closes in the background) or another clone is being made from it.
async fn create_database(server: &Server, name: &str, template: &str) {
    let admin = server.admin("postgres").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let created = admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"
            ))
            .await;
        match created {
            Ok(()) => return,
            Err(error) if Instant::now() < deadline && is_template_busy(&error) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("CREATE DATABASE {name}: {error:?}"),
        }
    }
}

fn is_template_busy(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|db| db.code() == &tokio_postgres::error::SqlState::OBJECT_IN_USE)
}

/// The server every test of this binary shares, started on first use.
pub fn shared() -> Server {
    static SHARED: OnceLock<Server> = OnceLock::new();
    *SHARED.get_or_init(|| match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Server {
            port: port_of(&url),
        },
        _ => start_shared(),
    })
}

/// The port of `postgres://USER@127.0.0.1:PORT/...`, the shape the check passes.
fn port_of(url: &str) -> u16 {
    let address = url.split_once('@').map_or(url, |(_, rest)| rest);
    address
        .split_once('/')
        .and_then(|(host, _)| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{URL_VAR} must be postgres://USER@127.0.0.1:PORT/DATABASE"))
}

/// A data directory's parent, which the `postgres` user must be able to enter.
fn server_dir() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hello-birthday-pg-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the server's folder");
    dir
}

fn init(data: &Path) {
    let output = Command::new(server_script())
        .arg("init")
        .arg(data)
        .output()
        .expect("run postgres-server.sh init");
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Blocks until the server on `port` accepts connections.
fn wait_until_ready(port: u16) {
    let deadline = Instant::now() + READY_WITHIN;
    let isready = bin_dir().join("pg_isready");
    loop {
        let ready = Command::new(&isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A data directory as initdb leaves it, made on first use and removed after this process.
fn pristine() -> &'static Path {
    static PRISTINE: OnceLock<PathBuf> = OnceLock::new();
    PRISTINE.get_or_init(|| {
        let dir = server_dir().keep();
        remove_after_exit(&dir);
        init(&dir.join("data"));
        dir.join("data")
    })
}

/// Removes `dir` once this test process has exited: a static's destructor never runs.
fn remove_after_exit(dir: &Path) {
    let script = format!(
        r#"while kill -0 {pid} 2>/dev/null; do sleep 1; done; rm -rf "$0""#,
        pid = std::process::id()
    );
    let mut watcher = Command::new("sh")
        .args(["-c", &script])
        .arg(dir)
        .stdin(Stdio::null())
        .spawn()
        .expect("start a watcher");
    std::thread::spawn(move || watcher.wait());
}

fn start_shared() -> Server {
    // Kept until the process ends, then removed by the watcher below.
    let dir = server_dir().keep();
    let data = dir.join("data");
    init(&data);
    let port = free_port();
    // A static's destructor never runs, so a watcher shell stops the server (fast shutdown)
    // and removes its files once this test process is gone.
    let script = format!(
        r#""$0" run "$1" {port} >"$2/server.log" 2>&1 & m=$!; trap 'kill -INT $m; wait $m; rm -rf "$2"' EXIT; while kill -0 {pid} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done"#,
        pid = std::process::id()
    );
    let mut watcher = Command::new("sh")
        .args(["-c", &script])
        .arg(server_script())
        .arg(&data)
        .arg(&dir)
        .stdin(Stdio::null())
        .spawn()
        .expect("start PostgreSQL");
    std::thread::spawn(move || watcher.wait());
    wait_until_ready(port);
    Server { port }
}

/// One test's own database on a server, dropped (with any sessions left) when the test ends.
pub struct PostgresDatabase {
    pub server: Server,
    pub name: String,
}

impl PostgresDatabase {
    pub async fn admin(&self) -> Client {
        self.server.admin(&self.name).await
    }
}

impl TestDatabase for PostgresDatabase {
    fn url(&self) -> String {
        self.server.url("postgres", &self.name)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server, self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with a
        // runtime of its own can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let Ok((client, connection)) = tokio_postgres::connect(
                    &format!(
                        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=2",
                        server.port
                    ),
                    NoTls,
                )
                .await
                else {
                    return; // a private server already stopped
                };
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        });
        let _ = dropped.join();
    }
}

/// A fresh database with the schema and a store on it, opened as the binary opens it.
pub async fn fresh_store() -> (Arc<dyn UserStore>, PostgresDatabase) {
    let database = shared().fresh_database().await;
    let url: DatabaseUrl = database.url().parse().expect("valid URL");
    let store = store::open(&url, StoreOptions::serve())
        .await
        .expect("open PostgreSQL");
    (Arc::from(store), database)
}

/// A server of one test's own, for tests that stop, freeze or reconfigure it. Stopped on drop.
pub struct PrivateServer {
    dir: TempDir,
    pub server: Server,
    postmaster: Option<std::process::Child>,
    extra: Vec<String>,
}

impl PrivateServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// With extra server arguments, such as `-c ssl=on`. For arguments that name files, make
    /// the server with [`PrivateServer::init`], write them with [`PrivateServer::write_file`],
    /// then [`PrivateServer::run_with`] the arguments.
    pub async fn start_with(extra: &[String]) -> Self {
        let mut server = Self::init();
        server.extra = extra.to_vec();
        server.run().await;
        server
    }

    /// A server made but not started yet: a copy of one made once per test process, which
    /// is several times faster than initdb.
    pub fn init() -> Self {
        let dir = server_dir();
        let copied = Command::new("cp")
            .arg("-a")
            .arg(pristine())
            .arg(dir.path().join("data"))
            .status()
            .expect("run cp");
        assert!(copied.success(), "cannot copy the initial data directory");
        Self {
            dir,
            server: Server { port: free_port() },
            postmaster: None,
            extra: Vec::new(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a file the server will read, owned as the data directory is (0600).
    pub fn write_file(&self, name: &str, content: &[u8]) -> PathBuf {
        use std::os::unix::fs::MetadataExt;
        let path = self.data_dir().join(name);
        std::fs::write(&path, content).expect("write a server file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let owner = std::fs::metadata(self.data_dir()).expect("stat");
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).expect("chown");
        path
    }

    pub async fn run_with(&mut self, extra: &[String]) {
        self.extra = extra.to_vec();
        self.run().await;
    }

    /// Starts (or restarts) the server on its port, with its data as it was left.
    pub async fn run(&mut self) {
        assert!(self.postmaster.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("server log");
        let child = Command::new(server_script())
            .arg("run")
            .arg(self.data_dir())
            .arg(self.server.port.to_string())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start PostgreSQL");
        self.postmaster = Some(child);
        let port = self.server.port;
        tokio::task::spawn_blocking(move || wait_until_ready(port))
            .await
            .expect("wait for PostgreSQL");
    }

    fn pid(&self) -> libc::pid_t {
        self.postmaster.as_ref().expect("running").id() as libc::pid_t
    }

    /// Fast shutdown: sessions are ended (57P01 for those still running), then the server exits.
    pub fn stop(&mut self) {
        self.signal_and_wait(libc::SIGINT);
    }

    fn signal_and_wait(&mut self, signal: libc::c_int) {
        if let Some(mut child) = self.postmaster.take() {
            self.thaw();
            // SAFETY: kill(2) on a pid we spawned has no memory effects.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            let _ = child.wait();
        }
    }

    /// Stops the server and every process of it with SIGSTOP: connections are accepted by
    /// the kernel and never answered, as a hung host's would be.
    pub fn freeze(&self) {
        let postmaster = self.pid();
        // The postmaster first, so it forks nothing new meanwhile.
        for pid in std::iter::once(postmaster).chain(children(postmaster)) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
        }
    }

    pub fn thaw(&self) {
        let Some(child) = &self.postmaster else {
            return;
        };
        let postmaster = child.id() as libc::pid_t;
        for pid in children(postmaster).into_iter().chain([postmaster]) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.signal_and_wait(libc::SIGQUIT);
    }
}

/// The processes whose parent is `parent`, from /proc.
fn children(parent: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .to_str()?
                .parse::<libc::pid_t>()
                .ok()
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                // The name in parentheses may hold spaces; the parent pid is the second
                // field after it.
                .and_then(|stat| {
                    stat.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<libc::pid_t>()
                        .ok()
                })
                == Some(parent)
        })
        .collect()
}
