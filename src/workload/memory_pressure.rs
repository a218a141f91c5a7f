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
//! Nor more than the room below the cgroup's memory limit (a unit's `MemoryHigh=`), less a
//! headroom for the rest of the daemon ([`limits`]); `check` refuses a cap above it.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::metric::{Measurement, MetricDef, ResultDetails};
use crate::workload::limits::{self, MemoryLimit};
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

    /// The block size: the cap, limited to the allowed share of available memory and to
    /// the room below this process's cgroup limit (above `memory.high` the kernel would
    /// throttle the whole daemon, long enough for systemd's watchdog to kill it).
    pub(crate) fn block_bytes(&self, available_bytes: u64, limit: Option<&MemoryLimit>) -> u64 {
        let share =
            (u128::from(available_bytes) * u128::from(self.max_available_percent) / 100) as u64;
        let room = limit.map_or(u64::MAX, MemoryLimit::room);
        (self.cap_mib * 1024 * 1024).min(share).min(room) / PAGE as u64 * PAGE as u64
    }
}

impl MemoryPressureConfig {
    /// What makes `cap_mib` unfit for where this process runs, as (message, hint): a cap
    /// above the host's memory (beyond the default, which the share of `MemAvailable`
    /// already bounds on a small host), or above what its cgroup's limit (a unit's `MemoryHigh=` or
    /// `MemoryMax=`) leaves after the headroom. `check` reports these; under the unit's
    /// `ExecStartPre` it sees the unit's own limits.
    pub(crate) fn unfit(
        &self,
        limit: Option<&MemoryLimit>,
        host_bytes: Option<u64>,
    ) -> Vec<(String, String)> {
        let cap = self.cap_mib * 1024 * 1024;
        let mib = |bytes: u64| bytes / (1024 * 1024);
        let mut problems = Vec::new();
        // The default cap stays valid on a small host: the share of MemAvailable limits
        // the block there.
        if let Some(host) = host_bytes
            && cap > host
            && self.cap_mib > default_cap_mib()
        {
            problems.push((
                format!(
                    "{} MiB is more than this host's memory ({} MiB)",
                    self.cap_mib,
                    mib(host)
                ),
                format!(
                    "lower cap_mib; the probe uses at most max_available_percent ({}%) of the memory available anyway",
                    self.max_available_percent
                ),
            ));
        }
        if let Some(limit) = limit {
            let room = limit.bytes.saturating_sub(limits::HEADROOM_BYTES);
            if cap > room {
                problems.push((
                    format!(
                        "{} MiB does not fit below this service's memory limit ({} MiB, {}) with {} MiB left for the rest of the agent: above MemoryHigh= the kernel throttles the whole daemon until systemd's watchdog kills it",
                        self.cap_mib,
                        mib(limit.bytes),
                        limit.source,
                        mib(limits::HEADROOM_BYTES)
                    ),
                    format!(
                        "set cap_mib to at most {}, or raise MemoryHigh= and MemoryMax= in a drop-in (systemctl edit perfwarden)",
                        mib(room)
                    ),
                ));
            }
        }
        problems
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available_bytes() -> Result<u64, WorkloadError> {
    limits::meminfo_bytes("MemAvailable").map_err(WorkloadError::Invalid)
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
        let limit = limits::memory_limit();
        self.block = self.config.block_bytes(available_bytes()?, limit.as_ref()) as usize;
        if self.block < 16 * PAGE {
            let why = match &limit {
                Some(limit) if limit.room() < 16 * PAGE as u64 => format!(
                    "this process's cgroup leaves no room below its limit ({} bytes, {}, {} in use)",
                    limit.bytes,
                    limit.source,
                    limit.used.unwrap_or(0)
                ),
                _ => "max_available_percent of MemAvailable; the host has too little memory available".to_string(),
            };
            return Err(WorkloadError::Invalid(format!(
                "only {} bytes may be used ({why})",
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
        assert_eq!(config.block_bytes(16 * gib, None), gib, "the cap binds");
        assert_eq!(
            config.block_bytes(2 * gib, None),
            gib / 2,
            "25% of 2 GiB binds"
        );
        assert_eq!(config.block_bytes(2 * gib + 123, None) % PAGE as u64, 0);
        // A unit's MemoryHigh=1G with 100 MiB in use: the block stays below it, headroom
        // left, however much the host has.
        let high = MemoryLimit {
            bytes: gib,
            source: "memory.high of /system.slice/perfwarden.service".into(),
            used: Some(100 << 20),
        };
        let block = config.block_bytes(16 * gib, Some(&high));
        assert_eq!(block, gib - (100 << 20) - limits::HEADROOM_BYTES);
        assert_eq!(block % PAGE as u64, 0);
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

    #[test]
    fn a_cap_the_host_or_the_unit_cannot_hold_is_unfit() {
        let gib = 1u64 << 30;
        let default = MemoryPressureConfig {
            cap_mib: default_cap_mib(),
            max_available_percent: default_max_available_percent(),
        };
        // The shipped unit: MemoryHigh=1536M holds the default 1 GiB cap.
        let unit = MemoryLimit {
            bytes: 1536 << 20,
            source: "memory.high of /system.slice/perfwarden.service".into(),
            used: None,
        };
        assert!(default.unfit(Some(&unit), Some(8 * gib)).is_empty());
        let huge = MemoryPressureConfig {
            cap_mib: 1024 * 1024,
            ..default.clone()
        };
        let problems = huge.unfit(Some(&unit), Some(8 * gib));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0]
                .0
                .contains("more than this host's memory (8192 MiB)")
        );
        assert!(
            problems[1]
                .0
                .contains("memory.high of /system.slice/perfwarden.service")
        );
        assert!(problems[1].1.contains("at most 1408"), "{problems:?}");
        // The default cap on a 512 MiB host: bounded by MemAvailable, not a mistake.
        assert!(default.unfit(None, Some(512 << 20)).is_empty());
        // Outside any limit only the host's memory counts.
        assert!(
            MemoryPressureConfig {
                cap_mib: 4096,
                ..default
            }
            .unfit(None, Some(8 * gib))
            .is_empty()
        );
    }
}
