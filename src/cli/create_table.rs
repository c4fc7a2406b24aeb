//! `hello-birthday create-table`: the store (a DynamoDB table, a SQLite file) for local
//! development, or the schema (PostgreSQL), run with the migration role.

use super::args::CreateTableArgs;
use crate::store;

pub async fn run(args: CreateTableArgs) -> anyhow::Result<()> {
    println!("{}", store::create(&args.database.url()).await?);
    Ok(())
}
