//! The command line: [`args`] declares it, one module per subcommand carries it out, and
//! this one parses, dispatches, and turns failures into one clear line on stderr and a
//! non-zero exit code. The terminal (progress bars, summaries) is dealt with here only.

pub mod args;
mod create_table;
mod export;
mod healthcheck;
mod import;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::lifecycle::RUNTIME_SHUTDOWN_DEADLINE;
use args::{Cli, Command};

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
        Command::Serve(args) => serve::run(args).await,
        Command::Healthcheck(args) => healthcheck::run(&args).await,
        Command::CreateTable(args) => create_table::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Export(args) => export::run(args).await,
    }
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
