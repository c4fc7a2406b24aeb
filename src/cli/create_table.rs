//! `hello-birthday create-table`: the table (DynamoDB) or file (SQLite) for local development.

use super::args::CreateTableArgs;
use crate::store::{self, DatabaseUrl, TableCreated};

pub async fn run(args: CreateTableArgs) -> anyhow::Result<()> {
    let url = args.database.database_url;
    let outcome = store::create_table(&url).await?;
    match (&url, outcome) {
        (DatabaseUrl::DynamoDb { table }, TableCreated::Created) => {
            println!("created table {table}");
        }
        (DatabaseUrl::DynamoDb { table }, TableCreated::AlreadyExisted) => {
            println!("table {table} already exists");
        }
        (DatabaseUrl::Sqlite(_), _) => println!("{url} is ready"),
    }
    Ok(())
}
