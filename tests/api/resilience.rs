//! Black-box tests of the real binary against what takes services down without being a bug of
//! theirs: clients that hold resources (slow uploads, readers that stop reading, bodies
//! announced far over the limit), disks that fill, database files moved under the process,
//! requests their clients abandon, and import files with one enormous field.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::common::server::{self, BINARY, RunningServer};
use crate::common::{SqliteDatabase, TestDatabase};

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
