//! `process.memory` — follows the resident memory of a process of the user's, to catch a
//! leak week over week.
//!
//! **Target:** a `pid_file`, a process name (`process`: every process whose `comm` or
//! executable name matches, summed — a service with workers is one target), or a systemd
//! `unit` (every process in its cgroup, `/sys/fs/cgroup/…/<unit>/cgroup.procs`). The
//! processes are looked up again at every reading, so a restart is followed, not lost.
//!
//! **Operation:** one reading of the target's resident set size (the sum of `VmRSS` in
//! `/proc/<pid>/status`); one iteration is one millisecond of waiting before it, so the
//! runner's samples are readings spread over `min_time`. **Unit:** bytes (lower is
//! better). Reported with it: the growth during the run (Theil–Sen slope of the readings,
//! bytes/s) and the peak.
//!
//! **Leaks across runs:** each run's median reading is one point of the benchmark's
//! history; the verdicts' drift analysis over the trend window (Mann–Kendall with a Theil–Sen slope,
//! `detect::history`) calls a significant rise a drift, and reports name a drifting
//! `process.memory` benchmark a memory leak. A level jump above the baseline is a
//! regression like any other.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::model::metric::{Measurement, MetricDef, ResultDetails};
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessMemoryConfig {
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// Process name (`comm`, or the executable's file name).
    #[serde(default)]
    pub process: Option<String>,
    /// systemd unit, e.g. `"app.service"`.
    #[serde(default)]
    pub unit: Option<String>,
}

impl ProcessMemoryConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let given = [
            self.pid_file.is_some(),
            self.process.is_some(),
            self.unit.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given == 1 {
            return Vec::new();
        }
        vec![(
            "process".into(),
            format!("name exactly one target: pid_file, process or unit ({given} given)"),
        )]
    }

    fn describe(&self) -> String {
        match (&self.pid_file, &self.process, &self.unit) {
            (Some(path), _, _) => format!("the process in {}", path.display()),
            (_, Some(name), _) => format!("processes named \"{name}\""),
            (_, _, Some(unit)) => format!("unit {unit}"),
            _ => "no target".into(),
        }
    }

    /// The target's processes now.
    fn pids(&self) -> Result<Vec<u32>, String> {
        if let Some(path) = &self.pid_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read pid_file {}: {e}", path.display()))?;
            let pid: u32 = text
                .trim()
                .parse()
                .map_err(|_| format!("pid_file {} does not hold a process id", path.display()))?;
            return Ok(vec![pid]);
        }
        if let Some(name) = &self.process {
            let mut pids = Vec::new();
            let own = std::process::id();
            for entry in std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))? {
                let Some(pid) = entry
                    .ok()
                    .and_then(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
                else {
                    continue;
                };
                if pid == own {
                    continue;
                }
                let dir = Path::new("/proc").join(pid.to_string());
                let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
                let exe = std::fs::read_link(dir.join("exe"))
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
                if comm.trim_end() == name || exe.as_deref() == Some(name.as_str()) {
                    pids.push(pid);
                }
            }
            return Ok(pids);
        }
        if let Some(unit) = &self.unit {
            for slice in ["system.slice", "user.slice", ""] {
                let procs = Path::new("/sys/fs/cgroup")
                    .join(slice)
                    .join(unit)
                    .join("cgroup.procs");
                if let Ok(text) = std::fs::read_to_string(&procs) {
                    return Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect());
                }
            }
            return Err(format!(
                "unit {unit} has no cgroup under /sys/fs/cgroup (is it running?)"
            ));
        }
        Err("no target".into())
    }
}

/// `VmRSS` of one process in bytes; `None` when it is gone (or a kernel thread).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) struct ProcessMemory {
    config: ProcessMemoryConfig,
    started: Instant,
    /// (seconds since setup, bytes) of the measured readings.
    readings: Vec<(f64, f64)>,
}

impl ProcessMemory {
    pub(crate) fn new(config: ProcessMemoryConfig) -> Self {
        ProcessMemory {
            config,
            started: Instant::now(),
            readings: Vec::new(),
        }
    }

    fn read(&self) -> Result<u64, WorkloadError> {
        let pids = self.config.pids().map_err(WorkloadError::Invalid)?;
        let sizes: Vec<u64> = pids.iter().filter_map(|pid| resident_bytes(*pid)).collect();
        if sizes.is_empty() {
            return Err(WorkloadError::Invalid(format!(
                "{} not found (no such running process)",
                self.config.describe()
            )));
        }
        Ok(sizes.iter().sum())
    }
}

impl Workload for ProcessMemory {
    fn metric(&self) -> MetricDef {
        MetricDef::size("resident")
    }

    fn setup(&mut self, _ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.started = Instant::now();
        self.read().map(|_| ())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        std::thread::sleep(Duration::from_millis(iterations));
        let bytes = self.read()? as f64;
        self.readings
            .push((self.started.elapsed().as_secs_f64(), bytes));
        Ok(bytes)
    }

    fn warmup_done(&mut self) {
        self.readings.clear();
    }

    fn details(&mut self) -> Option<ResultDetails> {
        let times: Vec<f64> = self.readings.iter().map(|r| r.0).collect();
        let values: Vec<f64> = self.readings.iter().map(|r| r.1).collect();
        let mut measurements = Vec::new();
        if let Some(peak) = values.iter().copied().reduce(f64::max) {
            measurements.push(Measurement::new("peak_rss", peak, "By"));
        }
        if let Some(slope) = crate::stats::trend::theil_sen(&times, &values) {
            measurements.push(Measurement::new("rss_growth_per_second", slope, "By/s"));
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
    fn follows_this_process_by_pid_file_and_name_and_refuses_two_targets() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // A child to follow (this test process itself is excluded from name matches).
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&pid_file, format!("{}\n", child.id())).unwrap();
        let by_file = ProcessMemoryConfig {
            pid_file: Some(pid_file.clone()),
            process: None,
            unit: None,
        };
        assert!(by_file.validate().is_empty());
        let mut probe = ProcessMemory::new(by_file);
        let bytes = probe.run(1, &mut LatencyRecorder::new()).unwrap();
        assert!(bytes > 100_000.0, "{bytes}");
        let by_name = ProcessMemoryConfig {
            pid_file: None,
            process: Some("sleep".into()),
            unit: None,
        };
        assert!(by_name.pids().unwrap().contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        let error = probe
            .run(1, &mut LatencyRecorder::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("not found"), "{error}");

        let both = ProcessMemoryConfig {
            pid_file: Some(pid_file),
            process: Some("x".into()),
            unit: None,
        };
        assert_eq!(both.validate()[0].0, "process");
    }
}
