//! `cache.local` — a concurrent in-process cache under mixed traffic.
//!
//! **Operation:** one cache call on a `quick_cache` sharded cache (S3-FIFO eviction, the
//! kind of cache services embed) shared by `threads` threads: a GET (`read_percent`,
//! default 80), a SET of a `value_bytes` value (`write_percent`, default 15) or an
//! invalidating DELETE (the rest). Keys are drawn from a key space twice the capacity, so
//! about half the GETs miss and evictions happen continuously. The mix follows YCSB
//! workload B (read-mostly) with invalidations added.
//!
//! **Unit:** operations per second over all threads, plus per-call latency percentiles
//! (every 64th call is timed, to keep the clock out of the measured loop).
//! **Direction:** higher is better.

use std::sync::Arc;
use std::time::Instant;

use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{
    LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError, run_on_threads,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheLocalConfig {
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    #[serde(default)]
    pub threads: Threads,
    #[serde(default = "default_read_percent")]
    pub read_percent: u8,
    #[serde(default = "default_write_percent")]
    pub write_percent: u8,
    #[serde(default = "default_value_bytes")]
    pub value_bytes: usize,
}

fn default_capacity() -> usize {
    100_000
}
fn default_read_percent() -> u8 {
    80
}
fn default_write_percent() -> u8 {
    15
}
fn default_value_bytes() -> usize {
    256
}

impl CacheLocalConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(16..=10_000_000).contains(&self.capacity) {
            problems.push(("capacity".into(), "must be between 16 and 10000000".into()));
        }
        if u16::from(self.read_percent) + u16::from(self.write_percent) > 100 {
            problems.push((
                "write_percent".into(),
                format!(
                    "read_percent + write_percent is {}, must be at most 100 (the rest are invalidations)",
                    u16::from(self.read_percent) + u16::from(self.write_percent)
                ),
            ));
        }
        if !(1..=1_048_576).contains(&self.value_bytes) {
            problems.push(("value_bytes".into(), "must be between 1 and 1048576".into()));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

/// Operations per iteration per thread.
const OPS_PER_ITERATION: u64 = 10_000;
/// One call in this many is timed for the latency histogram.
const LATENCY_STRIDE: u64 = 64;

pub(crate) struct CacheLocal {
    config: CacheLocalConfig,
    cache: Option<Arc<Cache<u64, Arc<[u8]>>>>,
    value: Arc<[u8]>,
    threads: usize,
    round: u64,
}

impl CacheLocal {
    pub(crate) fn new(config: CacheLocalConfig) -> Self {
        CacheLocal {
            config,
            cache: None,
            value: Arc::from(Vec::new()),
            threads: 1,
            round: 0,
        }
    }
}

impl Workload for CacheLocal {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("operation")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let cache = Cache::new(self.config.capacity);
        self.value = Arc::from(vec![7u8; self.config.value_bytes]);
        // Pre-fill to capacity so samples measure a warm, evicting cache.
        for key in 0..self.config.capacity as u64 {
            cache.insert(key, self.value.clone());
        }
        self.cache = Some(Arc::new(cache));
        self.threads = self.config.threads.resolve(ctx.available_cpus);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let cache = self
            .cache
            .clone()
            .ok_or_else(|| WorkloadError::not_set_up("the cache"))?;
        let key_space = 2 * self.config.capacity as u64;
        let read = u64::from(self.config.read_percent);
        let write = u64::from(self.config.write_percent);
        let value = self.value.clone();
        self.round += 1;
        let round = self.round;
        let merged = std::sync::Mutex::new(LatencyRecorder::new());
        let units = run_on_threads(self.threads, |thread| {
            let mut local = LatencyRecorder::new();
            let mut state = (round << 32) ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for op in 0..iterations * OPS_PER_ITERATION {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let key = state % key_space;
                let choice = (state >> 40) % 100;
                let timed = op % LATENCY_STRIDE == 0;
                let start = timed.then(Instant::now);
                if choice < read {
                    std::hint::black_box(cache.get(&key));
                } else if choice < read + write {
                    cache.insert(key, value.clone());
                } else {
                    cache.remove(&key);
                }
                if let Some(start) = start {
                    local.record_nanos(start.elapsed().as_nanos() as u64);
                }
            }
            merged
                .lock()
                .map_err(|_| WorkloadError::Invalid("latency lock poisoned".into()))?
                .merge(&local);
            Ok((iterations * OPS_PER_ITERATION) as f64)
        })?;
        let merged = merged
            .into_inner()
            .map_err(|_| WorkloadError::Invalid("latency lock poisoned".into()))?;
        latencies.merge(&merged);
        Ok(units)
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        self.cache = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_traffic_counts_operations_and_latencies() {
        let mut w = CacheLocal::new(CacheLocalConfig {
            capacity: 1000,
            threads: Threads::Count(2),
            read_percent: 80,
            write_percent: 15,
            value_bytes: 16,
        });
        w.setup(&super::super::fake::test_context()).unwrap();
        let mut latencies = LatencyRecorder::new();
        let ops = w.run(1, &mut latencies).unwrap();
        assert_eq!(ops, 20_000.0);
        assert_eq!(
            latencies.summary().unwrap().count,
            2 * OPS_PER_ITERATION / LATENCY_STRIDE
                + 2 * !OPS_PER_ITERATION.is_multiple_of(LATENCY_STRIDE) as u64
        );
        let cache = w.cache.as_ref().unwrap();
        assert!(cache.len() <= 1000);
    }

    #[test]
    fn mix_over_100_percent_is_rejected() {
        let problems = CacheLocalConfig {
            capacity: 100,
            threads: Threads::All,
            read_percent: 90,
            write_percent: 20,
            value_bytes: 8,
        }
        .validate();
        assert_eq!(problems[0].0, "write_percent");
    }
}
