//! Measures the runner's fixed cost per sample: the two clock reads, the cancel and budget
//! checks, the value computation and storing the sample — everything the runner adds
//! around a workload's `run`. It drives the real sampling loop
//! (`perfwarden::runner::sample_workload`) with a workload that does nothing, so the whole
//! time per sample is overhead.
//!
//! Run: `cargo run --release --example timing_overhead` (or `scripts/timing-overhead.sh`).

use std::time::{Duration, Instant};

use perfwarden::model::clock::{Clock, MonotonicClock};
use perfwarden::model::metric::MetricDef;
use perfwarden::model::options::BenchOptions;
use perfwarden::runner::sample_workload;
use perfwarden::workload::{CancelToken, LatencyRecorder, Workload, WorkloadError};

struct Nothing;

impl Workload for Nothing {
    fn metric(&self) -> MetricDef {
        MetricDef::duration("call")
    }
    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        Ok(std::hint::black_box(iterations) as f64)
    }
}

fn main() {
    const SAMPLES: usize = 2_000_000;
    let options = BenchOptions {
        samples: SAMPLES,
        warmup: Duration::ZERO,
        min_time: Duration::ZERO,
        time_budget: Duration::from_secs(600),
        timeout: Duration::from_secs(600),
        tolerance: 0.05,
        major: 0.15,
        critical: 0.30,
        slo: Vec::new(),
    };
    let clock = MonotonicClock::default();

    // The clock alone, for reference.
    let reads = 10_000_000u32;
    let start = Instant::now();
    for _ in 0..reads {
        std::hint::black_box(clock.elapsed());
    }
    let per_read = start.elapsed() / reads;

    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let sampling = sample_workload(
            &mut Nothing,
            &options,
            &clock,
            &CancelToken::new(),
            &mut |_| {},
        );
        let per_sample = start.elapsed() / sampling.samples.len() as u32;
        assert_eq!(sampling.samples.len(), SAMPLES);
        best = best.min(per_sample);
    }
    println!(
        "clock read (Instant::now via MonotonicClock): {} ns",
        per_read.as_nanos()
    );
    println!(
        "runner overhead per sample (best of 5 × {SAMPLES} samples): {} ns",
        best.as_nanos()
    );
}
