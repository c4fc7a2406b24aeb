//! Group commit, as the SQLite store's writer does it: PUTs that arrive while every writer is
//! busy wait here, and the next statement carries all of them, in one commit. Each PUT is still
//! answered only after the commit that carried it; what the grouping saves is a commit (and
//! its WAL flush) per write on the server, and a statement sent and answered per write in the
//! service.
//!
//! At most as many writers as the pool has connections send statements at once. A PUT that
//! finds one of those places free starts a writer at once, so a lone PUT waits for nothing;
//! otherwise it waits for the next writer to finish its statement and take up the queue.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use metrics::Counter;
use tokio::sync::oneshot;

use crate::store::{BoxError, StoreError, User};

/// Writes in one statement at most: under a flood, one statement stays small.
const MOST_PER_STATEMENT: usize = 256;

/// The writes waiting for a statement, and how many writers are sending one.
pub struct Queue {
    state: Mutex<State>,
    most_writers: usize,
    /// Statements sent: with the count of PUTs, how many writes each commit carried.
    statements: Counter,
}

struct State {
    waiting: Vec<Waiting>,
    writers: usize,
}

/// One PUT waiting for its commit.
pub struct Waiting {
    pub user: User,
    done: oneshot::Sender<Outcome>,
}

pub type Outcome = Result<(), Failed>;

/// Whether a new writer must start for the write just queued.
#[must_use]
pub enum Start {
    Writer,
    Nothing,
}

impl Queue {
    pub fn new(most_writers: usize, statements: Counter) -> Self {
        Self {
            state: Mutex::new(State {
                waiting: Vec::new(),
                writers: 0,
            }),
            most_writers,
            statements,
        }
    }

    /// Queues `user`; the receiver gets the outcome of the commit that carries it.
    pub fn push(&self, user: User) -> (oneshot::Receiver<Outcome>, Start) {
        let (done, outcome) = oneshot::channel();
        let mut state = self.lock();
        state.waiting.push(Waiting { user, done });
        let start = if state.writers < self.most_writers {
            state.writers += 1;
            Start::Writer
        } else {
            Start::Nothing
        };
        (outcome, start)
    }

    /// The next writes for a writer to send, oldest first, without those whose caller has
    /// stopped waiting. None when nothing waits: the writer ends, and its place is free.
    pub fn take(&self) -> Option<Vec<Waiting>> {
        let mut state = self.lock();
        state.waiting.retain(|waiting| !waiting.done.is_closed());
        if state.waiting.is_empty() {
            state.writers -= 1;
            return None;
        }
        let end = state.waiting.len().min(MOST_PER_STATEMENT);
        self.statements.increment(1);
        Some(state.waiting.drain(..end).collect())
    }

    /// A writer that ended otherwise than through [`Queue::take`] (it panicked, or the runtime
    /// stopped) gives its place back, or the queue would have one writer fewer for good.
    pub fn abandon(&self) {
        self.lock().writers -= 1;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing in the lock's scope can panic halfway through a change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Waiting {
    /// The caller may have stopped waiting (its request timed out): the write stands regardless.
    pub fn finish(self, outcome: Outcome) {
        let _ = self.done.send(outcome);
    }
}

/// A statement's failure, told to every write it carried.
#[derive(Clone)]
pub struct Failed {
    temporary: bool,
    cause: Arc<BoxError>,
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        let (temporary, cause) = match error {
            StoreError::Unavailable(cause) => (true, cause),
            StoreError::Failed(cause) => (false, cause),
        };
        Self {
            temporary,
            cause: Arc::new(cause),
        }
    }
}

impl From<Failed> for StoreError {
    /// The same kind, with the same cause chain, as the statement's own error.
    fn from(failed: Failed) -> Self {
        let cause = Cause(failed.cause);
        if failed.temporary {
            Self::unavailable(cause)
        } else {
            Self::failed(cause)
        }
    }
}

/// A shared cause, transparent: it reads, and chains, as the cause itself.
struct Cause(Arc<BoxError>);

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(most_writers: usize) -> Queue {
        Queue::new(most_writers, Counter::noop())
    }

    fn user(name: &str) -> User {
        User::valid(name, "1990-01-01")
    }

    #[test]
    fn writers_start_up_to_the_limit_then_writes_wait_for_them() {
        let queue = queue(2);
        let (_a, first) = queue.push(user("a"));
        let (_b, second) = queue.push(user("b"));
        let (_c, third) = queue.push(user("c"));
        assert!(matches!(first, Start::Writer));
        assert!(matches!(second, Start::Writer));
        assert!(matches!(third, Start::Nothing));
        let names: Vec<String> = queue
            .take()
            .unwrap()
            .into_iter()
            .map(|waiting| waiting.user.username.as_str().to_owned())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    /// With one writer place: a first write takes it, `end` gives it back, and the next write
    /// must find it free.
    fn the_place_is_free_after(end: impl FnOnce(&Queue)) {
        let queue = queue(1);
        let (_a, _) = queue.push(user("a"));
        end(&queue);
        let (_b, start) = queue.push(user("b"));
        assert!(matches!(start, Start::Writer));
    }

    #[test]
    fn a_writer_that_finds_nothing_frees_its_place() {
        the_place_is_free_after(|queue| {
            assert!(queue.take().is_some());
            assert!(queue.take().is_none());
        });
    }

    #[test]
    fn a_writer_that_ended_early_gives_its_place_back() {
        the_place_is_free_after(Queue::abandon);
    }

    #[test]
    fn writes_whose_caller_stopped_waiting_are_not_sent() {
        let queue = queue(1);
        let (gone, _) = queue.push(user("a"));
        let (_waiting, _) = queue.push(user("b"));
        drop(gone);
        let taken = queue.take().unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].user.username.as_str(), "b");
    }

    #[test]
    fn one_statement_carries_a_bounded_number_of_writes() {
        let queue = queue(1);
        let receivers: Vec<_> = (0..MOST_PER_STATEMENT + 1)
            .map(|_| queue.push(user("a")).0)
            .collect();
        assert_eq!(queue.take().unwrap().len(), MOST_PER_STATEMENT);
        assert_eq!(queue.take().unwrap().len(), 1);
        drop(receivers);
    }

    #[tokio::test]
    async fn every_write_of_a_failed_statement_gets_its_kind_and_cause() {
        let queue = queue(1);
        let (first, _) = queue.push(user("a"));
        let (second, _) = queue.push(user("b"));
        let failed = Failed::from(StoreError::unavailable(
            "PostgreSQL put: connection refused",
        ));
        for waiting in queue.take().unwrap() {
            waiting.finish(Err(failed.clone()));
        }
        for outcome in [first, second] {
            let error = StoreError::from(outcome.await.unwrap().unwrap_err());
            assert!(matches!(&error, StoreError::Unavailable(cause)
                if cause.to_string() == "PostgreSQL put: connection refused"));
        }
    }
}
