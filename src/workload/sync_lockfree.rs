//! `sync.lockfree` — a multi-producer multi-consumer lock-free queue under contention, the
//! hand-off at the heart of thread pools and pipelines.
//!
//! **Operation:** one item through a bounded `crossbeam_queue::ArrayQueue` (capacity
//! `capacity`, default 1024): pushed by one of `producers` threads and popped by one of
//! `consumers` threads (default half the CPUs each, at least one), spinning with a yield
//! when the queue is full or empty. Each iteration moves 100 000 items.
//! **Unit:** items per second through the queue (higher is better).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;
use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

const ITEMS_PER_ITERATION: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncLockfreeConfig {
    #[serde(default)]
    pub producers: Option<usize>,
    #[serde(default)]
    pub consumers: Option<usize>,
    #[serde(default = "default_capacity")]
    pub capacity: usize,
}

fn default_capacity() -> usize {
    1024
}

impl SyncLockfreeConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, value) in [("producers", self.producers), ("consumers", self.consumers)] {
            if value.is_some_and(|n| !(1..=256).contains(&n)) {
                problems.push((key.into(), "must be between 1 and 256".into()));
            }
        }
        if !(2..=1 << 20).contains(&self.capacity) {
            problems.push(("capacity".into(), "must be between 2 and 1048576".into()));
        }
        problems
    }
}

pub(crate) struct SyncLockfree {
    config: SyncLockfreeConfig,
    producers: usize,
    consumers: usize,
}

impl SyncLockfree {
    pub(crate) fn new(config: SyncLockfreeConfig) -> Self {
        SyncLockfree {
            config,
            producers: 1,
            consumers: 1,
        }
    }
}

impl Workload for SyncLockfree {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("item")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let half = (ctx.available_cpus / 2).max(1);
        self.producers = self.config.producers.unwrap_or(half);
        self.consumers = self.config.consumers.unwrap_or(half);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let total = iterations * ITEMS_PER_ITERATION;
        let queue = Arc::new(ArrayQueue::<u64>::new(self.config.capacity));
        let popped = AtomicU64::new(0);
        let checksum = AtomicU64::new(0);
        let producers = self.producers as u64;
        std::thread::scope(|scope| {
            for p in 0..producers {
                let queue = &queue;
                scope.spawn(move || {
                    // Producer p pushes the items i ≡ p (mod producers).
                    let mut item = p;
                    while item < total {
                        let mut value = item;
                        while let Err(back) = queue.push(value) {
                            value = back;
                            std::thread::yield_now();
                        }
                        item += producers;
                    }
                });
            }
            for _ in 0..self.consumers {
                let (queue, popped, checksum) = (&queue, &popped, &checksum);
                scope.spawn(move || {
                    let mut sum = 0u64;
                    while popped.load(Ordering::Relaxed) < total {
                        match queue.pop() {
                            Some(value) => {
                                sum = sum.wrapping_add(value);
                                popped.fetch_add(1, Ordering::Relaxed);
                            }
                            None => std::thread::yield_now(),
                        }
                    }
                    checksum.fetch_add(sum, Ordering::Relaxed);
                });
            }
        });
        // 0 + 1 + … + (total - 1), modulo 2^64 like the wrapping sums.
        let expected = if total.is_multiple_of(2) {
            (total / 2).wrapping_mul(total.wrapping_sub(1))
        } else {
            total.wrapping_mul((total - 1) / 2)
        };
        if checksum.load(Ordering::Relaxed) != expected {
            return Err(WorkloadError::Invalid(
                "items were lost or duplicated in the queue (checksum mismatch)".into(),
            ));
        }
        Ok(total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_arrives_exactly_once() {
        let mut probe = SyncLockfree::new(SyncLockfreeConfig {
            producers: Some(3),
            consumers: Some(2),
            capacity: 16,
        });
        probe
            .setup(&super::super::fake::context_in(std::env::temp_dir(), 2))
            .unwrap();
        assert_eq!(
            probe.run(2, &mut LatencyRecorder::new()).unwrap(),
            (2 * ITEMS_PER_ITERATION) as f64
        );
    }
}
