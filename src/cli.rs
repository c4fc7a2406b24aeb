//! The process entry point: parse the command line, run the subcommand, turn failures
//! into one clear line on stderr and a non-zero exit code.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use clap::error::ErrorKind;

use crate::clock::{Clock, SystemClock};
use crate::config::{
    Cli, Command, CreateTableArgs, DatabaseUrl, ExportArgs, ImportArgs, ServeArgs,
};
use crate::lifecycle::{FORCED_EXIT_CODE, LOG_FLUSH_DEADLINE, RUNTIME_SHUTDOWN_DEADLINE, Signals};
use crate::server::Server;
use crate::store::dynamodb::{DynamoDbStore, TableCreated};
use crate::store::{self, Missing, Workload};
use crate::telemetry::Flusher;
use crate::{healthcheck, telemetry, transfer};

/// Exit code for a command line that cannot be understood, as clap and BSD `sysexits` use.
const USAGE_ERROR: u8 = 2;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&anyhow::Error::new(error).context("cannot start the async runtime"));
        }
    };
    let outcome = runtime.block_on(run(cli.command));
    // A task still blocked (on a hung store, say) must not hold the exit up indefinitely.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_DEADLINE);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Healthcheck(args) => healthcheck::check(&args).await,
        Command::CreateTable(args) => create_table(args).await,
        Command::Import(args) => import(args).await,
        Command::Export(args) => export(args).await,
    }
}

async fn create_table(args: CreateTableArgs) -> anyhow::Result<()> {
    let url = args.database.database_url;
    match &url {
        DatabaseUrl::DynamoDb { table } => {
            let store = DynamoDbStore::connect(table, Workload::Bulk).await?;
            let outcome = store
                .create_table()
                .await
                .with_context(|| format!("cannot create table {table}"))?;
            match outcome {
                TableCreated::Created => println!("created table {table}"),
                TableCreated::AlreadyExisted => println!("table {table} already exists"),
            }
        }
        // Opening a SQLite store creates the file and migrates its schema.
        DatabaseUrl::Sqlite(_) => {
            store::open_for_bulk(&url, Missing::Create)
                .await?
                .close()
                .await;
            println!("{url} is ready");
        }
    }
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let store = store::open_for_bulk(&args.database.database_url, Missing::Refuse).await?;
    let outcome = transfer::import_file(store.as_ref(), &args.file, SystemClock.today()).await;
    // Closing flushes SQLite's writer, so what was imported is durable even if some was rejected.
    store.close().await;
    outcome.map(drop)
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let store = store::open_read_only(&args.database.database_url).await?;
    let exported = transfer::export(store.as_ref(), std::io::stdout().lock()).await?;
    eprintln!("exported {exported} users");
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let logs = telemetry::init_logging(&args.telemetry)?;
    // First thing after logging: a SIGTERM while the store opens must end the process cleanly.
    let signals = Signals::install().context("cannot listen for SIGTERM and SIGINT")?;
    let flusher = logs.flusher();
    let mut stop = tokio::spawn(signals.first_then(move |signal| force_exit(signal, &flusher)));
    let server = tokio::select! {
        server = Server::build(&args, Arc::new(SystemClock)) => server?,
        _ = &mut stop => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        address = %server.local_addr()?,
        database = %args.database.database_url,
        "ready to serve"
    );
    server
        .run(async move {
            let _ = stop.await;
        })
        .await
}

/// A second signal during the drain: exit now, with what was logged so far on stdout.
fn force_exit(signal: &'static str, logs: &Flusher) -> ! {
    tracing::error!(
        signal,
        "second signal during shutdown: exiting at once, requests in flight are abandoned"
    );
    logs.flush_within(LOG_FLUSH_DEADLINE);
    std::process::exit(FORCED_EXIT_CODE)
}

fn fail(error: &anyhow::Error) -> ExitCode {
    // `{:#}` prints the whole cause chain on one line: "cannot listen on ...: Address in use".
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

fn usage_error(error: clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    // clap adds usage and a hint over several lines; the first line says what is wrong.
    let rendered = error.render().to_string();
    eprintln!(
        "{}",
        rendered
            .lines()
            .next()
            .unwrap_or("error: invalid command line")
    );
    ExitCode::from(USAGE_ERROR)
}
