//! Every SQL statement the store sends, in one place.
//!
//! Names are unqualified: the table lives in the schema the roles' `search_path` names
//! (docs/postgres.md). The schema's version is the table's comment, so the runtime role needs
//! no grant beyond its three on `users` to read it (catalogs are readable by every role).

/// Migrations in order; the comment on `users` records how many were applied. Never edit one
/// that has shipped: add a new one, additive, so that the previous release still runs on it
/// during a rolling deploy.
pub const MIGRATIONS: &[&str] = &["CREATE TABLE users (
        username      text COLLATE \"C\" PRIMARY KEY,
        date_of_birth date NOT NULL,
        updated_at    timestamptz NOT NULL DEFAULT now()
    )"];

/// The table's comment for a schema at `version`.
pub fn version_comment(version: usize) -> String {
    format!("COMMENT ON TABLE users IS '{VERSION_PREFIX}{version}'")
}

/// What the comment starts with; a table `users` without it belongs to something else.
pub const VERSION_PREFIX: &str = "hello-birthday schema ";

/// The table's comment (NULL when there is no table `users` on the search path).
pub const SCHEMA_VERSION: &str =
    "SELECT to_regclass('users') IS NOT NULL, obj_description(to_regclass('users'), 'pg_class')";

/// Held for the length of a migration's transaction, so concurrent `create-table`s apply
/// each migration once and `serve` never reads a half-made schema. Any constant unlikely to be
/// chosen by another application sharing the database: "hello-bd" in ASCII.
pub const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7522525849495463012)";

/// A point read. The primary key index answers it.
pub const GET: &str = "SELECT date_of_birth FROM users WHERE username = $1";

/// Create or replace users, one or many in one statement, committed before it returns: two
/// arrays, unnested side by side. No username may appear twice (Postgres refuses to update
/// one row twice in a statement).
pub const PUT: &str = "INSERT INTO users (username, date_of_birth)
    SELECT * FROM unnest($1::text[], $2::date[])
    ON CONFLICT (username) DO UPDATE
    SET date_of_birth = excluded.date_of_birth, updated_at = now()";

/// An export sees one snapshot of the table, however long it takes to write out.
pub const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
/// In key order, through the primary key index: nothing is sorted.
pub const DECLARE_EXPORT: &str = "DECLARE export NO SCROLL CURSOR FOR SELECT username, date_of_birth FROM users ORDER BY username";
pub const FETCH_EXPORT: &str = "FETCH 1000 FROM export";
pub const END_SNAPSHOT: &str = "COMMIT";

/// Not a valid username (usernames are letters only), so no user can ever have it: the
/// readiness probe reads it through the same statement as a GET.
pub const PROBE_KEY: &str = "-readiness-probe-";
