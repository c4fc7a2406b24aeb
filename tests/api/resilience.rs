//! Black-box tests of the real binary against what takes services down without being a bug of
//! theirs: clients that hold resources (slow uploads, readers that stop reading, bodies
//! announced far over the limit), disks that fill, database files moved under the process,
//! requests their clients abandon, and import files with one enormous field.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::common::server::BINARY;
use crate::common::{SqliteDatabase, TestDatabase};

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
