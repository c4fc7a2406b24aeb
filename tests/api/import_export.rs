//! `hello-birthday import` and `export`, run as the real binary against each backend.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use crate::common::dynamodb::DynamoDbDatabase;
use crate::common::server::BINARY;
use crate::common::{Backend, TestDatabase};
use futures::TryStreamExt;
use serde_json::{Value, json};

fn run(database: &dyn TestDatabase, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .args(["--database-url", &database.url()])
        .envs(database.env())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run hello-birthday")
}

fn import(database: &dyn TestDatabase, file: &Path) -> Output {
    run(database, &["import", file.to_str().expect("utf-8 path")])
}

fn export(database: &dyn TestDatabase) -> String {
    let output = run(database, &["export"]);
    assert!(output.status.success(), "export failed: {output:?}");
    String::from_utf8(output.stdout).expect("utf-8 export")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write input");
    path
}

/// `n` valid users in the old format.
fn old_format(n: usize) -> String {
    let users: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            let date = format!("{:04}-{:02}-{:02}", 1940 + i % 80, 1 + i % 12, 1 + i % 28);
            (common::nth_name(i), json!({"dateOfBirth": date}))
        })
        .collect();
    Value::Object(users).to_string()
}

pub async fn rejects_bad_records_with_reasons_and_imports_the_rest(database: &dyn TestDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(
        dir.path(),
        "old.json",
        r#"{
            "alice": {"dateOfBirth": "1990-05-01"},
            "b0b": {"dateOfBirth": "1990-05-01"},
            "carol": {"dateOfBirth": "2021-02-29"},
            "dave": {"dateOfBirth": "9999-01-01"},
            "erin": {"dateOfBirth": 19900501},
            "frank": {},
            "Grace": {"dateOfBirth": "1985-12-31", "nickname": "G"}
        }"#,
    );
    let output = import(database, &input);
    assert!(!output.status.success(), "rejections must fail the run");
    let errors = stderr(&output);
    for (name, reason) in [
        ("b0b", "only the letters"),
        ("carol", "does not exist"),
        ("dave", "before today"),
        ("erin", "invalid type"),
        ("frank", "missing field"),
    ] {
        assert!(
            errors
                .lines()
                .any(|l| l.contains(&format!("\"{name}\"")) && l.contains(reason)),
            "no rejection of {name} for {reason:?} in:\n{errors}"
        );
    }
    assert!(errors.contains("5 records were rejected"), "{errors}");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("imported 2 users in 1 batch, rejected 5"),
        "{summary}"
    );
    let exported: Value = serde_json::from_str(&export(database)).expect("JSON export");
    assert_eq!(
        exported,
        json!({
            "Grace": {"dateOfBirth": "1985-12-31"},
            "alice": {"dateOfBirth": "1990-05-01"},
        })
    );
}

