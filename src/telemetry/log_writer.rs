//! Where log lines go: in-memory buffers that a background thread writes to stdout in
//! batches.
//!
//! Every request logs a line, so the cost per line matters. Writing each line with its own
//! syscall, or handing each line to a logging thread through a channel (one thread wake-up
//! per line), cut the API's throughput roughly in half in our benchmark. Appending to a
//! buffer costs a memcpy; the writer thread wakes up every [`FLUSH_INTERVAL`], or sooner when
//! a buffer fills, and writes all lines at once. Each thread appends to its own buffer (one
//! of [`SHARDS`]), so worker threads never contend for one lock or cache line; lines from
//! different threads may therefore reach stdout out of timestamp order within one batch.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime};

use tracing_subscriber::fmt::MakeWriter;

use super::LogFormat;

/// Longest a line waits in memory before it reaches stdout.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Past this many bytes in one buffer the writer thread is woken at once.
const WAKE_AT_BYTES: usize = 64 * 1024;
/// Buffers, each used by the threads whose number maps to it. More than the worker threads
/// of a typical task, so that two of them rarely share one.
const SHARDS: usize = 8;
/// If stdout cannot keep up, lines beyond this (in all buffers together) are dropped and
/// counted rather than growing memory without bound or making requests wait for the log reader.
const MAX_BUFFERED_BYTES: usize = 16 * 1024 * 1024;

struct Shared {
    buffers: [Mutex<Vec<u8>>; SHARDS],
    writer_thread: OnceLock<Thread>,
    closing: AtomicBool,
    dropped_lines: AtomicU64,
    /// Batches written so far, so that a flush can tell when its batch is out.
    batches_written: AtomicU64,
}

impl Shared {
    fn lock(&self, shard: usize) -> MutexGuard<'_, Vec<u8>> {
        // A byte buffer cannot be left inconsistent by a panicking writer.
        self.buffers[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn wake_writer(&self) {
        if let Some(thread) = self.writer_thread.get() {
            thread.unpark();
        }
    }
}

/// This thread's buffer: threads are numbered in the order they first log.
fn shard_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// Hands out writers for `tracing-subscriber`; each appends to its thread's buffer.
#[derive(Clone)]
pub struct BatchedStdout {
    shared: Arc<Shared>,
}

/// Flushes what is buffered and stops the writer thread when dropped: keep it until exit.
/// A stdout that does not drain (a stalled log shipper) holds the exit up for at most
/// [`LOG_FLUSH_DEADLINE`](crate::lifecycle::LOG_FLUSH_DEADLINE).
pub struct FlushOnDrop {
    flusher: Flusher,
    thread: Option<JoinHandle<()>>,
}

/// Pushes buffered lines out on demand, waiting a bounded time (for an exit that cannot run
/// destructors).
#[derive(Clone)]
pub struct Flusher {
    shared: Arc<Shared>,
}

pub fn batched_stdout(format: LogFormat) -> io::Result<(BatchedStdout, FlushOnDrop)> {
    let shared = Arc::new(Shared {
        buffers: std::array::from_fn(|_| Mutex::new(Vec::with_capacity(WAKE_AT_BYTES))),
        writer_thread: OnceLock::new(),
        closing: AtomicBool::new(false),
        dropped_lines: AtomicU64::new(0),
        batches_written: AtomicU64::new(0),
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_batches(&worker, &mut io::stdout(), format))?;
    let _ = shared.writer_thread.set(thread.thread().clone());
    Ok((
        BatchedStdout {
            shared: shared.clone(),
        },
        FlushOnDrop {
            flusher: Flusher { shared },
            thread: Some(thread),
        },
    ))
}

fn write_batches(shared: &Shared, out: &mut impl Write, format: LogFormat) {
    let mut batch = Vec::with_capacity(WAKE_AT_BYTES);
    loop {
        // Read before draining, so that lines logged before `closing` was set are written.
        let closing = shared.closing.load(Ordering::Acquire);
        for shard in 0..SHARDS {
            std::mem::swap(&mut *shared.lock(shard), &mut batch);
            // Nowhere to report a failing stdout but stdout itself; keep serving regardless.
            let _ = out.write_all(&batch);
            batch.clear();
        }
        let dropped = shared.dropped_lines.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            metrics::counter!("log_lines_dropped_total").increment(dropped);
            let _ = report_dropped(out, format, dropped);
        }
        let _ = out.flush();
        shared.batches_written.fetch_add(1, Ordering::Release);
        if closing {
            return;
        }
        std::thread::park_timeout(FLUSH_INTERVAL);
    }
}

/// Written by the writer thread itself (logging it would need room in the full buffers),
/// in the shape of the other lines.
fn report_dropped(out: &mut impl Write, format: LogFormat, dropped: u64) -> io::Result<()> {
    const MESSAGE: &str = "log lines dropped: stdout too slow";
    let now = humantime::format_rfc3339_micros(SystemTime::now());
    let target = module_path!();
    match format {
        LogFormat::Json => writeln!(
            out,
            r#"{{"timestamp":"{now}","level":"WARN","target":"{target}","message":"{MESSAGE}","dropped":{dropped}}}"#
        ),
        LogFormat::Pretty => writeln!(out, "{now}  WARN {target}: {MESSAGE} dropped={dropped}"),
    }
}

impl Flusher {
    /// Wakes the writer and waits until a batch started after this call is out, or `deadline`.
    pub fn flush_within(&self, deadline: Duration) {
        let shared = &self.shared;
        let seen = shared.batches_written.load(Ordering::Acquire);
        shared.wake_writer();
        let give_up = Instant::now() + deadline;
        // Two batches: the one in progress may have drained the buffers before our lines.
        while shared.batches_written.load(Ordering::Acquire) < seen + 2 && Instant::now() < give_up
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl FlushOnDrop {
    pub fn flusher(&self) -> Flusher {
        self.flusher.clone()
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let shared = &self.flusher.shared;
        shared.closing.store(true, Ordering::Release);
        shared.wake_writer();
        let Some(thread) = self.thread.take() else {
            return;
        };
        let give_up = Instant::now() + crate::lifecycle::LOG_FLUSH_DEADLINE;
        while !thread.is_finished() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(5));
        }
        // A writer stuck in `write` on a stalled stdout is left behind; the process exits.
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

/// One formatted event; `tracing-subscriber` writes each event in a single `write_all`.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.shared.lock(shard_of_this_thread());
        if buffer.len() + bytes.len() > MAX_BUFFERED_BYTES / SHARDS {
            self.shared.dropped_lines.fetch_add(1, Ordering::Relaxed);
        } else {
            buffer.extend_from_slice(bytes);
            if buffer.len() >= WAKE_AT_BYTES {
                self.shared.wake_writer();
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStdout {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}
