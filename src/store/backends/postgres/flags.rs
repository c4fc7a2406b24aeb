//! The flags only PostgreSQL reads, and how they join its URL.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use super::url::PostgresUrl;

/// Connections per process unless `--database-pool-size` says otherwise. A point read or an
/// upsert holds one for a fraction of a millisecond, so ten carry thousands of requests per
/// second; size it against the server's `max_connections` (docs/postgres.md).
pub const DEFAULT_POOL_SIZE: NonZeroUsize = NonZeroUsize::new(10).expect("not zero");

#[derive(Debug, Clone, clap::Args)]
pub struct PostgresArgs {
    /// PostgreSQL only: a file holding the password (a mounted Kubernetes Secret, say), read
    /// again for every new connection, so a rotated password is used without a restart.
    /// Otherwise the password comes from the URL or `PGPASSWORD`.
    #[arg(long, env = "DATABASE_PASSWORD_FILE")]
    database_password_file: Option<PathBuf>,

    /// PostgreSQL only: most connections this process opens. Across all replicas, keep the
    /// total below the server's `max_connections`.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE)]
    database_pool_size: NonZeroUsize,
}

impl PostgresArgs {
    /// `url` with the settings these flags give.
    pub fn apply(&self, url: PostgresUrl) -> PostgresUrl {
        url.with_password_file(self.database_password_file.clone())
            .with_pool_size(Some(self.database_pool_size))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        postgres: PostgresArgs,
    }

    fn url() -> PostgresUrl {
        "app@db/hello".parse().unwrap()
    }

    #[test]
    fn the_flags_join_the_url() {
        let command = Command::parse_from([
            "hello-birthday",
            "--database-password-file",
            "/run/secrets/db",
            "--database-pool-size",
            "3",
        ]);
        let url = command.postgres.apply(url());
        assert_eq!(
            url.password_file(),
            Some(std::path::Path::new("/run/secrets/db"))
        );
        assert_eq!(url.pool_size(), NonZeroUsize::new(3));
    }

    #[test]
    fn without_flags_the_pool_has_its_default_size_and_no_password_file() {
        let url = Command::parse_from(["hello-birthday"])
            .postgres
            .apply(url());
        assert_eq!(url.password_file(), None);
        assert_eq!(url.pool_size(), Some(DEFAULT_POOL_SIZE));
    }
}
