//! `memory.alloc` — allocator throughput under two common patterns.
//!
//! **Operation:** one allocate-and-free pair through the process's global allocator:
//! - `small`: sizes 16–1024 bytes from a fixed pseudo-random sequence, each block written
//!   once, kept in a ring of 1024 live blocks so frees happen out of allocation order (the
//!   shape of request-handling code); modelled on the mixed-size loops of `mimalloc-bench`;
//! - `large`: 256 KiB–4 MiB blocks, every page touched once, freed at once (buffer-heavy
//!   code; exercises mmap/munmap and page faults).
//!
//! **Unit:** allocations per second. **Direction:** higher is better.

use std::hint::black_box;

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Workload, WorkloadError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocPattern {
    Small,
    Large,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryAllocConfig {
    pub pattern: AllocPattern,
}

impl MemoryAllocConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Allocations per iteration.
const SMALL_BATCH: usize = 4096;
const LARGE_BATCH: usize = 8;
const LIVE_RING: usize = 1024;
const PAGE: usize = 4096;

pub(crate) struct MemoryAlloc {
    config: MemoryAllocConfig,
    ring: Vec<Vec<u8>>,
    rng_state: u64,
}

impl MemoryAlloc {
    pub(crate) fn new(config: MemoryAllocConfig) -> Self {
        MemoryAlloc {
            config,
            ring: Vec::new(),
            rng_state: 0x2545_F491_4F6C_DD1D,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng_state ^= self.rng_state << 13;
        self.rng_state ^= self.rng_state >> 7;
        self.rng_state ^= self.rng_state << 17;
        self.rng_state
    }

    fn small_batch(&mut self) -> usize {
        if self.ring.is_empty() {
            self.ring = (0..LIVE_RING).map(|_| Vec::new()).collect();
        }
        for i in 0..SMALL_BATCH {
            let size = 16 + (self.next_random() % 1009) as usize;
            let mut block = Vec::<u8>::with_capacity(size);
            block.push(i as u8);
            let slot = (self.next_random() as usize) % LIVE_RING;
            // Replacing drops (frees) the previous block in that slot.
            self.ring[slot] = black_box(block);
        }
        SMALL_BATCH
    }

    fn large_batch(&mut self) -> usize {
        for _ in 0..LARGE_BATCH {
            let size = 256 * 1024 + (self.next_random() % (3840 * 1024)) as usize;
            let mut block = vec![0u8; size];
            for page in (0..size).step_by(PAGE) {
                block[page] = 1;
            }
            black_box(&block);
        }
        LARGE_BATCH
    }
}

impl Workload for MemoryAlloc {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("allocation")
    }

    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let mut done = 0usize;
        for _ in 0..iterations {
            done += match self.config.pattern {
                AllocPattern::Small => self.small_batch(),
                AllocPattern::Large => self.large_batch(),
            };
        }
        Ok(done as f64)
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        self.ring = Vec::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_count_allocations() {
        let mut small = MemoryAlloc::new(MemoryAllocConfig {
            pattern: AllocPattern::Small,
        });
        assert_eq!(
            small.run(2, &mut LatencyRecorder::new()).unwrap(),
            (2 * SMALL_BATCH) as f64
        );
        assert_eq!(small.ring.len(), LIVE_RING);
        let mut large = MemoryAlloc::new(MemoryAllocConfig {
            pattern: AllocPattern::Large,
        });
        assert_eq!(
            large.run(1, &mut LatencyRecorder::new()).unwrap(),
            LARGE_BATCH as f64
        );
    }
}
