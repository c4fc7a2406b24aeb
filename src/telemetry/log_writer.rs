//! Where log lines go: a shared in-memory buffer that a background thread writes to stdout
//! in batches.
//!
//! Every request logs a line, so the cost per line matters. Writing each line with its own
//! syscall, or handing each line to a logging thread through a channel (one thread wake-up
//! per line), cut the API's throughput roughly in half in our benchmark. Appending to a
//! buffer under an uncontended mutex costs a memcpy; the writer thread wakes up every
//! [`FLUSH_INTERVAL`], or sooner when the buffer fills, and writes all lines at once.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits in memory before it reaches stdout.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Past this many buffered bytes the writer thread is woken at once.
const WAKE_AT_BYTES: usize = 256 * 1024;
/// If stdout cannot keep up, lines beyond this are dropped (and counted) rather than
/// growing memory without bound or making requests wait for the log reader.
const MAX_BUFFERED_BYTES: usize = 16 * 1024 * 1024;

struct Shared {
    buffer: Mutex<Vec<u8>>,
    wake: Condvar,
    closing: AtomicBool,
    dropped_lines: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A byte buffer cannot be left inconsistent by a panicking writer.
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands out writers for `tracing-subscriber`; all of them append to the same buffer.
#[derive(Clone)]
pub struct BatchedStdout {
    shared: Arc<Shared>,
}

/// Flushes what is buffered and stops the writer thread when dropped: keep it until exit.
pub struct FlushOnDrop {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

pub fn batched_stdout() -> io::Result<(BatchedStdout, FlushOnDrop)> {
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Vec::with_capacity(WAKE_AT_BYTES)),
        wake: Condvar::new(),
        closing: AtomicBool::new(false),
        dropped_lines: AtomicU64::new(0),
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_batches(&worker, &mut io::stdout()))?;
    Ok((
        BatchedStdout {
            shared: shared.clone(),
        },
        FlushOnDrop {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches(shared: &Shared, out: &mut impl Write) {
    let mut batch = Vec::with_capacity(WAKE_AT_BYTES);
    loop {
        let closing = {
            let buffer = shared.lock();
            let (mut buffer, _) = shared
                .wake
                .wait_timeout_while(buffer, FLUSH_INTERVAL, |b| {
                    b.len() < WAKE_AT_BYTES && !shared.closing.load(Ordering::Acquire)
                })
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *buffer, &mut batch);
            shared.closing.load(Ordering::Acquire)
        };
        // Nowhere to report a failing stdout but stdout itself; keep serving regardless.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        let dropped = shared.dropped_lines.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                r#"{{"level":"WARN","message":"log lines dropped: stdout too slow","dropped":{dropped}}}"#
            );
        }
        if closing {
            return;
        }
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One formatted event; `tracing-subscriber` writes each event in a single `write_all`.
pub struct LineWriter {
    shared: Arc<Shared>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.shared.lock();
        if buffer.len() + bytes.len() > MAX_BUFFERED_BYTES {
            self.shared.dropped_lines.fetch_add(1, Ordering::Relaxed);
        } else {
            buffer.extend_from_slice(bytes);
            if buffer.len() >= WAKE_AT_BYTES {
                self.shared.wake.notify_one();
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStdout {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: self.shared.clone(),
        }
    }
}
