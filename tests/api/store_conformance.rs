//! What every store must do, written once and run against each backend: SQLite on a temporary
//! file and DynamoDB on a local emulator. A new backend gets the same suite by adding one line
//! at the bottom.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use futures::future::join_all;
use hello_birthday::domain::{BirthDate, IsoDate, Username};
use hello_birthday::store::{Health, Purpose, StoreError, User, UserStore};

fn name(text: &str) -> Username {
    Username::parse(text).expect("test names are valid")
}

fn born(text: &str) -> BirthDate {
    BirthDate::recorded(IsoDate::parse(text).expect("test dates are valid"))
}

fn user(username: &str, date: &str) -> User {
    User {
        username: name(username),
        birth_date: born(date),
    }
}

/// A valid date that differs with `i`.
fn nth_date(i: usize) -> String {
    format!("{:04}-{:02}-{:02}", 1950 + i % 60, 1 + i % 12, 1 + i % 28)
}

async fn pages(store: &dyn UserStore) -> Vec<Vec<User>> {
    store.scan().try_collect().await.expect("scan")
}

async fn contents(store: &dyn UserStore) -> BTreeMap<String, String> {
    pages(store)
        .await
        .into_iter()
        .flatten()
        .map(|u| (u.username.to_string(), u.birth_date.to_string()))
        .collect()
}

