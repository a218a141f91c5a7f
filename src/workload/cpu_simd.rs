//! `cpu.simd` — vectorisable single-precision arithmetic, the inner loops of compression,
//! image and ML code, where a CPU's vector units (and their frequency licence) show.
//!
//! **Operation:** one fused pass over two `array_kib`-sized f32 arrays (default 16 KiB
//! each, so they stay in L1/L2): `y[i] = a·x[i] + y[i]` (SAXPY, 2 FLOP per element)
//! followed by a dot product `Σ x[i]·y[i]` (2 FLOP per element) kept in eight independent
//! accumulators, so the compiler vectorises both without fast-math. **Unit:** floating
//! point operations per second (`flops/s`, higher is better), all threads together.
//! Values are kept bounded (the SAXPY factor alternates sign) so no pass goes to
//! infinities or denormals, which would change the speed.

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{
    LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError, run_on_threads,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSimdConfig {
    #[serde(default = "default_array_kib")]
    pub array_kib: usize,
    #[serde(default = "default_threads")]
    pub threads: Threads,
}

fn default_array_kib() -> usize {
    16
}
fn default_threads() -> Threads {
    Threads::Count(1)
}

impl CpuSimdConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=64 * 1024).contains(&self.array_kib) {
            problems.push(("array_kib".into(), "must be between 1 and 65536".into()));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

/// One pass: SAXPY then an eight-lane dot product. Returns the dot product.
pub(crate) fn pass(a: f32, x: &[f32], y: &mut [f32]) -> f32 {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
    let mut lanes = [0f32; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for lane in 0..8 {
            lanes[lane] += xs[lane] * ys[lane];
        }
    }
    let mut dot: f32 = lanes.iter().sum();
    for (xi, yi) in xr.iter().zip(yr) {
        dot += xi * yi;
    }
    dot
}

/// FLOP per element and pass: SAXPY (multiply, add) and the dot product (multiply, add).
const FLOP_PER_ELEMENT: f64 = 4.0;

pub(crate) struct CpuSimd {
    config: CpuSimdConfig,
    threads: usize,
    elements: usize,
}

impl CpuSimd {
    pub(crate) fn new(config: CpuSimdConfig) -> Self {
        CpuSimd {
            config,
            threads: 1,
            elements: 0,
        }
    }
}

impl Workload for CpuSimd {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("flop")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        self.elements = self.config.array_kib * 1024 / 4;
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let elements = self.elements;
        run_on_threads(self.threads, |thread| {
            let x: Vec<f32> = (0..elements)
                .map(|i| ((i + thread) % 17) as f32 * 0.01)
                .collect();
            let mut y = vec![0.5f32; elements];
            let mut check = 0f32;
            for pass_index in 0..iterations {
                let a = if pass_index % 2 == 0 { 0.5 } else { -0.5 };
                check += pass(a, &x, &mut y);
            }
            std::hint::black_box(check);
            Ok(iterations as f64 * elements as f64 * FLOP_PER_ELEMENT)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_computes_saxpy_and_the_dot_product() {
        let x: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let mut y = vec![1.0f32; 19];
        let dot = pass(2.0, &x, &mut y);
        let expected_y: Vec<f32> = x.iter().map(|xi| 2.0 * xi + 1.0).collect();
        assert_eq!(y, expected_y);
        let expected_dot: f32 = x.iter().zip(&expected_y).map(|(a, b)| a * b).sum();
        assert!((dot - expected_dot).abs() < 1e-3, "{dot} vs {expected_dot}");
    }
}
