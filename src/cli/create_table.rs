//! `hello-birthday create-table`: the table (DynamoDB) or file (SQLite) for local development,
//! and the schema (PostgreSQL), run with the migration role.

use super::args::CreateTableArgs;
use crate::store::{self, DatabaseUrl, TableCreated};

pub async fn run(args: CreateTableArgs) -> anyhow::Result<()> {
    let url = args.database.url();
    let outcome = store::create_table(&url).await?;
    match (&url, outcome) {
        (DatabaseUrl::DynamoDb { table }, TableCreated::Created) => {
            println!("created table {table}");
        }
        (DatabaseUrl::DynamoDb { table }, TableCreated::AlreadyExisted) => {
            println!("table {table} already exists");
        }
        (DatabaseUrl::Postgres(_), TableCreated::Created) => {
            println!("created the schema in {url}");
        }
        (DatabaseUrl::Sqlite(_) | DatabaseUrl::Postgres(_), _) => println!("{url} is ready"),
    }
    Ok(())
}
