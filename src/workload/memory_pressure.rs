//! `memory.pressure` — how fast the host hands out fresh memory: allocate a large block,
//! touch every page, give it back.
//!
//! **Operation:** one byte of a fresh anonymous mapping made resident: the probe maps
//! `cap` bytes, writes one byte per 4 KiB page (each write is a page fault the kernel
//! serves by zeroing a page), and unmaps them. **Unit:** bytes made resident per second
//! (higher is better), with the page-fault rate (minor faults of the probe's thread per
//! second, from `getrusage(RUSAGE_THREAD)`) as a measurement. On a host under memory
//! pressure (reclaim, compaction, swap) this slows down long before services fail.
//!
//! **Cap:** `cap_mib` (default 1024) but never more than `max_available_percent` (default
//! 25%) of the memory available when the benchmark starts (`MemAvailable`), so the probe
//! cannot push a production host into reclaim. Only one block exists at a time: the
//! probe's resident memory never exceeds the cap (tested by measuring the process's peak).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::metric::{Measurement, MetricDef, ResultDetails};
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

const PAGE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryPressureConfig {
    #[serde(default = "default_cap_mib")]
    pub cap_mib: u64,
    #[serde(default = "default_max_available_percent")]
    pub max_available_percent: u8,
}

fn default_cap_mib() -> u64 {
    1024
}
fn default_max_available_percent() -> u8 {
    25
}

impl MemoryPressureConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=1024 * 1024).contains(&self.cap_mib) {
            problems.push(("cap_mib".into(), "must be between 1 and 1048576".into()));
        }
        if !(1..=50).contains(&self.max_available_percent) {
            problems.push((
                "max_available_percent".into(),
                "must be between 1 and 50 (a share of MemAvailable)".into(),
            ));
        }
        problems
    }

    /// The block size: the cap, limited to the allowed share of available memory.
    pub(crate) fn block_bytes(&self, available_bytes: u64) -> u64 {
        let share =
            (u128::from(available_bytes) * u128::from(self.max_available_percent) / 100) as u64;
        (self.cap_mib * 1024 * 1024).min(share) / PAGE as u64 * PAGE as u64
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available_bytes() -> Result<u64, WorkloadError> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| WorkloadError::io("cannot read /proc/meminfo", e))?;
    text.lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| WorkloadError::Invalid("/proc/meminfo has no MemAvailable".into()))
}

fn thread_minor_faults() -> u64 {
    // SAFETY: rusage is plain data filled by getrusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    usage.ru_minflt as u64
}

pub(crate) struct MemoryPressure {
    config: MemoryPressureConfig,
    block: usize,
    faults: u64,
    measured_secs: f64,
}

impl MemoryPressure {
    pub(crate) fn new(config: MemoryPressureConfig) -> Self {
        MemoryPressure {
            config,
            block: 0,
            faults: 0,
            measured_secs: 0.0,
        }
    }

    /// Maps, touches and unmaps one block.
    fn one_block(&self) -> Result<(), WorkloadError> {
        // SAFETY: a private anonymous mapping of `block` bytes; checked for MAP_FAILED.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                self.block,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(WorkloadError::io(
                format!("cannot map {} bytes", self.block),
                std::io::Error::last_os_error(),
            ));
        }
        let base = address.cast::<u8>();
        for offset in (0..self.block).step_by(PAGE) {
            // SAFETY: offset < block, inside the mapping; a volatile write so the touch
            // is not optimised away.
            unsafe { std::ptr::write_volatile(base.add(offset), 1) };
        }
        // SAFETY: unmapping exactly the mapping made above.
        unsafe { libc::munmap(address, self.block) };
        Ok(())
    }
}

impl Workload for MemoryPressure {
    fn metric(&self) -> MetricDef {
        MetricDef::bandwidth()
    }

    fn setup(&mut self, _ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.block = self.config.block_bytes(available_bytes()?) as usize;
        if self.block < 16 * PAGE {
            return Err(WorkloadError::Invalid(format!(
                "only {} bytes may be used (max_available_percent of MemAvailable); the host has too little memory available",
                self.block
            )));
        }
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let faults_before = thread_minor_faults();
        let started = Instant::now();
        for _ in 0..iterations {
            self.one_block()?;
        }
        self.measured_secs += started.elapsed().as_secs_f64();
        self.faults += thread_minor_faults().saturating_sub(faults_before);
        Ok((self.block as u64 * iterations) as f64)
    }

    fn warmup_done(&mut self) {
        self.faults = 0;
        self.measured_secs = 0.0;
    }

    fn details(&mut self) -> Option<ResultDetails> {
        let mut measurements = vec![Measurement::new("block", self.block as f64, "By")];
        if self.measured_secs > 0.0 {
            measurements.push(Measurement::new(
                "page_faults_per_second",
                self.faults as f64 / self.measured_secs,
                "{fault}/s",
            ));
        }
        Some(ResultDetails {
            outcomes: None,
            measurements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_the_cap_or_a_quarter_of_what_is_available() {
        let config = MemoryPressureConfig {
            cap_mib: 1024,
            max_available_percent: 25,
        };
        let gib = 1024 * 1024 * 1024;
        assert_eq!(config.block_bytes(16 * gib), gib, "the cap binds");
        assert_eq!(config.block_bytes(2 * gib), gib / 2, "25% of 2 GiB binds");
        assert_eq!(config.block_bytes(2 * gib + 123) % PAGE as u64, 0);
    }

    #[test]
    fn touching_a_block_faults_in_every_page() {
        let mut probe = MemoryPressure::new(MemoryPressureConfig {
            cap_mib: 8,
            max_available_percent: 25,
        });
        probe
            .setup(&super::super::fake::context_in(std::env::temp_dir(), 1))
            .unwrap();
        assert_eq!(probe.block, 8 << 20);
        let bytes = probe.run(2, &mut LatencyRecorder::new()).unwrap();
        assert_eq!(bytes, (16 << 20) as f64);
        // 2 × 2048 pages; transparent huge pages may serve some with one fault.
        let details = probe.details().unwrap();
        assert!(probe.faults > 0, "{details:?}");
    }
}
