//! `memory.bandwidth` — STREAM-style sustained memory bandwidth.
//!
//! **Operation:** one pass of a STREAM kernel over f64 arrays (McCalpin, "STREAM:
//! Sustainable Memory Bandwidth in High Performance Computers"):
//! - `copy`:  `c[i] = a[i]`, counted as 16 bytes per element (one read, one write);
//! - `triad`: `a[i] = b[i] + q * c[i]`, counted as 24 bytes per element.
//!
//! Byte accounting follows STREAM (write-allocate traffic is not counted). Arrays default
//! to 64 MiB each, larger than the last-level cache of common servers; STREAM's own rule is
//! 4× the cache, which `array_mib` can be raised to. Memory is allocated in `setup` and
//! freed in `teardown`, so it is held only while this benchmark runs.
//!
//! **Unit:** bytes per second, all threads together. **Direction:** higher is better.

use std::hint::black_box;

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKernel {
    Copy,
    Triad,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryBandwidthConfig {
    pub kernel: StreamKernel,
    #[serde(default = "default_array_mib")]
    pub array_mib: usize,
    #[serde(default)]
    pub threads: Threads,
}

fn default_array_mib() -> usize {
    64
}

impl MemoryBandwidthConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=4096).contains(&self.array_mib) {
            problems.push((
                "array_mib".into(),
                "must be between 1 and 4096 (MiB per array)".into(),
            ));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

pub(crate) struct MemoryBandwidth {
    config: MemoryBandwidthConfig,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    threads: usize,
}

impl MemoryBandwidth {
    pub(crate) fn new(config: MemoryBandwidthConfig) -> Self {
        MemoryBandwidth {
            config,
            a: Vec::new(),
            b: Vec::new(),
            c: Vec::new(),
            threads: 1,
        }
    }

    fn bytes_per_element(&self) -> usize {
        match self.config.kernel {
            StreamKernel::Copy => 16,
            StreamKernel::Triad => 24,
        }
    }
}

fn copy(src: &[f64], dst: &mut [f64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

fn triad(dst: &mut [f64], b: &[f64], c: &[f64], q: f64) {
    for ((d, b), c) in dst.iter_mut().zip(b).zip(c) {
        *d = b + q * c;
    }
}

impl Workload for MemoryBandwidth {
    fn metric(&self) -> MetricDef {
        MetricDef::bandwidth()
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let elements = self.config.array_mib * 1024 * 1024 / 8;
        // Filled with non-zero values so every page is really backed before timing.
        self.a = vec![1.0; elements];
        self.c = vec![0.5; elements];
        if self.config.kernel == StreamKernel::Triad {
            self.b = vec![2.0; elements];
        }
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        Ok(())
    }

    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let elements = self.a.len();
        let chunk = elements.div_ceil(self.threads);
        let kernel = self.config.kernel;
        for _ in 0..iterations {
            std::thread::scope(|scope| match kernel {
                StreamKernel::Copy => {
                    for (src, dst) in self.a.chunks(chunk).zip(self.c.chunks_mut(chunk)) {
                        scope.spawn(move || copy(src, dst));
                    }
                }
                StreamKernel::Triad => {
                    let chunks = self
                        .a
                        .chunks_mut(chunk)
                        .zip(self.b.chunks(chunk))
                        .zip(self.c.chunks(chunk));
                    for ((dst, b), c) in chunks {
                        scope.spawn(move || triad(dst, b, c, 3.0));
                    }
                }
            });
            black_box(&self.a);
            black_box(&self.c);
        }
        Ok((iterations as usize * elements * self.bytes_per_element()) as f64)
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        self.a = Vec::new();
        self.b = Vec::new();
        self.c = Vec::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_stream_results() {
        let mut dst = vec![0.0; 4];
        triad(&mut dst, &[1.0; 4], &[2.0; 4], 3.0);
        assert_eq!(dst, vec![7.0; 4]);
        copy(&[5.0; 4], &mut dst);
        assert_eq!(dst, vec![5.0; 4]);
    }

    #[test]
    fn triad_counts_24_bytes_per_element() {
        let mut w = MemoryBandwidth::new(MemoryBandwidthConfig {
            kernel: StreamKernel::Triad,
            array_mib: 1,
            threads: Threads::Count(2),
        });
        w.setup(&super::super::fake::test_context()).unwrap();
        let bytes = w.run(2, &mut LatencyRecorder::new()).unwrap();
        assert_eq!(bytes, (2 * 131_072 * 24) as f64);
        assert_eq!(w.a[0], 2.0 + 3.0 * 0.5);
        w.teardown().unwrap();
    }
}
