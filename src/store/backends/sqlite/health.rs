//! What readiness and liveness read for SQLite, kept up to date off the request path.
//!
//! - The writer thread records when it took up a group of writes and how the last commit went.
//!   A group held longer than [`STUCK_AFTER`] means the writer is stuck (a hung disk, a lock
//!   another process never releases); a failed last commit means writes are failing, and
//!   readiness fails until a commit succeeds again. When nothing has been written for a
//!   while, a readiness check asks the writer for a probe commit, a real page write with its
//!   fsync, so the state never goes stale and a full disk is never declared healthy by a
//!   commit that wrote nothing.
//! - A writer thread that has exited while the store is open cannot come back: the process
//!   must be replaced (liveness fails).
//! - A watcher thread compares the device and inode that the configured database path names
//!   now (through any symlink) with the file that was opened, every [`WATCH_INTERVAL`]. A file
//!   replaced, deleted or renamed under a running process, or a symlink switched to another
//!   file, leaves it reading and writing a file nobody else sees.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::lock;
use crate::store::Health;
use crate::time::AtomicInstant;

/// A commit may wait up to the busy timeout (5 s) for another process's lock; twice that and
/// the writer is not coming back soon.
pub const STUCK_AFTER: Duration = Duration::from_secs(10);
/// With no commit for this long, the next readiness check asks for a probe commit.
pub const PROBE_AFTER: Duration = Duration::from_secs(5);
/// How often the watcher looks at the database path: one `stat`, cheap enough.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What the writer thread reports and readiness reads, shared without a lock.
pub struct WriterHealth {
    /// When the writer took up the group it is committing; none while it waits for work.
    busy_since: AtomicInstant,
    last_finished: AtomicInstant,
    last_failed: AtomicBool,
    exited: AtomicBool,
}

/// What the writer's state says, and whether a probe commit should be queued.
#[derive(Debug, PartialEq, Eq)]
pub struct Assessment {
    pub health: Health,
    pub probe_due: bool,
}

/// Marks the writer as gone when its thread ends, normally or by a panic.
pub struct ExitGuard<'a>(&'a WriterHealth);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        self.0.exited.store(true, Ordering::Release);
    }
}

impl WriterHealth {
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            busy_since: AtomicInstant::none_since(now),
            last_finished: AtomicInstant::none_since(now),
            last_failed: AtomicBool::new(false),
            exited: AtomicBool::new(false),
        }
    }

    pub fn exit_guard(&self) -> ExitGuard<'_> {
        ExitGuard(self)
    }

    pub fn started_work(&self) {
        self.busy_since.set(Instant::now());
    }

    pub fn finished_work(&self, error: Option<&rusqlite::Error>) {
        if let Some(error) = error {
            if !self.last_failed.swap(true, Ordering::AcqRel) {
                tracing::error!(error = %error, "SQLite writes are failing; readiness fails until one succeeds");
            }
        } else if self.last_failed.swap(false, Ordering::AcqRel) {
            tracing::info!("SQLite writes succeed again");
        }
        self.last_finished.set(Instant::now());
        self.busy_since.clear();
    }

    pub fn assess(&self) -> Assessment {
        self.assess_at(Instant::now())
    }

    /// Time is a parameter so tests can look at any moment.
    pub fn assess_at(&self, now: Instant) -> Assessment {
        if self.exited.load(Ordering::Acquire) {
            return Assessment {
                health: Health::Broken("the SQLite writer thread has stopped"),
                probe_due: false,
            };
        }
        let busy_for = self.busy_since.elapsed_at(now);
        if busy_for.is_some_and(|busy| busy > STUCK_AFTER) {
            return Assessment {
                health: Health::NotReady("the SQLite writer is stuck"),
                probe_due: false,
            };
        }
        let probe_due = busy_for.is_none()
            && self
                .last_finished
                .elapsed_at(now)
                .is_none_or(|idle| idle > PROBE_AFTER);
        let health = if self.last_failed.load(Ordering::Acquire) {
            Health::NotReady("writes to the SQLite database are failing")
        } else {
            Health::Ready
        };
        Assessment { health, probe_due }
    }
}

/// Notices that the database path no longer names the file that was opened.
pub struct FileWatch {
    replaced: Arc<AtomicBool>,
    /// Dropping the sender stops the watcher thread.
    stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl FileWatch {
    pub fn start(path: &Path) -> anyhow::Result<Self> {
        let opened =
            identity(path).with_context(|| format!("cannot look up {}", path.display()))?;
        let replaced = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let flag = replaced.clone();
        let path = path.to_owned();
        std::thread::Builder::new()
            .name("sqlite-file-watch".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(WATCH_INTERVAL)
                {
                    if !still_the_same(&path, opened) {
                        flag.store(true, Ordering::Release);
                        return;
                    }
                }
            })
            .context("cannot start the SQLite file watcher")?;
        Ok(Self {
            replaced,
            stop: Mutex::new(Some(stop)),
        })
    }

    /// One relaxed load: cheap enough for every GET.
    pub fn replaced(&self) -> bool {
        self.replaced.load(Ordering::Relaxed)
    }

    pub fn stop(&self) {
        lock(&self.stop).take();
    }
}

fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.dev(), metadata.ino()))
}

fn still_the_same(path: &Path, opened: (u64, u64)) -> bool {
    match identity(path) {
        Ok(now) if now == opened => true,
        outcome => {
            let now = outcome.map_or_else(|e| e.to_string(), |id| format!("inode {id:?}"));
            tracing::error!(
                database = %path.display(),
                now,
                "the SQLite database path no longer names the open file (replaced, deleted, \
                 renamed, or a symlink switched): writes are refused and readiness fails; \
                 restart the process"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_writer_is_ready_and_due_a_probe() {
        let health = WriterHealth::new();
        assert_eq!(
            health.assess_at(Instant::now()),
            Assessment {
                health: Health::Ready,
                probe_due: true
            }
        );
    }

    #[test]
    fn a_recent_commit_needs_no_probe() {
        let health = WriterHealth::new();
        health.started_work();
        health.finished_work(None);
        assert!(!health.assess_at(Instant::now()).probe_due);
        let later = Instant::now() + PROBE_AFTER + Duration::from_secs(1);
        assert!(health.assess_at(later).probe_due);
    }

    #[test]
    fn a_group_held_too_long_is_stuck() {
        let health = WriterHealth::new();
        health.started_work();
        let now = Instant::now();
        assert_eq!(health.assess_at(now).health, Health::Ready);
        let later = now + STUCK_AFTER + Duration::from_secs(1);
        assert_eq!(
            health.assess_at(later).health,
            Health::NotReady("the SQLite writer is stuck")
        );
    }

    #[test]
    fn a_failed_commit_is_not_ready_until_one_succeeds() {
        let health = WriterHealth::new();
        health.started_work();
        health.finished_work(Some(&rusqlite::Error::InvalidQuery));
        let failing = health.assess_at(Instant::now());
        assert!(matches!(failing.health, Health::NotReady(_)), "{failing:?}");
        health.started_work();
        health.finished_work(None);
        assert_eq!(health.assess_at(Instant::now()).health, Health::Ready);
    }

    #[test]
    fn an_exited_writer_is_broken() {
        let health = WriterHealth::new();
        drop(health.exit_guard());
        assert!(matches!(
            health.assess_at(Instant::now()).health,
            Health::Broken(_)
        ));
    }
}
