//! Deterministic workload and clock for tests of the runner, store and reports.
//!
//! Not reachable from the config: tests build it directly. The fake workload advances a
//! [`FakeClock`] by a programmed duration per iteration instead of doing work, so the whole
//! pipeline (runner → stats → store → report) can be tested with exact expected values,
//! without depending on the speed of the machine running the tests.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::model::clock::Clock;
use crate::model::metric::MetricDef;
use crate::workload::{CancelToken, LatencyRecorder, Workload, WorkloadContext, WorkloadError};

/// Wall time at the moment it was set, and the monotonic reading (ns) then.
type WallSetting = (chrono::DateTime<chrono::Utc>, u64);

/// A monotonic clock that only moves when told to, and a wall clock that reads the real
/// time until [`FakeClock::set_now`] sets it (then it moves with the monotonic clock).
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
    wall: Arc<std::sync::Mutex<Option<WallSetting>>>,
}

impl FakeClock {
    pub fn new() -> Self {
        Self::default()
    }
    pub(crate) fn advance(&self, by: Duration) {
        self.nanos.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }
    /// From now on the wall clock reads `at` plus the fake time that passes.
    pub fn set_now(&self, at: chrono::DateTime<chrono::Utc>) {
        let nanos = self.nanos.load(Ordering::SeqCst);
        *self.wall.lock().unwrap_or_else(|e| e.into_inner()) = Some((at, nanos));
    }
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match *self.wall.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, since)) => {
                let passed = self.nanos.load(Ordering::SeqCst).saturating_sub(since);
                at + chrono::Duration::nanoseconds(passed as i64)
            }
            None => chrono::Utc::now(),
        }
    }
}

/// What the fake does on each `run` call.
#[derive(Debug, Clone)]
pub enum FakeStep {
    /// Advance the clock by this much per iteration and report one unit per iteration.
    Take(Duration),
    /// Fail with this message.
    Fail(String),
    /// Cancel the given token (simulates Ctrl-C arriving during this sample).
    Cancel(CancelToken, Duration),
}

pub struct FakeWorkload {
    pub metric: MetricDef,
    clock: FakeClock,
    steps: Vec<FakeStep>,
    calls: Arc<AtomicUsize>,
}

impl FakeWorkload {
    /// Steps are used in order; the last one repeats.
    pub fn new(metric: MetricDef, clock: FakeClock, steps: Vec<FakeStep>) -> Self {
        assert!(!steps.is_empty(), "a fake needs at least one step");
        FakeWorkload {
            metric,
            clock,
            steps,
            calls: Arc::default(),
        }
    }

    /// Shared count of `run` calls, for assertions.
    pub fn calls(&self) -> Arc<AtomicUsize> {
        self.calls.clone()
    }
}

impl Workload for FakeWorkload {
    fn metric(&self) -> MetricDef {
        self.metric.clone()
    }

    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let step = self.steps[call.min(self.steps.len() - 1)].clone();
        match step {
            FakeStep::Take(per_iteration) => {
                self.clock.advance(per_iteration * iterations as u32);
                latencies.record_nanos(per_iteration.as_nanos() as u64);
                Ok(iterations as f64)
            }
            FakeStep::Fail(message) => Err(WorkloadError::Invalid(message)),
            FakeStep::Cancel(token, per_iteration) => {
                self.clock.advance(per_iteration * iterations as u32);
                token.cancel();
                Ok(iterations as f64)
            }
        }
    }
}

/// A context with a fresh scratch folder under the system temp dir, for unit tests.
pub fn test_context() -> WorkloadContext {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "perfwarden-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("create test scratch dir");
    context_in(dir, 2)
}

/// A context with this scratch folder and CPU count, for unit tests.
pub fn context_in(scratch_dir: PathBuf, available_cpus: usize) -> WorkloadContext {
    WorkloadContext {
        scratch_dir,
        cancel: CancelToken::new(),
        available_cpus,
    }
}
