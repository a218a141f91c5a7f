//! `cpu.parallel` — how well the host's CPUs scale from one thread to all of them.
//!
//! A host can keep its single-core speed and still lose parallel throughput: a tighter
//! CPU quota or cpuset, a noisy neighbour on sibling hyperthreads, an all-core turbo
//! or thermal limit, a kernel scheduling change. `cpu.primes` with `threads = "all"`
//! shows the total but not whether the single core moved too; this probe reports the
//! ratio.
//!
//! **Operation:** each sample times the same `n` sysbench events (the `cpu.primes`
//! kernel: private, no shared memory, so perfect scaling is possible) on one thread, and
//! on each of `threads` threads at once (started together behind a barrier, timed until
//! the last one finishes); the two phases swap order every sample. **Value:** scaling efficiency
//! `t(1 thread) / t(all threads)` — the all-thread rate divided by `threads` × the
//! single-thread rate; 1.0 is perfect scaling, higher is better. Measurements: the
//! single-thread and all-thread event rates, the speedup and the thread count.
//! On a one-CPU host the value is 1 by definition. Its parameters are `cpu.primes`'s
//! (`max_prime`, and `threads` for the parallel phase, default `"all"`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use super::cpu_primes::{CpuPrimesConfig, sysbench_event};
use crate::model::metric::{Direction, Measurement, MetricDef, ResultDetails};
use crate::workload::{
    LatencyRecorder, StartGate, Workload, WorkloadContext, WorkloadError, cannot_start_thread,
};

pub(crate) struct CpuParallel {
    config: CpuPrimesConfig,
    threads: usize,
    /// Time and events of both phases since warm-up, for the measurements.
    single: Duration,
    parallel: Duration,
    events: u64,
    /// Samples taken, which decides the order of the phases.
    samples: u64,
}

impl CpuParallel {
    pub(crate) fn new(config: CpuPrimesConfig) -> Self {
        CpuParallel {
            config,
            threads: 1,
            single: Duration::ZERO,
            parallel: Duration::ZERO,
            events: 0,
            samples: 0,
        }
    }
}

fn events(count: u64, max_prime: u64) {
    for _ in 0..count {
        black_box(sysbench_event(black_box(max_prime)));
    }
}

/// Runs `count` events on each of `threads` threads started together; the time from the
/// barrier's release until the last thread is done.
fn timed_parallel(threads: usize, count: u64, max_prime: u64) -> Result<Duration, WorkloadError> {
    let gate = StartGate::new();
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(threads);
        for index in 0..threads {
            let gate = &gate;
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                if gate.wait() {
                    events(count, max_prime);
                }
            });
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    // The started threads go home from the gate; the scope joins them.
                    gate.call_off();
                    return Err(cannot_start_thread(index, threads, e));
                }
            }
        }
        gate.open_when_all(threads);
        let started = Instant::now();
        for worker in workers {
            worker
                .join()
                .map_err(|_| WorkloadError::Invalid("a worker thread panicked".into()))?;
        }
        Ok(started.elapsed())
    })
}

impl Workload for CpuParallel {
    fn metric(&self) -> MetricDef {
        MetricDef::ratio("efficiency", Direction::HigherIsBetter)
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let max_prime = self.config.max_prime;
        let single_phase = || {
            let started = Instant::now();
            events(iterations, max_prime);
            started.elapsed()
        };
        let (single, parallel) = if self.threads <= 1 {
            let single = single_phase();
            (single, single)
        } else if self.samples.is_multiple_of(2) {
            // The phases alternate in order from sample to sample, so a drift within a
            // sample (a frequency step, a neighbour starting) does not favour one side.
            let single = single_phase();
            (single, timed_parallel(self.threads, iterations, max_prime)?)
        } else {
            let parallel = timed_parallel(self.threads, iterations, max_prime)?;
            (single_phase(), parallel)
        };
        self.samples += 1;
        self.single += single;
        self.parallel += parallel;
        self.events += iterations;
        Ok(efficiency(single, parallel))
    }

