//! The records perfwarden keeps: one run of a suite, one benchmark's result in it, the
//! environment fingerprint and the system snapshot. These are the data every later stage
//! (detect, report, export) reads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::metric::{LatencySummary, MetricDef, ResultDetails};
use crate::model::options::BenchOptions;
use crate::stats::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished. Found at open time, it means the process died (crash,
    /// SIGKILL, power loss); the store then marks the run `interrupted`.
    Running,
    /// Every benchmark produced a result.
    Success,
    /// At least one benchmark failed or timed out.
    Failed,
    /// Stopped early by a signal or a crash; finished benchmarks are kept.
    Interrupted,
    /// Not run: the daemon's quiet-host gate found the host busy until `max_delay` and the
    /// config says `when_busy = "skip"`. The reason is in `gate`.
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: u64,
    pub suite: String,
    pub status: RunStatus,
    /// `--quick` runs use reduced sampling.
    pub quick: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub host: String,
    pub agent_version: String,
    /// Short hash of the hardware identity ([`Fingerprint`]): the baseline lineage.
    pub fingerprint: String,
    /// Short hash of the software environment ([`SoftwareEnvironment`]); absent in runs
    /// stored before it was recorded (the schema upgrade fills it where it can).
    #[serde(default)]
    pub environment: Option<String>,
    /// Benchmarks planned, in order.
    pub benchmarks: Vec<String>,
    /// Why the run ended early, when it did.
    #[serde(default)]
    pub note: Option<String>,
    /// What started the run (absent in records written before the daemon existed).
    #[serde(default)]
    pub trigger: Option<Trigger>,
    /// The quiet-host gate's verdict before a scheduled run.
    #[serde(default)]
    pub gate: Option<QuietGateRecord>,
    /// For a confirmation run: the run whose suspicion it re-measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<u64>,
}

impl RunRecord {
    /// A run about to start, as [`crate::store::Store::begin_run`] takes it (the store
    /// assigns the id): the one place a run record is made.
    #[allow(clippy::too_many_arguments)]
    pub fn started(
        suite: &str,
        quick: bool,
        started_at: DateTime<Utc>,
        host: &str,
        fingerprint: String,
        environment: Option<String>,
        benchmarks: Vec<String>,
        trigger: Trigger,
        gate: Option<QuietGateRecord>,
    ) -> RunRecord {
        RunRecord {
            id: 0,
            suite: suite.to_string(),
            status: RunStatus::Running,
            quick,
            started_at,
            finished_at: None,
            host: host.to_string(),
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint,
            environment,
            benchmarks,
            note: None,
            trigger: Some(trigger),
            gate,
            confirms: None,
        }
    }

