//! Readiness of a networked store from its own recent results, with no query per probe.
//!
//! Every successful read or write is recorded; a background probe runs only when nothing has
//! succeeded for [`PROBE_INTERVAL`], so a busy task never adds load for its health checks. The
//! store is ready while something succeeded within [`READY_WINDOW`].

use std::time::{Duration, Instant};

use crate::store::Health;
use crate::time::AtomicInstant;

/// With nothing succeeding for this long, the background probe runs.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// Ready while a read or write succeeded this recently: three probes, so one slow or
/// throttled probe does not take a task out of rotation, while an outage does within seconds.
pub const READY_WINDOW: Duration = Duration::from_secs(6);

/// When one store's reads and writes last succeeded.
pub struct Freshness {
    last_success: AtomicInstant,
    /// Readiness's reason once successes have stopped, then before the first one.
    stopped: &'static str,
    never: &'static str,
}

impl Freshness {
    /// `stopped` and `never` name the store: "DynamoDB reads and writes have stopped
    /// succeeding", "no DynamoDB read or write has succeeded yet".
    pub fn new(stopped: &'static str, never: &'static str) -> Self {
        Self {
            last_success: AtomicInstant::none_since(Instant::now()),
            stopped,
            never,
        }
    }

    /// Operations finish out of order (a slow one after a fast one): the latest success counts.
    pub fn succeeded_at(&self, at: Instant) {
        self.last_success.set_later(at);
    }

    /// How long ago something last succeeded, `None` if nothing ever did.
    pub fn since_success(&self, now: Instant) -> Option<Duration> {
        self.last_success.elapsed_at(now)
    }

    pub fn health_at(&self, now: Instant) -> Health {
        match self.since_success(now) {
            Some(since) if since <= READY_WINDOW => Health::Ready,
            Some(_) => Health::NotReady(self.stopped),
            None => Health::NotReady(self.never),
        }
    }

    /// Waits one [`PROBE_INTERVAL`], then says whether nothing succeeded within it: time for
    /// the background probe.
    pub async fn probe_due(&self) -> bool {
        tokio::time::sleep(PROBE_INTERVAL).await;
        self.since_success(Instant::now())
            .is_none_or(|since| since >= PROBE_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_last_success() {
        let start = Instant::now();
        let freshness = Freshness::new("stopped", "never");
        assert_eq!(freshness.health_at(start), Health::NotReady("never"));
        freshness.succeeded_at(start);
        assert_eq!(freshness.health_at(start + READY_WINDOW), Health::Ready);
        let stale = start + READY_WINDOW + Duration::from_millis(10);
        assert_eq!(freshness.health_at(stale), Health::NotReady("stopped"));
    }

    #[test]
    fn a_late_report_of_an_earlier_success_does_not_move_it_back() {
        let start = Instant::now();
        let freshness = Freshness::new("stopped", "never");
        freshness.succeeded_at(start + Duration::from_secs(5));
        freshness.succeeded_at(start);
        assert_eq!(
            freshness.since_success(start + Duration::from_secs(7)),
            Some(Duration::from_secs(2))
        );
    }
}