/// Polls the store's health until `wanted` says yes, for at most `within`.
async fn health_becomes(
    store: &dyn UserStore,
    wanted: impl Fn(Health) -> bool,
    within: Duration,
) -> Health {
    let deadline = Instant::now() + within;
    loop {
        let health = store.health();
        if wanted(health) || Instant::now() > deadline {
            return health;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn creates_a_user_and_reads_it_back(store: &dyn UserStore) {
    store.put(&user("alice", "1990-05-01")).await.expect("put");
    assert_eq!(
        store.get(&name("alice")).await.expect("get"),
        Some(born("1990-05-01"))
    );
}

pub async fn replaces_an_existing_user(store: &dyn UserStore) {
    store.put(&user("alice", "1990-05-01")).await.expect("put");
    store.put(&user("alice", "1985-12-31")).await.expect("put");
    assert_eq!(
        store.get(&name("alice")).await.expect("get"),
        Some(born("1985-12-31"))
    );
    assert_eq!(contents(store).await.len(), 1);
}

pub async fn reading_a_missing_user_is_none_not_an_error(store: &dyn UserStore) {
    assert_eq!(store.get(&name("nobody")).await.expect("get"), None);
    store
        .put(&user("somebody", "1990-05-01"))
        .await
        .expect("put");
    assert_eq!(store.get(&name("nobody")).await.expect("get"), None);
}

pub async fn names_that_differ_only_in_case_are_different_users(store: &dyn UserStore) {
    store.put(&user("alice", "1990-01-01")).await.expect("put");
    store.put(&user("Alice", "1991-02-02")).await.expect("put");
    store.put(&user("ALICE", "1992-03-03")).await.expect("put");
    assert_eq!(
        store.get(&name("alice")).await.expect("get"),
        Some(born("1990-01-01"))
    );
    assert_eq!(
        store.get(&name("Alice")).await.expect("get"),
        Some(born("1991-02-02"))
    );
    assert_eq!(
        store.get(&name("ALICE")).await.expect("get"),
        Some(born("1992-03-03"))
    );
    assert_eq!(store.get(&name("aLICE")).await.expect("get"), None);
    assert_eq!(contents(store).await.len(), 3);
}

pub async fn concurrent_writers_to_one_key_leave_one_of_their_values(store: &dyn UserStore) {
    let writes: Vec<User> = (0..40).map(|i| user("contested", &nth_date(i))).collect();
    let outcomes = join_all(writes.iter().map(|u| store.put(u))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let stored = store
        .get(&name("contested"))
        .await
        .expect("get")
        .expect("present");
    assert!(
        writes.iter().any(|u| u.birth_date == stored),
        "{stored} was never written"
    );
    assert_eq!(contents(store).await.len(), 1);
}

pub async fn concurrent_writers_to_many_keys_all_land(store: &dyn UserStore) {
    let writes: Vec<User> = (0..100)
        .map(|i| user(&common::nth_name(i), &nth_date(i)))
        .collect();
    let outcomes = join_all(writes.iter().map(|u| store.put(u))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let reads = join_all(writes.iter().map(|u| store.get(&u.username))).await;
    for (written, read) in writes.iter().zip(reads) {
        assert_eq!(
            read.expect("get"),
            Some(written.birth_date),
            "{}",
            written.username
        );
    }
    assert_eq!(contents(store).await.len(), writes.len());
}

pub async fn put_many_is_idempotent_and_last_write_wins(store: &dyn UserStore) {
    // More than one DynamoDB batch (25), with a name repeated across batches.
    let mut users: Vec<User> = (0..60)
        .map(|i| user(&common::nth_name(i), &nth_date(i)))
        .collect();
    users.push(user(&common::nth_name(3), "2001-01-01"));
    store.put_many(&users).await.expect("first put_many");
    let first = contents(store).await;
    store.put_many(&users).await.expect("second put_many");
    assert_eq!(contents(store).await, first);
    assert_eq!(first.len(), 60);
    assert_eq!(first[&common::nth_name(3)], "2001-01-01");
    store.put_many(&[]).await.expect("an empty batch is fine");
    assert_eq!(contents(store).await, first);
}

pub async fn scan_returns_exactly_what_was_written(store: &dyn UserStore) {
    assert!(contents(store).await.is_empty());
    let users: Vec<User> = (0..130)
        .map(|i| user(&common::nth_name(i), &nth_date(i)))
        .collect();
    store.put_many(&users[..70]).await.expect("put_many");
    for u in &users[70..] {
        store.put(u).await.expect("put");
    }
    let expected: BTreeMap<String, String> = users
        .iter()
        .map(|u| (u.username.to_string(), u.birth_date.to_string()))
        .collect();
    assert_eq!(contents(store).await, expected);
}

/// Export holds one page in memory at a time, so a table bigger than a page must come in
/// several, and together they must hold every user exactly once.
pub async fn scan_hands_over_a_large_table_in_several_pages(store: &dyn UserStore) {
    let users: Vec<User> = (0..2500)
        .map(|i| user(&common::nth_name(i), &nth_date(i)))
        .collect();
    store.put_many(&users).await.expect("put_many");
    let pages = pages(store).await;
    assert!(pages.len() > 1, "one page of {}", pages[0].len());
    let names: Vec<String> = pages
        .iter()
        .flatten()
        .map(|u| u.username.to_string())
        .collect();
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!((names.len(), unique.len()), (users.len(), users.len()));
}

pub async fn is_ready_once_it_has_served(store: &dyn UserStore) {
    store.put(&user("alice", "1990-05-01")).await.expect("put");
    store.get(&name("alice")).await.expect("get");
    assert_eq!(store.health(), Health::Ready);
}

per_backend!(
    store: [
        creates_a_user_and_reads_it_back,
        replaces_an_existing_user,
        reading_a_missing_user_is_none_not_an_error,
        names_that_differ_only_in_case_are_different_users,
        concurrent_writers_to_one_key_leave_one_of_their_values,
        concurrent_writers_to_many_keys_all_land,
        put_many_is_idempotent_and_last_write_wins,
        scan_returns_exactly_what_was_written,
        scan_hands_over_a_large_table_in_several_pages,
        is_ready_once_it_has_served,
    ],
);

/// Failures particular to a networked store: they must become `Unavailable` (503 with
/// Retry-After) quickly, never a hang or a 500.
mod dynamodb_failures {
    use super::*;
    use common::dynamodb::{create_table_at, random_table_name, store_at};
    use hello_birthday::test_support::dynamodb::PROBE_INTERVAL;

    fn assert_unavailable<T: std::fmt::Debug>(outcome: Result<T, StoreError>) {
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        // Bind then drop: nothing listens on this port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let store = store_at(
            &format!("http://127.0.0.1:{port}"),
            &random_table_name(),
            Purpose::Serve,
        )
        .await;
        assert_unavailable(store.get(&name("alice")).await);
        assert_unavailable(store.put(&user("alice", "1990-05-01")).await);
        assert!(matches!(store.health(), Health::NotReady(_)));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_unavailable_within_the_operation_timeout() {
        // Accepts connections and then says nothing, like a black-holed endpoint.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let store = store_at(
            &format!("http://{address}"),
            &random_table_name(),
            Purpose::Serve,
        )
        .await;
        let started = Instant::now();
        assert_unavailable(store.get(&name("alice")).await);
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(8),
            "gave up only after {waited:?}"
        );
        silent.abort();
    }

    /// Long enough for the readiness window to pass and a probe or two to fail.
    const OUTAGE_NOTICED_WITHIN: Duration = Duration::from_secs(20);

    /// The outage an ECS task sees when DynamoDB is unreachable: requests get `Unavailable`
    /// and readiness fails; once the table answers again the same store recovers by itself,
    /// through its background probe, with no request to help it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readiness_recovers_without_a_restart_when_dynamodb_comes_back() {
        let moto = common::dynamodb::PrivateMoto::start();
        let table = random_table_name();
        create_table_at(&moto.endpoint(), &table)
            .await
            .expect("create table");
        let store = store_at(&moto.endpoint(), &table, Purpose::Serve).await;
        assert_eq!(
            store.health(),
            Health::Ready,
            "the first probe ran at start"
        );

        let port = moto.port;
        drop(moto);
        assert_unavailable(store.get(&name("alice")).await);
        assert_unavailable(store.put(&user("alice", "1990-05-01")).await);
        let down = health_becomes(
            store.as_ref(),
            |h| h != Health::Ready,
            OUTAGE_NOTICED_WITHIN,
        )
        .await;
        assert!(matches!(down, Health::NotReady(_)), "{down:?}");

        let moto = common::dynamodb::PrivateMoto::start_on(port);
        // The emulator restarts empty; on AWS the table would still be there.
        tokio::time::sleep(2 * PROBE_INTERVAL).await;
        assert!(
            matches!(store.health(), Health::NotReady(_)),
            "no table yet"
        );
        create_table_at(&moto.endpoint(), &table)
            .await
            .expect("create table again");
        let up = health_becomes(
            store.as_ref(),
            |h| h == Health::Ready,
            OUTAGE_NOTICED_WITHIN,
        )
        .await;
        assert_eq!(
            up,
            Health::Ready,
            "ready again, same client, no request needed"
        );
        store.put(&user("alice", "1990-05-01")).await.expect("put");
        assert_eq!(
            store.get(&name("alice")).await.expect("get"),
            Some(born("1990-05-01"))
        );
    }

    #[tokio::test]
    async fn a_missing_table_fails_readiness() {
        let store = store_at(
            common::dynamodb::endpoint(),
            &random_table_name(),
            Purpose::Serve,
        )
        .await;
        assert!(matches!(store.health(), Health::NotReady(_)));
        assert!(store.get(&name("alice")).await.is_err());
    }
}

/// What SQLite's file on disk may go through while a process has it open.
mod sqlite_files {
    use super::*;
    use hello_birthday::store::{self, StoreOptions};

    async fn open(path: &std::path::Path) -> Box<dyn UserStore> {
        store::open(&common::sqlite_url(path), StoreOptions::serve())
            .await
            .expect("open SQLite")
    }

    /// Two paths to one file (a symlink, as volume mounts and `current -> release-N` layouts
    /// make) are one database: each sees the other's writes at once.
    #[tokio::test(flavor = "current_thread")]
    async fn two_paths_to_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().join("real.db");
        let link = dir.path().join("link.db");
        let via_real = open(&real).await;
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let via_link = open(&link).await;

        for date in ["1990-05-01", "1985-12-31"] {
            via_real.put(&user("alice", date)).await.expect("put");
            assert_eq!(
                via_link.get(&name("alice")).await.expect("get"),
                Some(born(date))
            );
        }
        via_link.close().await;
        via_real.close().await;
    }

    /// Another tool (the `sqlite3` shell, a restore script) may change the file while the
    /// service runs: the next read answers what the file holds.
    #[tokio::test(flavor = "current_thread")]
    async fn a_change_made_by_another_tool_is_read_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("users.db");
        let store = open(&path).await;
        store.put(&user("alice", "1990-05-01")).await.expect("put");
        assert_eq!(
            store.get(&name("alice")).await.expect("get"),
            Some(born("1990-05-01"))
        );
        rusqlite::Connection::open(&path)
            .and_then(|c| {
                c.execute(
                    "UPDATE users SET date_of_birth = '1970-01-01' WHERE username = 'alice'",
                    [],
                )
            })
            .expect("update with another connection");
        assert_eq!(
            store.get(&name("alice")).await.expect("get"),
            Some(born("1970-01-01"))
        );
        store.close().await;
    }

    /// The file is replaced (a restore copied over it) or deleted under a running process.
    /// The process is then reading and writing a file nobody else sees: it refuses writes,
    /// and readiness fails.
    #[tokio::test(flavor = "current_thread")]
    async fn a_replaced_or_deleted_file_refuses_writes_and_fails_readiness() {
        for replace in [true, false] {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("users.db");
            let store = open(&path).await;
            store.put(&user("alice", "1990-05-01")).await.expect("put");

            if replace {
                let other = dir.path().join("other.db");
                open(&other).await.close().await;
                std::fs::rename(&other, &path).expect("replace");
            } else {
                std::fs::remove_file(&path).expect("delete");
            }
            let health = health_becomes(
                store.as_ref(),
                |h| h != Health::Ready,
                Duration::from_secs(5),
            )
            .await;
            assert!(
                matches!(health, Health::NotReady(_)),
                "replace={replace}: {health:?}"
            );
            assert!(
                matches!(
                    store.put(&user("bob", "1990-05-01")).await,
                    Err(StoreError::Unavailable(_))
                ),
                "replace={replace}: a write to a file nobody sees was accepted"
            );
            store.close().await;
        }
    }

    #[tokio::test]
    async fn scans_come_sorted_by_username() {
        let (store, _dir) = common::sqlite_store().await;
        let users: Vec<User> = (0..2500)
            .rev()
            .map(|i| user(&common::nth_name(i), &nth_date(i)))
            .collect();
        store.put_many(&users).await.expect("put_many");
        store.put(&user("Zed", "1990-05-01")).await.expect("put");
        let names: Vec<String> = pages(store.as_ref())
            .await
            .into_iter()
            .flatten()
            .map(|u| u.username.to_string())
            .collect();
        assert!(names.is_sorted(), "not in username order");
        assert_eq!(names.len(), 2501);
        store.close().await;
    }
}
