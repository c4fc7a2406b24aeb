//! `hello-birthday export`: every user on stdout, a count on stderr.

use super::args::ExportArgs;
use crate::{store, transfer};

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let store = store::open_read_only(&args.database.url()).await?;
    let exported = transfer::export(store.as_ref(), std::io::stdout().lock()).await?;
    eprintln!("exported {exported} users");
    Ok(())
}
