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

use crate::model::metric::MetricDef;
use crate::workload::{
    LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError, run_on_threads,
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

/// sysbench's `--cpu-max-prime` default (also the CPU component of `load.mixed`).
pub(crate) fn default_max_prime() -> u64 {
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

pub(crate) struct CpuPrimes {
    config: CpuPrimesConfig,
    threads: usize,
}

impl CpuPrimes {
    pub(crate) fn new(config: CpuPrimesConfig) -> Self {
        CpuPrimes { config, threads: 1 }
    }
}

/// One sysbench event; returns the number of primes found (sysbench discards it).
///
/// On x86-64 this is [`sysbench_event_x86_64`]: the instruction sequence gcc -O2 emits for
/// sysbench 1.0's `cpu_execute_event` (Debian's 1.0.20 binary), so one event costs what it
/// costs sysbench. The plain Rust version, [`sysbench_event_portable`], does the same
/// arithmetic but LLVM compiles it tighter (a 32-bit divide when the operands fit, a
/// peeled first trial), which made events/s about 6% higher than sysbench's. It is
/// used on other architectures and as the reference in tests.
pub(crate) fn sysbench_event(max_prime: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        sysbench_event_x86_64(max_prime)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        sysbench_event_portable(max_prime)
    }
}

/// sysbench's event in Rust: for c in 3..max_prime, t = sqrt(c) in double precision,
/// trial-divide by l = 2, 3, … while l ≤ t; c is prime when no divisor was found.
#[inline(never)]
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) fn sysbench_event_portable(max_prime: u64) -> u64 {
    let mut found = 0u64;
    let mut c = 3u64;
    while c < max_prime {
        let t = (c as f64).sqrt();
        let mut l = 2u64;
        while (l as f64) <= t {
            if c.is_multiple_of(l) {
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

/// The event as gcc -O2 compiles sysbench's C (read from `objdump -d /usr/bin/sysbench`):
/// the trial by 2 is a bit test, every other trial a 64-bit `div`, the bound check a
/// `cvtsi2sd` + `comisd`. The one addition is `add n, 1` on the prime exit (sysbench's
/// count is dead code that gcc removed), 1228 instructions per event, about 0.1%.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
pub(crate) fn sysbench_event_x86_64(max_prime: u64) -> u64 {
    let primes: u64;
    // SAFETY: register-only arithmetic (`nomem`, `nostack`); every register written is
    // declared as an output or clobber. `div` never faults: the divisor starts at 3 and
    // only grows (bounded by sqrt(max_prime)), and rdx is zeroed before each divide.
    unsafe {
        std::arch::asm!(
            "xor {n:e}, {n:e}",
            "mov {c}, 3",
            "cmp {mp}, 3",
            "jbe 5f",
            "mov {l}, 0x4000000000000000", // 2.0
            "movq {two}, {l}",
            "pxor {zero}, {zero}",
            "2:", // for each c
            "pxor {t}, {t}",
            "cvtsi2sd {t}, {c}",
            "ucomisd {zero}, {t}", // gcc's errno check before sqrt; never taken
            "ja 4f",
            "sqrtsd {t}, {t}",
            "comisd {t}, {two}",
            "jb 7f", // t < 2: no divisor to try, prime
            "test {c:l}, 1",
            "je 4f", // even: divisible by 2
            "mov {l}, 2",
            "jmp 3f",
            "6:", // for each l ≥ 3 while l ≤ t
            "pxor {x}, {x}",
            "cvtsi2sd {x}, {l}",
            "comisd {t}, {x}",
            "jb 7f", // l > t: prime
            "mov rax, {c}",
            "xor edx, edx",
            "div {l}",
            "test rdx, rdx",
            "je 4f", // divisible: composite
            "3:",
            "add {l}, 1",
            "jns 6b",
            "jmp 4f",
            "7:",
            "add {n}, 1",
            "4:",
            "add {c}, 1",
            "cmp {c}, {mp}",
            "jne 2b",
            "5:",
            mp = in(reg) max_prime,
            n = out(reg) primes,
            c = out(reg) _,
            l = out(reg) _,
            t = out(xmm_reg) _,
            x = out(xmm_reg) _,
            two = out(xmm_reg) _,
            zero = out(xmm_reg) _,
            out("rax") _,
            out("rdx") _,
            options(pure, nomem, nostack),
        );
    }
    primes
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
    fn machine_code_event_matches_the_reference() {
        for max_prime in [0, 3, 4, 5, 20, 100, 1000, 10_000, 20_000] {
            assert_eq!(
                sysbench_event(max_prime),
                sysbench_event_portable(max_prime),
                "max_prime = {max_prime}"
            );
        }
    }

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
