//! `hello-birthday import FILE`: a progress bar on a terminal, each rejection on stderr, a
//! summary on stdout, and a non-zero exit if anything was rejected.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::ImportArgs;
use crate::clock::{Clock, SystemClock};
use crate::store::{self, Missing, StoreOptions, UserStore};
use crate::transfer::{self, ImportEvent, ImportSummary};

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let options = StoreOptions::bulk(Missing::Refuse);
    let store = store::open(&args.database.url(), options).await?;
    let batch_size = args
        .batch_size
        .map_or_else(|| store.import_batch_size(), |size| size.get());
    let outcome = import_file(store.as_ref(), &args.file, batch_size).await;
    // Closing flushes SQLite's writer, so what was imported is durable even if some was rejected.
    store.close().await;
    let summary = outcome?;
    println!(
        "imported {} users in {} batch{}, rejected {}, in {:.1} s ({:.0} users/s)",
        summary.imported,
        summary.batches,
        if summary.batches == 1 { "" } else { "es" },
        summary.rejected,
        summary.elapsed.as_secs_f64(),
        summary.imported as f64 / summary.elapsed.as_secs_f64().max(1e-3),
    );
    anyhow::ensure!(
        summary.rejected == 0,
        "{} records were rejected (listed above); the valid ones were imported",
        summary.rejected
    );
    Ok(())
}

async fn import_file(
    store: &dyn UserStore,
    path: &Path,
    batch_size: usize,
) -> anyhow::Result<ImportSummary> {
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let bar = progress_bar(size);
    let today = SystemClock.today();
    let summary = transfer::import(store, input, today, batch_size, |event| match event {
        ImportEvent::Rejected(rejection) => bar.suspend(|| eprintln!("{rejection}")),
        ImportEvent::Progress {
            bytes_read,
            imported,
        } => {
            bar.set_position(bytes_read);
            let rate = imported as f64 / bar.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{imported} users, {rate:.0} users/s"));
        }
    })
    .await;
    bar.finish_and_clear();
    summary
}

/// A bar on a terminal, nothing at all when stderr is piped (the summary says it all).
fn progress_bar(size: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match size {
        Some(size) => ProgressBar::new(size).with_style(
            ProgressStyle::with_template(
                "{wide_bar} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}