    fn warmup_done(&mut self) {
        self.single = Duration::ZERO;
        self.parallel = Duration::ZERO;
        self.events = 0;
    }

    fn details(&mut self) -> Option<ResultDetails> {
        if self.events == 0 || self.single.is_zero() || self.parallel.is_zero() {
            return None;
        }
        let single_rate = self.events as f64 / self.single.as_secs_f64();
        let parallel_rate =
            (self.events * self.threads as u64) as f64 / self.parallel.as_secs_f64();
        Some(ResultDetails {
            outcomes: None,
            measurements: vec![
                Measurement::new("single_thread_rate", single_rate, "{event}/s"),
                Measurement::new("all_threads_rate", parallel_rate, "{event}/s"),
                Measurement::new("speedup", parallel_rate / single_rate, "1"),
                Measurement::new("threads", self.threads as f64, "{thread}"),
            ],
        })
    }
}

/// `t(1 thread) / t(all threads)` for the same per-thread work.
fn efficiency(single: Duration, parallel: Duration) -> f64 {
    if parallel.is_zero() {
        return 1.0;
    }
    single.as_secs_f64() / parallel.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Threads;

    fn context(cpus: usize) -> WorkloadContext {
        super::super::fake::context_in(std::env::temp_dir(), cpus)
    }

    #[test]
    fn one_thread_scales_perfectly_by_definition() {
        let mut probe = CpuParallel::new(CpuPrimesConfig {
            max_prime: 1000,
            threads: Threads::All,
        });
        probe.setup(&context(1)).unwrap();
        let mut latencies = LatencyRecorder::new();
        assert_eq!(probe.run(20, &mut latencies).unwrap(), 1.0);
        let details = probe.details().unwrap();
        assert_eq!(details.measurements[3].value, 1.0);
        assert!((details.measurements[2].value - 1.0).abs() < 1e-9);
    }

    #[test]
    fn oversubscribed_threads_show_as_lost_efficiency() {
        // Eight threads on one CPU: the probe runs in a thread pinned to CPU 0 (its
        // workers inherit the pinning), so the parallel phase can at best match the single
        // one and the efficiency is at most 1/8. Without the pinning, other tests running
        // beside this one take CPU time per thread and eight threads get more of it than
        // one, which can push the ratio above 1. With `k` other busy threads on that CPU
        // a fair scheduler gives (k + 1) / (k + 8): under 0.6 unless ten crowd it.
        let threads = 8;
        let (values, speedup, efficiency) = std::thread::spawn(move || {
            // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it, and
            // sched_setaffinity(0, …) applies to this thread only.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut set);
                assert_eq!(
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
                    0
                );
            }
            let mut probe = CpuParallel::new(CpuPrimesConfig {
                max_prime: 2000,
                threads: Threads::Count(threads),
            });
            probe.setup(&context(1)).unwrap();
            let mut latencies = LatencyRecorder::new();
            let values: Vec<f64> = (0..3)
                .map(|_| probe.run(100, &mut latencies).unwrap())
                .collect();
            let speedup = probe.details().unwrap().measurements[2].value;
            let efficiency = probe.single.as_secs_f64() / probe.parallel.as_secs_f64();
            (values, speedup, efficiency)
        })
        .join()
        .unwrap();
        let best = values.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(best > 0.0 && best < 0.6, "efficiencies {values:?}");
        // The measurements agree with the samples: speedup = efficiency × threads over the
        // whole run.
        assert!((speedup - efficiency * threads as f64).abs() < 1e-6 * speedup.max(1.0));
    }

    #[test]
    fn efficiency_is_the_ratio_of_the_times() {
        assert_eq!(
            efficiency(Duration::from_millis(100), Duration::from_millis(125)),
            0.8
        );
        assert_eq!(efficiency(Duration::from_millis(5), Duration::ZERO), 1.0);
    }
}