    pub fn duration_secs(&self) -> Option<f64> {
        self.finished_at
            .map(|end| (end - self.started_at).num_milliseconds() as f64 / 1000.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchStatus {
    Ok,
    Failed,
    TimedOut,
    /// Stopped by Ctrl-C or SIGTERM during sampling; the samples taken are kept.
    Interrupted,
}

impl BenchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BenchStatus::Ok => "ok",
            BenchStatus::Failed => "failed",
            BenchStatus::TimedOut => "timed_out",
            BenchStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkResult {
    pub run_id: u64,
    pub benchmark: String,
    pub kind: String,
    /// Hash of kind + parameters: only equal hashes are compared.
    pub config_hash: String,
    pub fingerprint: String,
    pub metric: MetricDef,
    pub status: BenchStatus,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    /// Wall time of the whole benchmark (setup, warm-up, sampling, teardown).
    pub duration_secs: f64,
    pub iterations_per_sample: u64,
    pub warmup_samples: usize,
    /// Sampling stopped at the time budget before reaching `samples` and `min_time`.
    pub budget_exhausted: bool,
    pub options: BenchOptions,
    /// Summary of the samples; `None` when no sample was taken.
    pub summary: Option<Summary>,
    /// Per-operation latency, for workloads that record it.
    pub latency: Option<LatencySummary>,
    /// Outcomes (error ratios) and secondary measurements, for workloads that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ResultDetails>,
    /// Measured with the reduced sampling of `--quick`: judged for information, never part
    /// of a baseline.
    #[serde(default)]
    pub quick: bool,
    /// The quiet-host reading before the run found the host busy. Judged against a baseline
    /// of mostly quiet runs, this result can raise a suspicion but neither confirm nor
    /// resolve one.
    #[serde(default)]
    pub busy_host: bool,
}

impl BenchmarkResult {
    /// The primary statistic: the median of the samples.
    pub(crate) fn primary(&self) -> Option<f64> {
        self.summary.as_ref().map(|s| s.median)
    }
}

/// The hardware identity: what keys a benchmark's baseline lineage. Only stable fields, so
/// that a change means the machine changed (another CPU, more cores, a memory size class,
/// another instance type), not that the host was busy or its software was upgraded.
/// Records written before the split also carried the OS, kernel and agent version; they are
/// ignored when read (the schema upgrade moved them to [`SoftwareEnvironment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub cpu_model: String,
    pub physical_cores: usize,
    pub logical_cores: usize,
    /// Total memory rounded down to 256 MiB (the kernel's count moves by a few MiB across
    /// boots and kernel versions).
    pub memory_total_mib: u64,
    pub arch: String,
    /// `none`, `kvm`, `vmware`, `container:docker`, … (best effort).
    pub virtualization: String,
}

impl Fingerprint {
    /// The short hash that names the lineage (first 12 hex digits of SHA-256 over the
    /// canonical JSON).
    pub fn short_hash(&self) -> String {
        short_hash(self)
    }

    /// The memory size class, in MiB: the total rounded (on a log scale) to the nearest
    /// of 1, 1.5, 2, 3, 4, 6, 8, 12 … GiB, the sizes servers come with. Two hosts of one
    /// model whose firmware or kernel reserve a different few hundred MiB share a class,
    /// where the 256 MiB rounding of the lineage may part them.
    pub fn memory_class_mib(&self) -> u64 {
        if self.memory_total_mib == 0 {
            return 0;
        }
        let total = self.memory_total_mib as f64;
        (0..24u32)
            .flat_map(|k| [1024u64 << k, 1536u64 << k])
            .min_by(|a, b| {
                let distance = |c: &u64| (total / *c as f64).ln().abs();
                distance(a).total_cmp(&distance(b))
            })
            .unwrap_or(0)
    }

    /// The hardware class a fleet compares hosts within: a short hash of the CPU model,
    /// the core counts, the memory class, the architecture and the virtualisation, and of
    /// nothing that software changes, so a host whose kernel was upgraded stays among its
    /// hardware peers.
    pub fn hardware_class(&self) -> String {
        #[derive(Serialize)]
        struct HardwareClass<'a> {
            cpu_model: &'a str,
            physical_cores: usize,
            logical_cores: usize,
            memory_class_mib: u64,
            arch: &'a str,
            virtualization: &'a str,
        }
        short_hash(&HardwareClass {
            cpu_model: &self.cpu_model,
            physical_cores: self.physical_cores,
            logical_cores: self.logical_cores,
            memory_class_mib: self.memory_class_mib(),
            arch: &self.arch,
            virtualization: &self.virtualization,
        })
    }
}

impl SoftwareEnvironment {
    /// The short hash stored with each run.
    pub fn short_hash(&self) -> String {
        short_hash(self)
    }
}

/// First 12 hex digits of SHA-256 over the canonical JSON of `record`.
fn short_hash(record: &impl Serialize) -> String {
    use sha2::Digest;
    let canonical = serde_json::to_string(record).expect("records serialize");
    hex::encode(&sha2::Sha256::digest(canonical.as_bytes())[..6])
}

/// A package the config asks to watch, as the package database knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "version")]
pub enum PackageState {
    Installed(String),
    /// The database was read and has no such installed package.
    Absent,
    /// No package database could be read.
    Unknown,
}

/// The software a run was measured under: recorded with every run, never splitting
/// baselines — a change is measured against the baseline from before it. `None` is a field
/// that could not be read on this host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareEnvironment {
    pub kernel: Option<String>,
    #[serde(default)]
    pub kernel_cmdline: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    /// CPU microcode revision (`/proc/cpuinfo`).
    #[serde(default)]
    pub microcode: Option<String>,
    /// `/sys/devices/system/cpu/vulnerabilities/*`: name → the kernel's mitigation line.
    #[serde(default)]
    pub mitigations: Option<std::collections::BTreeMap<String, String>>,
    /// `/sys/devices/system/cpu/smt/control`: `on`, `off`, `forceoff`, `notsupported`, ….
    #[serde(default)]
    pub smt: Option<String>,
    /// Frequency governor of cpu0.
    #[serde(default)]
    pub governor: Option<String>,
    /// Transparent huge pages mode (`always`, `madvise`, `never`).
    #[serde(default)]
    pub transparent_hugepages: Option<String>,
    /// A few scheduler and VM sysctls that move benchmark results: name → value (absent
    /// when unreadable).
    #[serde(default)]
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// The C library's version (glibc), where it can be asked.
    #[serde(default)]
    pub libc: Option<String>,
    pub agent_version: Option<String>,
    /// The packages `[agent] packages` lists, by name.
    #[serde(default)]
    pub packages: std::collections::BTreeMap<String, PackageState>,
}

/// One field of the software environment that differs between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// `kernel`, `microcode`, `mitigations.spectre_v2`, `sysctl.vm.swappiness`,
    /// `package.openssl`, ….
    pub field: String,
    /// The value before and after (`unknown` when unreadable, `absent` for a package that
    /// is not installed).
    pub before: String,
    pub after: String,
}