pub async fn importing_twice_leaves_the_same_data(database: &dyn TestDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(dir.path(), "old.json", &old_format(6_000));
    let path = input.to_str().expect("utf-8 path");
    // Across batch boundaries, whatever the backend's own batch size.
    let first = run(database, &["import", path, "--batch-size", "2500"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary = String::from_utf8_lossy(&first.stdout);
    assert!(summary.contains("6000 users in 3 batches"), "{summary}");
    let after_first = export(database);
    let second = import(database, &input);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(parse(&export(database)), parse(&after_first));
    let exported: Value = serde_json::from_str(&after_first).expect("JSON export");
    assert_eq!(exported.as_object().map(|o| o.len()), Some(6_000));
}

/// Into a second, fresh database of the same backend: a backup restores elsewhere.
pub async fn an_export_imports_back_to_the_same_data<B: Backend>() {
    let (source, target) = (B::database().await, B::database().await);
    round_trip(source.as_ref(), target.as_ref());
}

/// Imports 300 users into `source`, exports them and imports the backup into `target`.
fn round_trip(source: &dyn TestDatabase, target: &dyn TestDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = old_format(300);
    let imported = import(source, &write(dir.path(), "old.json", &original));
    assert!(imported.status.success(), "{}", stderr(&imported));
    let backup = export(source);
    assert_eq!(parse(&backup), parse(&original));
    // SQLite exports in username order; a DynamoDB Scan comes in the table's hash order.
    if source.url().starts_with("sqlite://") {
        let keys: Vec<&str> = backup
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        assert!(keys.is_sorted(), "export is not sorted by username");
    }
    let restored = import(target, &write(dir.path(), "backup.json", &backup));
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(parse(&export(target)), parse(&backup));
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("valid JSON")
}

pub async fn malformed_input_fails_with_one_clear_line(database: &dyn TestDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (content, expected) in [
        (r#"{"alice": {"dateOfBirth": "1990-05-01"}"#, "EOF"),
        (r#"["alice"]"#, "a JSON object"),
        (
            r#"{"alice": {"dateOfBirth": "1990-05-01"}} trailing"#,
            "trailing",
        ),
    ] {
        let output = import(database, &write(dir.path(), "bad.json", content));
        assert!(!output.status.success(), "{content}");
        let errors = stderr(&output);
        assert!(
            errors.starts_with("error: ") && errors.contains(expected),
            "{content}: {errors}"
        );
        assert!(!errors.contains("panicked"), "{errors}");
    }
    let missing = import(database, Path::new("/nonexistent/users.json"));
    assert!(stderr(&missing).contains("cannot open /nonexistent/users.json"));
}

pub async fn exporting_an_empty_store_gives_an_empty_object(database: &dyn TestDatabase) {
    let exported: Value = serde_json::from_str(&export(database)).expect("JSON export");
    assert_eq!(exported, json!({}));
}

per_backend!(
    database: [
        rejects_bad_records_with_reasons_and_imports_the_rest,
        importing_twice_leaves_the_same_data,
        malformed_input_fails_with_one_clear_line,
        exporting_an_empty_store_gives_an_empty_object,
    ],
    backend: [an_export_imports_back_to_the_same_data],
);

/// An operator's typo in a path must fail loudly, never "succeed" with an empty backup or an
/// import into a new, empty database nobody reads.
mod sqlite_files {
    use super::*;

    fn assert_one_clear_line(output: &Output, expected: &str) {
        assert!(!output.status.success(), "{output:?}");
        let errors = stderr(output);
        assert_eq!(errors.trim_end().lines().count(), 1, "{errors}");
        assert!(
            errors.starts_with("error: ") && errors.contains(expected),
            "{errors}"
        );
    }

    fn files_in(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("list dir")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn import_and_export_refuse_a_missing_database_and_create_nothing() {
        let database = common::SqliteDatabase::not_created();
        let input_dir = tempfile::tempdir().expect("temp dir");
        let input = write(input_dir.path(), "old.json", &old_format(3));

        let imported = import(&database, &input);
        assert_one_clear_line(&imported, "no SQLite database at");
        let exported = run(&database, &["export"]);
        assert_one_clear_line(&exported, "no SQLite database at");
        assert!(exported.stdout.is_empty(), "no partial output");
        assert_eq!(
            files_in(database.dir()),
            Vec::<String>::new(),
            "nothing created"
        );
    }

    /// Runs `export` as a process the permission bits apply to. CI runs as root, which
    /// ignores them, so the capabilities that override them are dropped first.
    fn export_unprivileged(url: &str) -> Output {
        // SAFETY: geteuid has no preconditions and touches no memory.
        let root = unsafe { libc::geteuid() } == 0;
        let mut command = if root {
            let mut command = Command::new("setpriv");
            command.args([
                "--bounding-set=-dac_override,-dac_read_search",
                "--",
                BINARY,
            ]);
            command
        } else {
            Command::new(BINARY)
        };
        command
            .args(["export", "--database-url", url])
            .env_remove("DATABASE_URL")
            .output()
            .expect("run hello-birthday export")
    }

    /// A backup copied to read-only media: the file is 0444 in a 0555 directory, where SQLite
    /// can create neither its -wal nor its -shm file.
    #[tokio::test]
    async fn export_reads_a_read_only_copy_on_read_only_media() {
        use std::os::unix::fs::PermissionsExt;
        let source = common::SqliteDatabase::fresh().await;
        let input_dir = tempfile::tempdir().expect("temp dir");
        let imported = import(
            &source,
            &write(input_dir.path(), "old.json", &old_format(300)),
        );
        assert!(imported.status.success(), "{}", stderr(&imported));
        let expected = parse(&export(&source));

        let media = tempfile::tempdir().expect("temp dir");
        let copy = media.path().join("backup.db");
        std::fs::copy(source.path(), &copy).expect("copy the database");
        let mode = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
        };
        mode(&copy, 0o444);
        mode(media.path(), 0o555);
        let before = files_in(media.path());

        let exported = export_unprivileged(&format!("sqlite://{}", copy.display()));
        let files_after = files_in(media.path());
        mode(media.path(), 0o755);
        assert!(exported.status.success(), "{}", stderr(&exported));
        let text = String::from_utf8(exported.stdout).expect("utf-8 export");
        assert_eq!(parse(&text), expected);
        assert_eq!(files_after, before, "nothing written next to the copy");
    }
}

/// Backups move between backends too.
#[tokio::test]
async fn a_sqlite_export_imports_into_dynamodb() {
    round_trip(
        &common::SqliteDatabase::fresh().await,
        &DynamoDbDatabase::fresh().await,
    );
}

/// Users move between all our stores and come back unchanged: from SQLite to PostgreSQL to
/// DynamoDB and back to SQLite, each hop an `export` imported into the next store, as an
/// operator moving clouds would run it.
#[tokio::test]
async fn users_move_through_every_store_and_come_back_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = old_format(1_500);
    let stores: [Box<dyn TestDatabase>; 4] = [
        Box::new(common::SqliteDatabase::fresh().await),
        Box::new(common::postgres::shared().fresh_database().await),
        Box::new(DynamoDbDatabase::fresh().await),
        Box::new(common::SqliteDatabase::fresh().await),
    ];
    let mut input = write(dir.path(), "old.json", &original);
    let mut exports = Vec::new();
    for (hop, store) in stores.iter().enumerate() {
        let imported = import(store.as_ref(), &input);
        assert!(imported.status.success(), "{}", stderr(&imported));
        let exported = export(store.as_ref());
        assert_eq!(parse(&exported), parse(&original), "in {}", store.url());
        input = write(dir.path(), &format!("hop-{hop}.json"), &exported);
        exports.push(exported);
    }
    // SQLite writes its export in username order: back home, the backup is the same, byte for byte.
    assert_eq!(exports.first(), exports.last());
}

/// The release image has no CA files at all: the binary must not need them to start. TLS
/// trusts the Mozilla roots compiled in (see docs/dynamodb.md), never the host's.
#[tokio::test]
async fn starts_and_talks_to_dynamodb_without_any_ca_files_on_the_host() {
    let empty = tempfile::tempdir().expect("temp dir");
    let nothing = empty.path().join("no-such-bundle.pem");
    let database = DynamoDbDatabase::fresh().await;
    let output = Command::new(BINARY)
        .args(["create-table", "--database-url", &database.url()])
        .envs(database.env())
        .env("SSL_CERT_FILE", &nothing)
        .env("SSL_CERT_DIR", empty.path())
        .output()
        .expect("run hello-birthday");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("table {} already exists", database.table())
    );
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}

#[test]
fn create_table_requires_a_region() {
    let output = Command::new(BINARY)
        .args(["create-table", "--database-url", "dynamodb://users"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run hello-birthday");
    assert!(!output.status.success());
    let errors = stderr(&output);
    assert_eq!(errors.lines().count(), 1, "{errors}");
    assert!(errors.contains("AWS_REGION"), "{errors}");
}

/// Batching must not change the outcome: a name repeated across batches ends with its last
/// value, as a series of PUTs would leave it, and every rejection is reported.
#[tokio::test]
async fn small_batches_keep_file_order_for_repeated_names() {
    use hello_birthday::transfer::{ImportEvent, import};

    let (store, _dir) = common::sqlite_store().await;
    let input = r#"{"zed": {"dateOfBirth": "1990-01-01"}, "amy": {"dateOfBirth": "1990-01-02"},
        "b4d": {"dateOfBirth": "1990-01-03"}, "zed": {"dateOfBirth": "1990-01-04"},
        "cat": {"dateOfBirth": "1990-01-05"}, "amy": {"dateOfBirth": "1990-01-06"},
        "zed": {"dateOfBirth": "1990-01-07"}}"#;
    let mut rejected = Vec::new();
    let mut progress = Vec::new();
    let summary = import(
        store.as_ref(),
        std::io::Cursor::new(input.as_bytes().to_vec()),
        common::date("2026-11-28"),
        2,
        |event| match event {
            ImportEvent::Rejected(r) => rejected.push(r.name.clone()),
            ImportEvent::Progress { imported, .. } => progress.push(imported),
        },
    )
    .await
    .expect("import");
    assert_eq!((summary.imported, summary.rejected), (6, 1));
    assert_eq!(rejected, ["b4d"]);
    assert_eq!(progress, [2, 4, 6]);
    let pages: Vec<Vec<hello_birthday::store::User>> =
        store.scan().try_collect().await.expect("scan");
    let mut users: Vec<(String, String)> = pages
        .into_iter()
        .flatten()
        .map(|u| (u.username.to_string(), u.birth_date.to_string()))
        .collect();
    users.sort();
    let expected = [
        ("amy", "1990-01-06"),
        ("cat", "1990-01-05"),
        ("zed", "1990-01-07"),
    ];
    assert_eq!(users, expected.map(|(n, d)| (n.to_owned(), d.to_owned())));
}
