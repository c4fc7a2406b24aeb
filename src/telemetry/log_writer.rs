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

use metrics::Counter;
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

/// This thread's buffer: threads are numbered in the order they first log. The number is
/// per thread by nature (which buffer this thread appends to, so threads do not contend), and
/// `tracing` asks for a writer with no way to say which thread asks: hence a thread-local,
/// and the counter that numbers threads is global with it.
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

/// Lines dropped because stdout could not keep up are counted in `dropped`.
pub fn batched_stdout(
    format: LogFormat,
    dropped: Counter,
) -> io::Result<(BatchedStdout, FlushOnDrop)> {
    batched(io::stdout(), format, dropped)
}

/// Like [`batched_stdout`], writing to `out` (the seam the tests use).
fn batched(
    mut out: impl Write + Send + 'static,
    format: LogFormat,
    dropped: Counter,
) -> io::Result<(BatchedStdout, FlushOnDrop)> {
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
        .spawn(move || write_batches(&worker, &mut out, format, &dropped))?;
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

fn write_batches(shared: &Shared, out: &mut impl Write, format: LogFormat, counted: &Counter) {
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
            counted.increment(dropped);
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

#[cfg(test)]
mod tests {
    use std::sync::Condvar;

    use super::*;

    /// An in-memory stdout that can be stalled, as a log shipper that stops reading would.
    #[derive(Clone, Default)]
    struct Sink {
        written: Arc<Mutex<Vec<u8>>>,
        stalled: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Sink {
        fn stall(&self, stalled: bool) {
            let (lock, changed) = &*self.stalled;
            *lock.lock().unwrap() = stalled;
            changed.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(self.written.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (lock, changed) = &*self.stalled;
            let _open = changed
                .wait_while(lock.lock().unwrap(), |stalled| *stalled)
                .unwrap();
            self.written.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(writers: &BatchedStdout, line: &str) {
        writers.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_exit() {
        let sink = Sink::default();
        let (writers, guard) = batched(sink.clone(), LogFormat::Json, Counter::noop()).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..12 {
                let writers = &writers;
                scope.spawn(move || {
                    for line in 0..500 {
                        log(writers, &format!("thread {thread} line {line}\n"));
                    }
                });
            }
        });
        drop(guard);
        let text = sink.text();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        let mut expected: Vec<String> = (0..12)
            .flat_map(|t| (0..500).map(move |l| format!("thread {t} line {l}")))
            .collect();
        expected.sort_unstable();
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_flush_pushes_buffered_lines_out_while_logging_goes_on() {
        let sink = Sink::default();
        let (writers, guard) = batched(sink.clone(), LogFormat::Json, Counter::noop()).unwrap();
        log(&writers, "before the flush\n");
        guard.flusher().flush_within(Duration::from_secs(10));
        assert_eq!(sink.text(), "before the flush\n");
        log(&writers, "after it\n");
        drop(guard);
        assert_eq!(sink.text(), "before the flush\nafter it\n");
    }

    #[test]
    fn lines_beyond_the_memory_bound_are_dropped_counted_and_reported() {
        let sink = Sink::default();
        let (writers, guard) = batched(sink.clone(), LogFormat::Json, Counter::noop()).unwrap();
        sink.stall(true);
        // The writer may be blocked on the first batch; what follows has to wait in memory.
        log(&writers, "first\n");
        guard.flusher().flush_within(Duration::from_millis(300));
        let line = "x".repeat(1023) + "\n";
        let lines = 2 * MAX_BUFFERED_BYTES / SHARDS / line.len();
        for _ in 0..lines {
            log(&writers, &line);
        }
        sink.stall(false);
        drop(guard);
        let text = sink.text();
        let kept = text.lines().filter(|l| l.starts_with('x')).count();
        assert!(kept < lines, "{kept} of {lines} kept: nothing was dropped");
        let report = text
            .lines()
            .find(|l| l.contains("log lines dropped"))
            .expect("a line reports the drop");
        let report: serde_json::Value = serde_json::from_str(report).unwrap();
        assert_eq!(report["dropped"].as_u64(), Some((lines - kept) as u64));
    }

    #[test]
    fn exit_is_not_held_up_by_a_stdout_that_never_drains() {
        let sink = Sink::default();
        let (writers, guard) = batched(sink.clone(), LogFormat::Pretty, Counter::noop()).unwrap();
        sink.stall(true);
        log(&writers, "stuck\n");
        let started = Instant::now();
        drop(guard);
        // A bound, not a benchmark: without it the drop would wait forever.
        assert!(started.elapsed() < 3 * crate::lifecycle::LOG_FLUSH_DEADLINE);
        sink.stall(false);
    }
}
