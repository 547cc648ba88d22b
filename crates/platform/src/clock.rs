//! The time a service acts on. Real time in production; a test sets it to
//! walk an application through days of working time in milliseconds.
//! Only what schedules by time (SLA escalation) reads it; records keep
//! their own real timestamps.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Milliseconds since the epoch, or 0 for real time.
    fixed: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        match self.fixed.load(Ordering::Relaxed) {
            0 => crate::store::now_ms(),
            ms => ms,
        }
    }

    /// From now on this clock (and every clone of it) reads `ms`.
    pub fn set(&self, ms: i64) {
        self.fixed.store(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_reads_what_was_set_in_every_clone() {
        let c = Clock::default();
        let real = c.now_ms();
        assert!(real > 1_700_000_000_000);
        let clone = c.clone();
        c.set(42_000);
        assert_eq!(clone.now_ms(), 42_000);
    }
}
