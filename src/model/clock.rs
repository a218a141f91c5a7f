//! The clocks the runner reads, as a trait so that tests drive a fake one: the monotonic
//! clock it times samples with (every timing path tested with exact values), and the wall
//! clock that dates runs and results (so a test can lay out weeks of history in seconds).

use std::time::{Duration, Instant};

/// A monotonic clock. `elapsed` is the time since an arbitrary fixed origin.
pub trait Clock: Send + Sync {
    fn elapsed(&self) -> Duration;

    /// The wall-clock time runs and results are dated with.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
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
