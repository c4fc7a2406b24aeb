//! Where "today" comes from. Injected so tests can pick the day instead of mocking time globally.

use chrono::{NaiveDate, Utc};

pub trait Clock: Send + Sync + 'static {
    /// The current calendar date in UTC, whatever the host's time zone.
    fn today(&self) -> NaiveDate;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn today(&self) -> NaiveDate {
        Utc::now().date_naive()
    }
}

/// A clock stopped on one day.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub NaiveDate);

impl Clock for FixedClock {
    fn today(&self) -> NaiveDate {
        self.0
    }
}
