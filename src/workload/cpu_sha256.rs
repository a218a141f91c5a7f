//! `cpu.sha256` — hashing throughput.
//!
//! **Operation:** SHA-256 of one buffer (default 64 KiB of fixed pseudo-random bytes)
//! with the `sha2` crate, the same primitive `openssl speed sha256` times at its largest
//! block sizes. **Unit:** bytes hashed per second, summed over threads. **Direction:**
//! higher is better.

use std::hint::black_box;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::metric::MetricDef;
use crate::workload::{
    LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError, run_on_threads,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSha256Config {
    #[serde(default = "default_buffer_kib")]
    pub buffer_kib: usize,
    #[serde(default = "one_thread")]
    pub threads: Threads,
}

fn default_buffer_kib() -> usize {
    64
}

fn one_thread() -> Threads {
    Threads::Count(1)
}

impl CpuSha256Config {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=65_536).contains(&self.buffer_kib) {
            problems.push(("buffer_kib".into(), "must be between 1 and 65536".into()));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

pub(crate) struct CpuSha256 {
    config: CpuSha256Config,
    buffer: Vec<u8>,
    threads: usize,
}

impl CpuSha256 {
    pub(crate) fn new(config: CpuSha256Config) -> Self {
        CpuSha256 {
            config,
            buffer: Vec::new(),
            threads: 1,
        }
    }
}

impl Workload for CpuSha256 {
    fn metric(&self) -> MetricDef {
        MetricDef::bandwidth()
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        // Deterministic filler (xorshift) so the data never depends on the environment.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        self.buffer = (0..self.config.buffer_kib * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        Ok(())
    }

    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let buffer = &self.buffer;
        run_on_threads(self.threads, |_| {
            for _ in 0..iterations {
                black_box(Sha256::digest(black_box(buffer)));
            }
            Ok((iterations as usize * buffer.len()) as f64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_hashed() {
        let mut w = CpuSha256::new(CpuSha256Config {
            buffer_kib: 1,
            threads: Threads::Count(1),
        });
        w.setup(&super::super::fake::test_context()).unwrap();
        assert_eq!(w.run(3, &mut LatencyRecorder::new()).unwrap(), 3072.0);
    }

    #[test]
    fn sha2_known_answer() {
        // FIPS 180-2 appendix B.1 test vector for "abc".
        assert_eq!(
            hex::encode(Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
