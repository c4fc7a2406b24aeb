//! What only PostgreSQL has, seen from outside the binary: the schema and its two roles, many
//! processes starting at once on a fresh database, passwords and where they may never appear,
//! TLS by `sslmode` with a certificate authority made here, outages (the server stopped, and
//! frozen), and following the primary across the hosts of the URL. The scenarios every store
//! shares run on PostgreSQL through `per_backend!`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;

use crate::common::TestDatabase;
use crate::common::postgres::{self, PostgresDatabase, PrivateServer, Server};
use crate::common::server::{
    self, BINARY, RunningServer, assert_not_ready_but_alive, client, metric, status, status_becomes,
};

/// A `--database-url` and the environment that goes with it.
struct Target {
    url: String,
    env: Vec<(String, String)>,
}

impl Target {
    fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            env: Vec::new(),
        }
    }

    fn with_env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }
}

impl TestDatabase for Target {
    fn url(&self) -> String {
        self.url.clone()
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }
}

/// `hello-birthday ARGS --database-url URL`, with only the target's environment for the store.
fn hello(target: &dyn TestDatabase, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .args(["--database-url", &target.url()])
        .env_remove("DATABASE_URL")
        .env_remove("PGPASSWORD")
        .env_remove("DATABASE_PASSWORD_FILE")
        .envs(target.env())
        .output()
        .expect("run hello-birthday")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Failed, with one line on stderr that contains `expected`.
fn assert_one_clear_line(output: &Output, expected: &str) {
    let errors = stderr(output);
    assert!(!output.status.success(), "succeeded: {errors}");
    assert_eq!(errors.trim_end().lines().count(), 1, "one line: {errors}");
    assert!(errors.contains(expected), "{expected:?} not in {errors}");
    assert!(!errors.contains("panicked"), "{errors}");
}

async fn put(http: &reqwest::Client, server: &RunningServer, user: &str) -> StatusCode {
    http.put(server.url(&format!("/hello/{user}")))
        .json(&serde_json::json!({ "dateOfBirth": "1990-05-01" }))
        .send()
        .await
        .expect("PUT")
        .status()
}

async fn body(http: &reqwest::Client, server: &RunningServer, path: &str) -> String {
    http.get(server.url(path))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("a text body")
}

/// A login role with a password, its name made unique (roles belong to the whole server).
async fn login_role(database: &PostgresDatabase, prefix: &str, password: &str) -> String {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    database
        .admin()
        .await
        .batch_execute(&format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
        .await
        .expect("create role");
    name
}

fn url_for(database: &PostgresDatabase, user: &str) -> String {
    database.server.url(user, &database.name)
}

mod schema {
    use super::*;

    #[tokio::test]
    async fn serve_import_and_export_refuse_a_database_without_the_schema() {
        let database = postgres::shared().empty_database().await;
        let started = Instant::now();
        let served = hello(&database, &["serve", "--listen", "127.0.0.1:0"]);
        assert_one_clear_line(&served, "no hello-birthday schema");
        assert!(
            stderr(&served).contains("create-table"),
            "{}",
            stderr(&served)
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("users.json");
        std::fs::write(&input, r#"{"alice": {"dateOfBirth": "1990-05-01"}}"#).expect("write");
        let imported = hello(&database, &["import", input.to_str().expect("utf-8")]);
        assert_one_clear_line(&imported, "no hello-birthday schema");
        let exported = hello(&database, &["export"]);
        assert_one_clear_line(&exported, "no hello-birthday schema");
        assert!(exported.stdout.is_empty(), "no partial output");
    }

    #[tokio::test]
    async fn create_table_creates_the_schema_once_and_refuses_a_table_of_someone_else() {
        let database = postgres::shared().empty_database().await;
        let first = hello(&database, &["create-table"]);
        assert!(first.status.success(), "{}", stderr(&first));
        assert!(
            stdout(&first).starts_with("created the schema in postgres://"),
            "{}",
            stdout(&first)
        );
        let second = hello(&database, &["create-table"]);
        assert!(second.status.success(), "{}", stderr(&second));
        assert!(
            stdout(&second).ends_with("is ready\n"),
            "{}",
            stdout(&second)
        );

        let foreign = postgres::shared().empty_database().await;
        foreign
            .admin()
            .await
            .batch_execute("CREATE TABLE users (id int)")
            .await
            .expect("a table of another application");
        assert_one_clear_line(&hello(&foreign, &["create-table"]), "did not create");
        assert_one_clear_line(
            &hello(&foreign, &["serve", "--listen", "127.0.0.1:0"]),
            "did not create",
        );
    }

    /// A deploy on a fresh database: the migration job and every replica start together.
    /// Each `create-table` takes its turn under the advisory lock; each `serve` waits for the
    /// schema to appear.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_create_tables_and_serves_started_at_once_on_a_fresh_database_all_succeed() {
        const EACH: usize = 6;
        let database = postgres::shared().empty_database().await;
        let url = database.url();
        let migrations = (0..EACH).map(|_| {
            let url = url.clone();
            tokio::task::spawn_blocking(move || hello(&Target::new(url), &["create-table"]))
        });
        let (migrated, servers) = tokio::join!(
            join_all(migrations),
            join_all((0..EACH).map(|_| server::start(&database, &[])))
        );
        let created = migrated
            .into_iter()
            .map(|outcome| outcome.expect("create-table ran"))
            .inspect(|output| assert!(output.status.success(), "{}", stderr(output)))
            .filter(|output| stdout(output).starts_with("created"))
            .count();
        assert_eq!(created, 1, "the schema is created exactly once");
        let http = client();
        assert_eq!(
            put(&http, &servers[0], "alice").await,
            StatusCode::NO_CONTENT
        );
        for running in &servers {
            assert_eq!(status(&http, running, "/readyz").await, StatusCode::OK);
            assert_eq!(status(&http, running, "/hello/alice").await, StatusCode::OK);
        }
    }

    /// The two roles of docs/postgres.md, set up as it says: the migration role owns the schema
    /// and creates the table; the runtime role can read and write users, nothing more.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_runtime_role_serves_imports_and_exports_with_select_insert_update_only() {
        let database = postgres::shared().empty_database().await;
        let migrator = login_role(&database, "hb_migrate", "m1gr@te:pw").await;
        let app = login_role(&database, "hb_app", "app-pw").await;
        let admin = database.admin().await;
        admin
            .batch_execute(&format!(
                "CREATE SCHEMA hello AUTHORIZATION {migrator};
                 GRANT USAGE ON SCHEMA hello TO {app};
                 ALTER ROLE {migrator} IN DATABASE {db} SET search_path = hello;
                 ALTER ROLE {app} IN DATABASE {db} SET search_path = hello;
                 ALTER DEFAULT PRIVILEGES FOR ROLE {migrator} IN SCHEMA hello
                     GRANT SELECT, INSERT, UPDATE ON TABLES TO {app};",
                db = database.name
            ))
            .await
            .expect("roles and grants");
        let dir = tempfile::tempdir().expect("temp dir");
        let password_file = dir.path().join("app-password");
        std::fs::write(&password_file, "app-pw\n").expect("write the password file");
        let as_app = Target::new(url_for(&database, &app)).with_env(
            "DATABASE_PASSWORD_FILE",
            password_file.to_str().expect("utf-8"),
        );

        assert_one_clear_line(&hello(&as_app, &["create-table"]), "permission denied");
        // The password in the URL, percent-encoded.
        let as_migrator = Target::new(format!(
            "postgres://{migrator}:m1gr%40te%3Apw@127.0.0.1:{}/{}",
            database.server.port, database.name
        ));
        let created = hello(&as_migrator, &["create-table"]);
        assert!(created.status.success(), "{}", stderr(&created));

        let grants: Vec<String> = admin
            .query(
                "SELECT privilege_type FROM information_schema.role_table_grants
                 WHERE grantee = $1 AND table_name = 'users' ORDER BY 1",
                &[&app],
            )
            .await
            .expect("grants")
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(grants, ["INSERT", "SELECT", "UPDATE"]);

        let running = server::start(&as_app, &[]).await;
        let http = client();
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
        assert_eq!(
            status(&http, &running, "/hello/alice").await,
            StatusCode::OK
        );

        let input = dir.path().join("users.json");
        std::fs::write(&input, r#"{"bob": {"dateOfBirth": "1991-02-03"}}"#).expect("write");
        // The password from PGPASSWORD, as libpq reads it.
        let with_pgpassword =
            Target::new(url_for(&database, &app)).with_env("PGPASSWORD", "app-pw");
        let imported = hello(
            &with_pgpassword,
            &["import", input.to_str().expect("utf-8")],
        );
        assert!(imported.status.success(), "{}", stderr(&imported));
        let exported = hello(&as_app, &["export"]);
        assert!(exported.status.success(), "{}", stderr(&exported));
        let users: serde_json::Value = serde_json::from_slice(&exported.stdout).expect("JSON");
        assert_eq!(users.as_object().map(|o| o.len()), Some(2), "{users}");
    }
}

mod credentials {
    use super::*;

    /// Kubernetes rewrites a mounted Secret in place; connections opened after that must use
    /// the new password, with no restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotated_password_file_is_used_for_new_connections_without_a_restart() {
        let database = postgres::shared().fresh_database().await;
        let app = login_role(&database, "hb_rotate", "first-pw").await;
        let admin = database.admin().await;
        admin
            .batch_execute(&format!("GRANT SELECT, INSERT, UPDATE ON users TO {app}"))
            .await
            .expect("grant");
        let dir = tempfile::tempdir().expect("temp dir");
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, "first-pw\n").expect("write");
        let target = Target::new(url_for(&database, &app));
        let running = server::start(
            &target,
            &[
                "--database-password-file",
                password_file.to_str().expect("utf-8"),
            ],
        )
        .await;
        let http = client();
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);

        admin
            .batch_execute(&format!("ALTER ROLE {app} PASSWORD 'second-pw'"))
            .await
            .expect("rotate");
        // Written the way Kubernetes does it: a new file renamed over the old one.
        std::fs::write(dir.path().join("password.new"), "second-pw\n").expect("write");
        std::fs::rename(dir.path().join("password.new"), &password_file).expect("rename");
        // Every session on the old password ends, as a server restart or failover would.
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                &[&app],
            )
            .await
            .expect("terminate");
        // Each pooled connection fails once, is closed and replaced by one made with the new
        // password; the request that met it is retried on that one.
        for user in ["bob", "carol", "dave"] {
            assert_eq!(put(&http, &running, user).await, StatusCode::NO_CONTENT);
        }
        assert_eq!(status(&http, &running, "/readyz").await, StatusCode::OK);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passwords_never_appear_in_help_logs_errors_or_metrics() {
        let secret = format!("S3cr3t{}", uuid::Uuid::new_v4().simple());
        let database = postgres::shared().fresh_database().await;
        let app = login_role(&database, "hb_secret", &secret).await;
        database
            .admin()
            .await
            .batch_execute(&format!("GRANT SELECT, INSERT, UPDATE ON users TO {app}"))
            .await
            .expect("grant");
        let url = format!(
            "postgres://{app}:{secret}@127.0.0.1:{}/{}",
            database.server.port, database.name
        );

        let help = Command::new(BINARY)
            .args(["serve", "--help"])
            .env("DATABASE_URL", &url)
            .output()
            .expect("serve --help");
        assert!(help.status.success());
        assert!(!stdout(&help).contains(&secret), "--help shows the URL");

        let mut running = server::start(&Target::new(url.clone()), &[]).await;
        let http = client();
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
        let metrics = body(&http, &running, "/metrics").await;
        assert!(!metrics.contains(&secret));
        running.terminate();
        running.wait_exit().await;
        let logs = running.log_entries();
        let ready = logs
            .iter()
            .find(|entry| entry["message"] == "ready to serve")
            .expect("ready line");
        assert!(
            ready["database"]
                .as_str()
                .is_some_and(|shown| shown.contains(":***@")),
            "{ready}"
        );
        for entry in &logs {
            assert!(!entry.to_string().contains(&secret), "{entry}");
        }

        let wrong = url.replace(&secret, &format!("{secret}x"));
        let refused = hello(&Target::new(wrong), &["serve", "--listen", "127.0.0.1:0"]);
        assert_one_clear_line(&refused, "password authentication failed");
        assert!(!stderr(&refused).contains(&secret), "{}", stderr(&refused));
        let port = format!(":{}/", database.server.port);
        let malformed = hello(&Target::new(url.replace(&port, ":port/")), &["export"]);
        assert_one_clear_line(&malformed, "invalid --database-url");
        assert!(
            !stderr(&malformed).contains(&secret),
            "{}",
            stderr(&malformed)
        );
    }
}

