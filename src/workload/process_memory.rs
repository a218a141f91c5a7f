//! `process.memory` — follows the resident memory of a process of the user's, to catch a
//! leak week over week.
//!
//! **Target:** a `pid_file`, a process name (`process`: every process whose `comm`,
//! executable name or argv[0] matches, summed — a service with workers is one target; a
//! name longer than the 15 bytes `comm` holds is matched by argv[0], which any user may
//! read), or a systemd `unit` (every process in its cgroup,
//! `/sys/fs/cgroup/…/<unit>/cgroup.procs`, in the v2, hybrid or v1 layout). The
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
                // `exe` is readable only for one's own processes (or as root);
                // `cmdline` for every process.
                let exe = std::fs::read_link(dir.join("exe")).ok();
                let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
                if is_named(name, &comm, exe.as_deref(), &cmdline) {
                    pids.push(pid);
                }
            }
            return Ok(pids);
        }
        if let Some(unit) = &self.unit {
            // cgroup v2 (`/sys/fs/cgroup`), hybrid (`unified`) and v1 (systemd's named
            // hierarchy `systemd`) layouts.
            for hierarchy in ["", "unified", "systemd"] {
                for slice in ["system.slice", "user.slice", ""] {
                    let procs = Path::new("/sys/fs/cgroup")
                        .join(hierarchy)
                        .join(slice)
                        .join(unit)
                        .join("cgroup.procs");
                    if let Ok(text) = std::fs::read_to_string(&procs) {
                        return Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect());
                    }
                }
            }
            return Err(format!(
                "unit {unit} has no cgroup under /sys/fs/cgroup (is it running?)"
            ));
        }
        Err("no target".into())
    }
}

/// Whether a process is the one named `name`: its `comm` (which the kernel cuts to 15
/// bytes, so a longer name matches its first 15 bytes there and must then match the
/// executable or argv[0]), its executable's file name, or argv[0]'s file name.
fn is_named(name: &str, comm: &str, exe: Option<&Path>, cmdline: &[u8]) -> bool {
    let file_name = |path: &Path| path.file_name().map(|n| n.to_string_lossy().into_owned());
    if exe.and_then(file_name).as_deref() == Some(name) {
        return true;
    }
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(argv0));
    if file_name(argv0).as_deref() == Some(name) {
        return true;
    }
    name.len() <= 15 && comm.trim_end_matches('\n') == name
}

/// The drop-in the package ships that lets the unit see other users' processes, and where
/// it goes.
const DROP_IN_SHIPPED: &str = "/usr/share/perfwarden/systemd/process-memory.conf";
const DROP_IN_INSTALLED: &str = "/etc/systemd/system/perfwarden.service.d/process-memory.conf";

fn read_mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

/// The `hidepid=` option of the `/proc` this process sees, when it hides other users'
/// processes (`invisible`, `noaccess`, `2` or `1`), from `/proc/self/mountinfo`.
fn hidden_processes(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (mount, rest) = line.split_once(" - ")?;
        if mount.split(' ').nth(4) != Some("/proc") {
            return None;
        }
        let super_options = rest.split(' ').nth(2)?;
        super_options
            .split(',')
            .find(|o| o.starts_with("hidepid=") && *o != "hidepid=0" && *o != "hidepid=off")
            .map(str::to_string)
    })
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
            let why = match hidden_processes(&read_mountinfo()) {
                Some(option) => format!(
                    "not visible: /proc is mounted {option}, so this process sees only its \
                     own user's processes (the unit's ProtectProc=invisible). To watch \
                     another service, install the drop-in: sudo install -D -m 0644 \
                     {DROP_IN_SHIPPED} {DROP_IN_INSTALLED} && sudo systemctl daemon-reload \
                     && sudo systemctl restart perfwarden"
                ),
                None => "not found (no such running process)".to_string(),
            };
            return Err(WorkloadError::Invalid(format!(
                "{} {why}",
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
    fn a_proc_that_hides_other_users_processes_is_recognised_from_mountinfo() {
        let plain = "22 28 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n\
                     25 28 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n";
        assert_eq!(hidden_processes(plain), None);
        // What ProtectProc=invisible mounts in the unit's namespace.
        let sandboxed = "22 28 0:20 / / rw shared:1 - ext4 /dev/vda1 rw\n\
                         301 280 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw,hidepid=invisible\n";
        assert_eq!(
            hidden_processes(sandboxed).as_deref(),
            Some("hidepid=invisible")
        );
        let older = "301 280 0:61 / /proc rw - proc proc rw,hidepid=2,gid=0\n";
        assert_eq!(hidden_processes(older).as_deref(), Some("hidepid=2"));
        let off = "301 280 0:61 / /proc rw - proc proc rw,hidepid=0\n";
        assert_eq!(hidden_processes(off), None);
        // Another file system's options never count.
        let elsewhere = "301 280 0:61 / /mnt/proc rw - proc proc rw,hidepid=2\n";
        assert_eq!(hidden_processes(elsewhere), None);
    }

    #[test]
    fn a_name_longer_than_comm_holds_is_found_by_argv0_when_exe_is_hidden() {
        let long = "prometheus-node-exporter";
        // Another user's process: no `exe`, `comm` cut to 15 bytes.
        let comm = "prometheus-node\n";
        let cmdline = b"/usr/bin/prometheus-node-exporter\0--web.listen-address=:9100\0";
        assert!(is_named(long, comm, None, cmdline));
        // A name of 15 bytes or fewer is what `comm` holds.
        assert!(is_named("prometheus-node", comm, None, b"/usr/bin/other\0"));
        assert!(!is_named(
            long,
            comm,
            None,
            b"/usr/bin/prometheus-node-exporter-2\0"
        ));
        assert!(is_named(
            long,
            "x",
            Some(Path::new("/usr/bin/prometheus-node-exporter")),
            b""
        ));
        // A short name matches `comm` alone (a kernel thread has an empty cmdline).
        assert!(is_named("sleep", "sleep\n", None, b""));
        assert!(!is_named("sleep", "sleepy\n", None, b""));
    }

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
