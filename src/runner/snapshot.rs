//! System snapshot around a run: load averages, memory and the average CPU busy share
//! between the start and the end of the run (sysinfo computes it from the `/proc/stat`
//! deltas between two refreshes). Stored with each run so a noisy result can be explained
//! by a busy host.

use chrono::Utc;
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

use crate::model::records::{RunSnapshot, SystemSample};

/// Holds the sysinfo state between the start and the end of a run.
pub(crate) struct SnapshotProbe {
    system: System,
    start: SystemSample,
}

fn sample(system: &System) -> SystemSample {
    let load = System::load_average();
    SystemSample {
        at: Utc::now(),
        load_1: load.one,
        load_5: load.five,
        load_15: load.fifteen,
        memory_total_bytes: system.total_memory(),
        memory_available_bytes: system.available_memory(),
        swap_used_bytes: system.used_swap(),
    }
}

impl SnapshotProbe {
    pub(crate) fn start() -> Self {
        let system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_cpu_usage())
                .with_memory(MemoryRefreshKind::everything()),
        );
        let start = sample(&system);
        SnapshotProbe { system, start }
    }

    /// The snapshot so far (no end yet).
    pub(crate) fn partial(&self) -> RunSnapshot {
        RunSnapshot {
            start: self.start.clone(),
            end: None,
            cpu_busy_percent: None,
        }
    }

    pub(crate) fn finish(mut self) -> RunSnapshot {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        RunSnapshot {
            start: self.start,
            end: Some(sample(&self.system)),
            cpu_busy_percent: Some(f64::from(self.system.global_cpu_usage())),
        }
    }
}