/// TLS with a certificate authority made here: the server's certificate is issued for
/// `localhost` only, so 127.0.0.1 is the wrong name for it.
mod tls {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    struct Authority {
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    /// A certificate authority; `name` tells them apart (issuers are matched by name).
    fn authority(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let pem = params.self_signed(&key).expect("self-sign").pem();
        Authority {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server with TLS on, its certificate for `localhost` signed by `authority`.
    async fn tls_server(authority: &Authority) -> PrivateServer {
        let key = KeyPair::generate().expect("key");
        let certificate = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&key, &authority.issuer)
            .expect("sign");
        let mut server = PrivateServer::init();
        let cert = server.write_file("server.crt", certificate.pem().as_bytes());
        let key = server.write_file("server.key", key.serialize_pem().as_bytes());
        server
            .run_with(&[
                "-c".into(),
                "ssl=on".into(),
                "-c".into(),
                format!("ssl_cert_file={}", cert.display()),
                "-c".into(),
                format!("ssl_key_file={}", key.display()),
            ])
            .await;
        server
    }

    fn create_table(server: Server, host: &str, dbname: &str, parameters: &str) -> Output {
        let url = format!(
            "postgres://postgres@{host}:{}/{dbname}?{parameters}",
            server.port
        );
        hello(&Target::new(url), &["create-table"])
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verify_full_needs_the_right_authority_and_host_name() {
        let (ours, theirs) = (authority("our test CA"), authority("their test CA"));
        let dir = tempfile::tempdir().expect("temp dir");
        let our_ca = dir.path().join("ours.pem");
        let their_ca = dir.path().join("theirs.pem");
        std::fs::write(&our_ca, &ours.pem).expect("write");
        std::fs::write(&their_ca, &theirs.pem).expect("write");
        let private = tls_server(&ours).await;
        let server = private.server;
        let database = server.empty_database().await;
        let name = database.name.as_str();
        let ours = format!("sslrootcert={}", our_ca.display());
        let theirs = format!("sslrootcert={}", their_ca.display());

        let with = |mode: &str, roots: &str| format!("sslmode={mode}&{roots}");
        let cases = [
            ("localhost", with("verify-full", &ours), None),
            (
                "127.0.0.1",
                with("verify-full", &ours),
                Some("certificate not valid for name \"127.0.0.1\""),
            ),
            (
                "localhost",
                with("verify-full", &theirs),
                Some("UnknownIssuer"),
            ),
            // The Mozilla roots compiled in do not know a test's authority.
            (
                "localhost",
                "sslmode=verify-full".into(),
                Some("UnknownIssuer"),
            ),
            // verify-ca checks the chain and not the name.
            ("127.0.0.1", with("verify-ca", &ours), None),
            (
                "127.0.0.1",
                with("verify-ca", &theirs),
                Some("UnknownIssuer"),
            ),
            // require and prefer encrypt without checking, as libpq does.
            ("127.0.0.1", "sslmode=require".into(), None),
            ("127.0.0.1", "sslmode=prefer".into(), None),
        ];
        for (host, parameters, failure) in cases {
            let output = create_table(server, host, name, &parameters);
            match failure {
                None => assert!(
                    output.status.success(),
                    "{host} {parameters}: {}",
                    stderr(&output)
                ),
                Some(expected) => assert_one_clear_line(&output, expected),
            }
        }

        // The serving path, verified in full, and encrypted as the server sees it.
        let target = Target::new(format!(
            "postgres://postgres@localhost:{}/{name}?sslmode=verify-full&{ours}&application_name=tls-test",
            server.port
        ));
        let running = server::start(&target, &[]).await;
        let http = client();
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
        assert_eq!(
            status(&http, &running, "/hello/alice").await,
            StatusCode::OK
        );
        let plain: i64 = database
            .admin()
            .await
            .query_one(
                "SELECT count(*) FROM pg_stat_activity JOIN pg_stat_ssl USING (pid)
                 WHERE application_name = 'tls-test' AND NOT ssl",
                &[],
            )
            .await
            .expect("sessions")
            .get(0);
        assert_eq!(plain, 0, "a session of the service is not encrypted");
    }

    #[tokio::test]
    async fn require_fails_clearly_on_a_server_without_tls() {
        let database = postgres::shared().empty_database().await;
        let url = format!("{}?sslmode=require", database.url());
        assert_one_clear_line(
            &hello(&Target::new(url), &["create-table"]),
            "server does not support TLS",
        );
    }
}

/// The server goes away under a running service: requests get a 503 with `Retry-After` well
/// within the request timeout, readiness fails, liveness does not, and the same process
/// serves again once the server is back.
mod outages {
    use super::*;

    /// Longer than the request timeout would be a hang.
    const FAST_503: Duration = Duration::from_secs(8);
    /// The readiness window (6 s) plus a probe or two.
    const NOTICED_WITHIN: Duration = Duration::from_secs(20);

    /// Takes the server away with `outage`, checks what a client and the probes see, brings
    /// it back with `recovery`, and checks that the same process serves again.
    async fn outage_and_recovery(
        outage: impl FnOnce(&mut PrivateServer),
        recovery: impl AsyncFnOnce(&mut PrivateServer),
    ) {
        let mut server = PrivateServer::start().await;
        let database = server.server.fresh_database().await;
        let running = server::start(&database, &[]).await;
        let http = client();
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
        assert_eq!(status(&http, &running, "/readyz").await, StatusCode::OK);

        outage(&mut server);
        for method in [reqwest::Method::GET, reqwest::Method::PUT] {
            let started = Instant::now();
            let response = http
                .request(method.clone(), running.url("/hello/alice"))
                .json(&serde_json::json!({ "dateOfBirth": "1990-05-01" }))
                .send()
                .await
                .expect("an answer");
            let took = started.elapsed();
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{method}"
            );
            assert!(
                response.headers().contains_key("retry-after"),
                "{method}: no Retry-After"
            );
            assert!(took < FAST_503, "{method} took {took:?}");
        }
        assert_not_ready_but_alive(&http, &running, NOTICED_WITHIN).await;

        recovery(&mut server).await;
        assert_eq!(
            status_becomes(&http, &running, "/readyz", StatusCode::OK, NOTICED_WITHIN).await,
            StatusCode::OK,
            "ready again, same process"
        );
        assert_eq!(
            status(&http, &running, "/hello/alice").await,
            StatusCode::OK
        );
        assert_eq!(put(&http, &running, "bob").await, StatusCode::NO_CONTENT);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_server_gives_fast_503s_and_the_same_process_recovers() {
        outage_and_recovery(PrivateServer::stop, async |server| server.run().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_frozen_server_gives_fast_503s_and_the_same_process_recovers() {
        outage_and_recovery(|server| server.freeze(), async |server| server.thaw()).await;
    }

    /// Started while the server is down, the service serves (not ready) and becomes ready
    /// when the server comes up: it is the server's outage, not the service's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_service_started_while_the_server_is_down_becomes_ready_when_it_is_up() {
        let mut server = PrivateServer::start().await;
        let database = server.server.fresh_database().await;
        server.stop();
        let running = server::start(&database, &[]).await;
        let http = client();
        assert_eq!(
            status(&http, &running, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        server.run().await;
        assert_eq!(
            status_becomes(&http, &running, "/readyz", StatusCode::OK, NOTICED_WITHIN).await,
            StatusCode::OK
        );
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
    }
}

/// Several hosts in the URL: the service writes to whichever accepts writes, and moves on
/// when the one it uses stops accepting them (a primary demoted, as a switchover leaves it).
mod hosts {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_go_to_the_host_that_accepts_them_and_follow_it_when_it_changes() {
        let (first, second) = tokio::join!(PrivateServer::start(), PrivateServer::start());
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        for server in [first.server, second.server] {
            server
                .admin("postgres")
                .await
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            let created = hello(
                &Target::new(server.url("postgres", &name)),
                &["create-table"],
            );
            assert!(created.status.success(), "{}", stderr(&created));
        }
        // As a demoted primary (a standby) answers: every transaction is read-only.
        let read_only = |server: Server, on: bool| async move {
            let admin = server.admin("postgres").await;
            for statement in [
                format!("ALTER SYSTEM SET default_transaction_read_only = {on}"),
                "SELECT pg_reload_conf()".to_owned(),
            ] {
                admin
                    .batch_execute(&statement)
                    .await
                    .expect("set read-only");
            }
            let wanted = if on { "on" } else { "off" };
            // The reload reaches each session at its next statement; a new one shows it once
            // the server has read the file.
            for _ in 0..100 {
                let now: String = server
                    .admin("postgres")
                    .await
                    .query_one("SHOW default_transaction_read_only", &[])
                    .await
                    .expect("show")
                    .get(0);
                if now == wanted {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("default_transaction_read_only never became {wanted}");
        };
        read_only(first.server, true).await;
        let target = Target::new(format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{name}",
            first.server.port, second.server.port
        ));
        let running = server::start(&target, &[]).await;
        let http = client();
        assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
        let on = |server: Server| {
            let name = name.clone();
            async move {
                let admin = server.admin(&name).await;
                let row = admin
                    .query_one("SELECT count(*) FROM users", &[])
                    .await
                    .expect("count");
                row.get::<_, i64>(0)
            }
        };
        assert_eq!((on(first.server).await, on(second.server).await), (0, 1));

        // The first becomes the writable one; the second is demoted under open connections.
        read_only(first.server, false).await;
        read_only(second.server, true).await;
        // Each pooled connection to the demoted server fails once with "read-only
        // transaction", is closed, and the write is retried on a new connection.
        for user in ["bob", "carol", "dave"] {
            assert_eq!(put(&http, &running, user).await, StatusCode::NO_CONTENT);
        }
        assert_eq!((on(first.server).await, on(second.server).await), (3, 1));
    }
}

/// The pool reports itself next to the other store metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_use_is_in_the_metrics() {
    let database = postgres::shared().fresh_database().await;
    let running = server::start(&database, &["--database-pool-size", "3"]).await;
    let http = client();
    assert_eq!(put(&http, &running, "alice").await, StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = body(&http, &running, "/metrics").await;
        let reported = metrics.contains(r#"store_pool_max_connections{backend="postgres"} 3"#)
            && metrics.contains(r#"store_pool_connections{backend="postgres",state="idle"}"#)
            && metrics.contains(
                r#"store_operation_duration_seconds_count{backend="postgres",operation="put"} 1"#,
            );
        if reported {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pool metrics missing:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// PUTs that arrive together share statements and commits, and each is answered after its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_share_commits_and_all_land() {
    const PUTS: usize = 200;
    let database = postgres::shared().fresh_database().await;
    let running = server::start(&database, &["--database-pool-size", "2"]).await;
    let http = client();
    let names: Vec<String> = (0..PUTS).map(crate::common::nth_name).collect();
    let statuses = join_all(names.iter().map(|name| put(&http, &running, name))).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::NO_CONTENT),
        "{statuses:?}"
    );
    for name in &names {
        let greeting = body(&http, &running, &format!("/hello/{name}")).await;
        assert!(greeting.contains("birthday"), "{name}: {greeting}");
    }
    let statements = metric(
        &running,
        r#"store_write_statements_total{backend="postgres"}"#,
    )
    .await;
    assert!(
        (1.0..PUTS as f64).contains(&statements),
        "{PUTS} PUTs took {statements} statements"
    );
}
