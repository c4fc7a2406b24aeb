//! `hello-birthday create-table`: the store (a DynamoDB table, a SQLite file) for local
//! development.

use super::args::CreateTableArgs;
use crate::store;

pub async fn run(args: CreateTableArgs) -> anyhow::Result<()> {
    println!("{}", store::create(&args.database.database_url).await?);
    Ok(())
}
