//! Moments the process measures for itself, shared between threads without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A moment kept in an atomic, or none: milliseconds since an epoch fixed at creation, so that
/// the reads, writes and timers of several threads can share it. Moments before the epoch
/// count as the epoch itself.
#[derive(Debug)]
pub struct AtomicInstant {
    epoch: Instant,
    /// Milliseconds since `epoch`, plus one; [`NONE`] when no moment is kept.
    stamp: AtomicU64,
}

const NONE: u64 = 0;

impl AtomicInstant {
    /// Keeps no moment yet; the ones it will keep are measured from `epoch`.
    pub fn none_since(epoch: Instant) -> Self {
        Self {
            epoch,
            stamp: AtomicU64::new(NONE),
        }
    }

    pub fn set(&self, at: Instant) {
        self.stamp.store(self.stamp_of(at), Ordering::Release);
    }

    /// Keeps `at` unless a later moment is kept already: moments reported out of order
    /// never move it back.
    pub fn set_later(&self, at: Instant) {
        self.stamp.fetch_max(self.stamp_of(at), Ordering::AcqRel);
    }

    pub fn clear(&self) {
        self.stamp.store(NONE, Ordering::Release);
    }

    /// The moment kept, to the millisecond.
    pub fn get(&self) -> Option<Instant> {
        match self.stamp.load(Ordering::Acquire) {
            NONE => None,
            stamp => Some(self.epoch + Duration::from_millis(stamp - 1)),
        }
    }

    /// How long before `now` the moment kept was, to the millisecond; `None` if none is kept.
    pub fn elapsed_at(&self, now: Instant) -> Option<Duration> {
        match self.stamp.load(Ordering::Acquire) {
            NONE => None,
            stamp => Some(Duration::from_millis(
                self.stamp_of(now).saturating_sub(stamp),
            )),
        }
    }

    fn stamp_of(&self, at: Instant) -> u64 {
        let millis = at.saturating_duration_since(self.epoch).as_millis();
        u64::try_from(millis).map_or(u64::MAX, |millis| millis.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn keeps_nothing_until_set_and_after_clear() {
        let epoch = Instant::now();
        let moment = AtomicInstant::none_since(epoch);
        assert_eq!(moment.get(), None);
        assert_eq!(moment.elapsed_at(epoch + SECOND), None);
        moment.set(epoch);
        assert_eq!(moment.get(), Some(epoch), "the epoch itself is a moment");
        moment.clear();
        assert_eq!(moment.get(), None);
    }

    #[test]
    fn keeps_moments_to_the_millisecond() {
        let epoch = Instant::now();
        let moment = AtomicInstant::none_since(epoch);
        moment.set(epoch + Duration::from_micros(2_500_700));
        assert_eq!(moment.get(), Some(epoch + Duration::from_millis(2_500)));
        assert_eq!(
            moment.elapsed_at(epoch + Duration::from_millis(3_500)),
            Some(SECOND)
        );
        assert_eq!(
            moment.elapsed_at(epoch),
            Some(Duration::ZERO),
            "a moment after now is no time ago"
        );
    }

    #[test]
    fn moments_before_the_epoch_count_as_the_epoch() {
        let epoch = Instant::now() + SECOND;
        let moment = AtomicInstant::none_since(epoch);
        moment.set(epoch - SECOND);
        assert_eq!(moment.get(), Some(epoch));
    }

    #[test]
    fn a_later_moment_is_never_replaced_by_an_earlier_one() {
        let epoch = Instant::now();
        let moment = AtomicInstant::none_since(epoch);
        moment.set_later(epoch + 2 * SECOND);
        moment.set_later(epoch + SECOND);
        assert_eq!(moment.get(), Some(epoch + 2 * SECOND));
        moment.set_later(epoch + 3 * SECOND);
        assert_eq!(moment.get(), Some(epoch + 3 * SECOND));
    }
}