/// What changed in the software environment between two runs of a lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentDiff {
    /// The run measured under the previous environment.
    pub since_run: u64,
    pub changes: Vec<FieldChange>,
}

impl EnvironmentDiff {
    /// One line: "kernel 6.1.0-26 → 6.1.0-28; microcode 0xa0011d1 → 0xa0011d5".
    pub fn summary(&self) -> String {
        self.changes
            .iter()
            .map(|c| format!("{} {} → {}", c.field, c.before, c.after))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Load and resource use around a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemSample {
    pub at: DateTime<Utc>,
    pub load_1: f64,
    pub load_5: f64,
    pub load_15: f64,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub swap_used_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSnapshot {
    pub start: SystemSample,
    pub end: Option<SystemSample>,
    /// Average busy share of all CPUs between start and end, in percent (includes the
    /// benchmarks themselves).
    pub cpu_busy_percent: Option<f64>,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `perfwarden run`, directly or through the daemon.
    Manual,
    /// The daemon, at a scheduled time.
    Scheduled,
    /// The daemon, once after start, for a scheduled time missed while it was down.
    CatchUp,
    /// A re-run of the benchmarks a run suspected of a regression (`confirms` names it).
    Confirmation,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Scheduled => "scheduled",
            Trigger::CatchUp => "catch_up",
            Trigger::Confirmation => "confirmation",
        }
    }
}

/// How the quiet-host gate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    /// The host was quiet (possibly after postponing).
    Quiet,
    /// Still busy after `max_delay`; the suite ran and its results are flagged noisy.
    Noisy,
    /// Still busy after `max_delay`; the suite did not run.
    Skipped,
}

impl GateOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            GateOutcome::Quiet => "quiet",
            GateOutcome::Noisy => "noisy",
            GateOutcome::Skipped => "skipped",
        }
    }
}

/// What the gate read off the host (the last reading before it decided).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReadings {
    /// 1-minute load average divided by the number of CPUs.
    pub load_per_cpu: f64,
    /// Share of CPU time not idle over the sampling window (0–1).
    pub cpu_busy: f64,
    /// `MemAvailable / MemTotal` (0–1).
    pub available_memory: f64,
    /// CPU frequency governor of cpu0, where readable.
    pub governor: Option<String>,
}

/// The quiet-host gate's decision, stored with the run it gated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuietGateRecord {
    pub outcome: GateOutcome,
    /// How long the suite was postponed.
    pub postponed_secs: f64,
    /// Readings taken (1 when the host was quiet at once).
    pub checks: u32,
    /// Why the host counted as busy at the last busy reading (empty when never busy).
    pub reasons: Vec<String>,
    /// `null` when the host could not be read (the gate then lets the suite run).
    pub readings: Option<HostReadings>,
}

/// The daemon's persisted view of one suite's schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SuiteSchedule {
    /// The latest scheduled time that was handled (started or deliberately skipped);
    /// catch-up looks for scheduled times after it. Set to the daemon's first start for a
    /// new suite, so installing the agent does not count as a missed run.
    pub last_slot: Option<DateTime<Utc>>,
    /// When the suite is due next (scheduled time plus splay), as last computed.
    pub next_due: Option<DateTime<Utc>>,
    pub last_run: Option<u64>,
    pub last_started: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
    pub last_status: Option<RunStatus>,
    /// End of the last run that succeeded.
    pub last_success: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(memory_total_mib: u64) -> Fingerprint {
        Fingerprint {
            cpu_model: "AMD EPYC 7B13".into(),
            physical_cores: 16,
            logical_cores: 32,
            memory_total_mib,
            arch: "x86_64".into(),
            virtualization: "kvm".into(),
        }
    }

    #[test]
    fn memory_classes_are_the_sizes_servers_come_with() {
        assert_eq!(host(64_256).memory_class_mib(), 64 << 10);
        assert_eq!(host(65_280).memory_class_mib(), 64 << 10);
        assert_eq!(host(96_000).memory_class_mib(), 96 << 10);
        assert_eq!(host(3_840).memory_class_mib(), 4 << 10);
        assert_eq!(host(1_536).memory_class_mib(), 1536);
        assert_eq!(host(0).memory_class_mib(), 0);
    }

    #[test]
    fn the_hardware_class_ignores_what_the_kernel_reserves_and_names_the_hardware() {
        // Two lineages (the 256 MiB rounding parts them), one class.
        let a = host(64_256);
        let b = host(64_000);
        assert_ne!(a.short_hash(), b.short_hash());
        assert_eq!(a.hardware_class(), b.hardware_class());
        assert_eq!(a.hardware_class().len(), 12);
        let other_cpu = Fingerprint {
            cpu_model: "Intel Xeon Gold 6338".into(),
            ..host(64_256)
        };
        assert_ne!(a.hardware_class(), other_cpu.hardware_class());
        assert_ne!(a.hardware_class(), host(128_000).hardware_class());
    }
}
