//! `cpu.primes` — the sysbench CPU test.
//!
//! **Operation:** one *event* is sysbench's: test every number c in 3..max_prime (default
//! 10000) for primality by trial division with 64-bit integer modulo, for l = 2 while
//! l ≤ √c (√c computed in double precision). This follows sysbench 1.0
//! `cpu_execute_event` exactly, so `events/s` here is directly comparable with
//! `sysbench cpu --cpu-max-prime=10000 --threads=N run` (see
//! `scripts/compare-sysbench.sh`).
//!
//! **Unit:** events per second, summed over threads. **Direction:** higher is better.
//! Variants: `threads = 1` (single core) and `threads = "all"`.

use std::hint::black_box;

use serde::{Deserialize, Serialize};

use super::{
    LatencyRecorder, MetricDef, Threads, Workload, WorkloadContext, WorkloadError, run_on_threads,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuPrimesConfig {
    /// Upper bound of the numbers tested per event (sysbench `--cpu-max-prime`).
    #[serde(default = "default_max_prime")]
    pub max_prime: u64,
    #[serde(default)]
    pub threads: Threads,
}

fn default_max_prime() -> u64 {
    10_000
}

impl CpuPrimesConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.max_prime < 3 {
            problems.push((
                "max_prime".into(),
                "must be at least 3 (sysbench's default is 10000)".into(),
            ));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

pub struct CpuPrimes {
    config: CpuPrimesConfig,
    threads: usize,
}

impl CpuPrimes {
    pub fn new(config: CpuPrimesConfig) -> Self {
        CpuPrimes {
            config,
            threads: 1,
        }
    }
}

/// One sysbench event: counts the primes below `max_prime` (the count itself is unused by
/// sysbench; it is returned so the work cannot be optimised away).
#[inline(never)]
pub fn sysbench_event(max_prime: u64) -> u64 {
    let mut found = 0u64;
    let mut c = 3u64;
    while c < max_prime {
        let t = (c as f64).sqrt();
        let mut l = 2u64;
        while (l as f64) <= t {
            if c % l == 0 {
                break;
            }
            l += 1;
        }
        if (l as f64) > t {
            found += 1;
        }
        c += 1;
    }
    found
}

impl Workload for CpuPrimes {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("event")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        Ok(())
    }

    /// `iterations` events on every thread.
    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let max_prime = self.config.max_prime;
        run_on_threads(self.threads, |_| {
            for _ in 0..iterations {
                black_box(sysbench_event(black_box(max_prime)));
            }
            Ok(iterations as f64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_counts_primes_from_three() {
        // Primes below 10000: 1229 (a standard table); sysbench starts at 3, so 2 is not
        // counted: 1228.
        assert_eq!(sysbench_event(10_000), 1228);
        // Below 20 from 3: 3 5 7 11 13 17 19 = 7 (by hand).
        assert_eq!(sysbench_event(20), 7);
    }

    #[test]
    fn run_reports_events_times_threads() {
        let mut w = CpuPrimes::new(CpuPrimesConfig {
            max_prime: 100,
            threads: Threads::Count(2),
        });
        let ctx = super::super::fake::test_context();
        w.setup(&ctx).unwrap();
        let units = w.run(5, &mut LatencyRecorder::new()).unwrap();
        assert_eq!(units, 10.0);
    }
}
