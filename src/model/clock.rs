//! The monotonic clock the runner times samples with, as a trait so that tests drive a
//! fake one and every timing path is tested with exact values.

use std::time::{Duration, Instant};

/// A monotonic clock. `elapsed` is the time since an arbitrary fixed origin.
pub trait Clock: Send + Sync {
    fn elapsed(&self) -> Duration;
}

/// The real monotonic clock (`std::time::Instant`, CLOCK_MONOTONIC on Linux).
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }
}
