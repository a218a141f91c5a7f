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
use std::sync::atomic::{AtomicU64, Ordering};

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
        CpuPrimes { config, threads: 1 }
    }
}

/// One sysbench event: counts the primes below `max_prime` (the count itself is unused by
/// sysbench; it is returned so the work cannot be optimised away).
///
/// Codegen notes, so that the instruction mix matches gcc's build of sysbench (checked
/// with `objdump -d`): the integer-to-double conversions go through `i64` (one
/// `cvtsi2sd`, exact for these values, far below 2^63), the trial by 2 is a bit test (gcc
/// strength-reduces `c % 2`; LLVM keeps a `div` here), and every other modulo is a 64-bit
/// `div` (see [`rem_u64`]). Without these, the same algorithm runs 3-5% apart from
/// sysbench's binary on the same core.
#[inline(never)]
pub fn sysbench_event(max_prime: u64) -> u64 {
    let mut found = 0u64;
    let mut c = 3u64;
    while c < max_prime {
        let t = (c as i64 as f64).sqrt();
        let mut l = 2u64;
        // The first divisor is peeled: `c % 2` is a bit test, as gcc compiles it.
        if 2.0 <= t && c & 1 != 0 {
            l = 3;
            while (l as i64 as f64) <= t {
                if rem_u64(c, l) == 0 {
                    break;
                }
                l += 1;
            }
        }
        if (l as i64 as f64) > t {
            found += 1;
        }
        c += 1;
    }
    found
}

/// `c % l` as one 64-bit `div`, as gcc emits for sysbench's `unsigned long long` operands.
/// LLVM would otherwise insert its "divq → divl bypass" (a 32-bit divide when both operands
/// fit), which is about 5-10% faster on some CPUs and would make events/s incomparable with
/// sysbench's. The only caller passes `l ≥ 2`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rem_u64(c: u64, l: u64) -> u64 {
    debug_assert!(l != 0);
    let remainder: u64;
    // SAFETY: `div` divides rdx:rax by a register that is never zero (the loop in
    // `sysbench_event` starts at 2 and counts up, far below overflow); with rdx = 0 the
    // quotient fits in 64 bits, so no #DE can occur. No memory or stack use.
    unsafe {
        std::arch::asm!(
            "div {divisor}",
            divisor = in(reg) l,
            inout("rax") c => _,
            inout("rdx") 0u64 => remainder,
            options(pure, nomem, nostack),
        );
    }
    remainder
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rem_u64(c: u64, l: u64) -> u64 {
    c % l
}

impl Workload for CpuPrimes {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("event")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        Ok(())
    }

    /// `iterations × threads` events, taken one at a time from a shared counter — like
    /// sysbench's event queue, so a thread that was descheduled for a moment does not leave
    /// the others idle at the end of the sample.
    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let max_prime = self.config.max_prime;
        let total = iterations * self.threads as u64;
        let next = AtomicU64::new(0);
        run_on_threads(self.threads, |_| {
            let mut done = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                black_box(sysbench_event(black_box(max_prime)));
                done += 1;
            }
            Ok(done as f64)
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
