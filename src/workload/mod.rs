//! The workload family: what perfwarden can measure.
//!
//! A benchmark in the config names a `kind`; [`WorkloadConfig`] is the closed, tagged set of
//! kinds with their parameters, and [`WorkloadConfig::build`] turns one into a
//! [`Workload`] the runner drives. Each kind lives in its own file together with its
//! parameters, the definition of its operation and unit, and its tests.
//!
//! The split of responsibilities keeps timing honest and uniform: a workload only *does*
//! work (`run(iterations)`) and says how many units it completed; the runner owns the
//! monotonic clock, so every probe is timed the same way and the per-sample overhead is the
//! runner's, measured once (see `examples/timing_overhead.rs`).

pub mod async_tasks;
pub mod cache_local;
pub mod cache_redis;
pub mod command;
pub mod cpu_parallel;
pub mod cpu_primes;
pub mod cpu_sha256;
pub mod cpu_simd;
pub mod disk_files;
pub mod disk_mmap;
pub mod fake;
pub mod load_http;
pub mod load_mixed;
pub mod memory_alloc;
pub mod memory_bandwidth;
pub mod memory_pressure;
pub mod net_loopback;
pub mod parse_config;
pub mod process_memory;
pub mod resilience;
pub mod scan_tree;
pub mod sync_lockfree;
pub mod traffic;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::metric::{LatencySummary, MetricDef, ResultDetails};
use crate::model::slo::Records;

/// Why a workload could not do its work. Recorded with the result; never a panic.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("stopped by request")]
    Cancelled,
    /// The workload did all it was asked to (a request count, a cap): sampling ends, the
    /// samples taken so far are the result.
    #[error("the workload finished its planned work")]
    Finished,
}

impl WorkloadError {
    /// What a sample finds when `setup` did not leave `what` (a failed or skipped setup).
    pub fn not_set_up(what: &str) -> Self {
        WorkloadError::Invalid(format!("{what}: setup did not run"))
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        WorkloadError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Stop signal shared by the runner and the workload (Ctrl-C, SIGTERM, hard timeout).
/// Workloads with long inner loops check it so they can stop between operations. A child
/// token is cancelled on its own (a benchmark's timeout) or with its parent (Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    own: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    /// A token that is also cancelled when `self` is.
    pub fn child(&self) -> Self {
        CancelToken {
            own: Arc::default(),
            parent: Some(self.own.clone()),
        }
    }
    pub fn cancel(&self) {
        self.own.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::Relaxed)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::Relaxed))
    }
}

/// What a workload may use during setup and sampling.
#[derive(Debug, Clone)]
pub struct WorkloadContext {
    /// A private scratch folder under the state directory; the runner creates it before
    /// `setup` and removes it after `teardown`, whatever happened.
    pub scratch_dir: PathBuf,
    pub cancel: CancelToken,
    /// Logical CPUs available to this process.
    pub available_cpus: usize,
}

/// Collects per-operation latencies (nanoseconds) for workloads where they mean something
/// (disk, cache). Bounded memory: an HDR histogram with 3 significant digits.
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        LatencyRecorder {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("static histogram bounds are valid"),
        }
    }

    pub fn record_nanos(&mut self, nanos: u64) {
        self.histogram.saturating_record(nanos.max(1));
    }

    pub fn merge(&mut self, other: &LatencyRecorder) {
        self.merge_histogram(&other.histogram);
    }

    /// Adds a histogram recorded elsewhere (in nanoseconds, same bounds).
    pub fn merge_histogram(&mut self, other: &Histogram<u64>) {
        // Both histograms share the same bounds, so `add` cannot fail.
        let _ = self.histogram.add(other);
    }

    pub fn clear(&mut self) {
        self.histogram.reset();
    }

    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// Percentiles in seconds, or `None` when nothing was recorded.
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.histogram.is_empty() {
            return None;
        }
        let secs = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1e9;
        Some(LatencySummary {
            count: self.histogram.len(),
            p50: secs(0.50),
            p90: secs(0.90),
            p95: secs(0.95),
            p99: secs(0.99),
            p999: secs(0.999),
            max: self.histogram.max() as f64 / 1e9,
        })
    }
}

/// One measurable thing. The runner calls `setup` once, then `run` repeatedly (warm-up and
/// samples), then `teardown` once, all from one thread.
pub trait Workload: Send {
    /// What a sample value means.
    fn metric(&self) -> MetricDef;

    /// Untimed preparation: buffers, scratch files, generated trees.
    fn setup(&mut self, _ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Performs `iterations` repetitions of the workload's batch and returns the units of
    /// work completed (events, bytes, files, operations). Timed by the runner.
    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError>;

    /// The warm-up is over: counters kept for [`Workload::details`] start again from zero.
    fn warmup_done(&mut self) {}

    /// Outcomes and secondary measurements of the measured samples; asked once, after
    /// sampling and before `teardown`.
    fn details(&mut self) -> Option<ResultDetails> {
        None
    }

    /// Untimed clean-up; called even when `run` failed.
    fn teardown(&mut self) -> Result<(), WorkloadError> {
        Ok(())
    }
}

/// Thread count: a number, or `"all"` for every logical CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    Count(usize),
    #[default]
    All,
}

impl Serialize for Threads {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Threads::Count(n) => serializer.serialize_u64(*n as u64),
            Threads::All => serializer.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Threads {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Threads;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a thread count or \"all\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Threads, E> {
                Ok(Threads::Count(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Threads, E> {
                usize::try_from(v).map(Threads::Count).map_err(|_| {
                    E::custom(format!("{v} threads is negative; give a count or \"all\""))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Threads, E> {
                if v == "all" {
                    Ok(Threads::All)
                } else {
                    Err(E::custom(format!(
                        "expected a thread count or \"all\", found \"{v}\""
                    )))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Threads {
    pub fn resolve(self, available: usize) -> usize {
        match self {
            Threads::Count(n) => n.max(1),
            Threads::All => available.max(1),
        }
    }
}

impl fmt::Display for Threads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threads::Count(n) => write!(f, "{n}"),
            Threads::All => f.write_str("all"),
        }
    }
}

/// Every kind a benchmark can name, with its parameters (`kind = "..."` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum WorkloadConfig {
    #[serde(rename = "cpu.primes")]
    CpuPrimes(cpu_primes::CpuPrimesConfig),
    #[serde(rename = "cpu.sha256")]
    CpuSha256(cpu_sha256::CpuSha256Config),
    #[serde(rename = "memory.bandwidth")]
    MemoryBandwidth(memory_bandwidth::MemoryBandwidthConfig),
    #[serde(rename = "memory.alloc")]
    MemoryAlloc(memory_alloc::MemoryAllocConfig),
    #[serde(rename = "disk.files")]
    DiskFiles(disk_files::DiskFilesConfig),
    #[serde(rename = "parse.config")]
    ParseConfig(parse_config::ParseConfigConfig),
    #[serde(rename = "scan.tree")]
    ScanTree(scan_tree::ScanTreeConfig),
    #[serde(rename = "cache.local")]
    CacheLocal(cache_local::CacheLocalConfig),
    #[serde(rename = "cache.redis")]
    CacheRedis(Box<cache_redis::CacheRedisConfig>),
    #[serde(rename = "resilience.circuit_breaker")]
    CircuitBreaker(resilience::CircuitBreakerConfig),
    #[serde(rename = "resilience.retry")]
    Retry(resilience::RetryConfig),
    #[serde(rename = "cpu.simd")]
    CpuSimd(cpu_simd::CpuSimdConfig),
    #[serde(rename = "disk.mmap")]
    DiskMmap(disk_mmap::DiskMmapConfig),
    #[serde(rename = "cpu.parallel")]
    CpuParallel(cpu_primes::CpuPrimesConfig),
    #[serde(rename = "load.mixed")]
    LoadMixed(load_mixed::LoadMixedConfig),
    #[serde(rename = "async.tasks")]
    AsyncTasks(async_tasks::AsyncTasksConfig),
    #[serde(rename = "net.loopback")]
    NetLoopback(net_loopback::NetLoopbackConfig),
    #[serde(rename = "sync.lockfree")]
    SyncLockfree(sync_lockfree::SyncLockfreeConfig),
    #[serde(rename = "memory.pressure")]
    MemoryPressure(memory_pressure::MemoryPressureConfig),
    #[serde(rename = "process.memory")]
    ProcessMemory(process_memory::ProcessMemoryConfig),
    #[serde(rename = "command")]
    Command(command::CommandConfig),
    #[serde(rename = "load.http")]
    // Boxed: its URL, headers and body make it ten times the size of the others.
    LoadHttp(Box<load_http::LoadHttpConfig>),
}

/// Whether probes of `kind` record per-operation latency (`latency_*` statistics).
pub fn records_latency(kind: &str) -> bool {
    matches!(
        kind,
        "disk.files" | "cache.local" | "load.http" | "cache.redis"
    )
}

/// Whether probes of `kind` count failed operations (`error_ratio`).
pub fn records_outcomes(kind: &str) -> bool {
    matches!(kind, "load.http" | "cache.redis" | "command")
}

/// What probes of the kind named `kind` record besides their samples.
pub fn records_of_kind(kind: &str) -> Records {
    Records {
        latency: records_latency(kind),
        errors: records_outcomes(kind),
    }
}

/// The kind names, for error hints and docs.
pub const KINDS: &[&str] = &[
    "cpu.primes",
    "cpu.sha256",
    "memory.bandwidth",
    "memory.alloc",
    "disk.files",
    "parse.config",
    "scan.tree",
    "cache.local",
    "load.http",
    "cache.redis",
    "command",
    "process.memory",
    "memory.pressure",
    "resilience.circuit_breaker",
    "resilience.retry",
    "async.tasks",
    "net.loopback",
    "sync.lockfree",
    "cpu.simd",
    "disk.mmap",
    "cpu.parallel",
    "load.mixed",
];

/// Kinds that measure a service of the user's (they need its address), shown in
/// `config/example.toml` rather than run by the embedded default.
pub const TARGETED_KINDS: &[&str] = &["load.http", "cache.redis", "command", "process.memory"];

impl WorkloadConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            WorkloadConfig::CpuPrimes(_) => "cpu.primes",
            WorkloadConfig::CpuSha256(_) => "cpu.sha256",
            WorkloadConfig::MemoryBandwidth(_) => "memory.bandwidth",
            WorkloadConfig::MemoryAlloc(_) => "memory.alloc",
            WorkloadConfig::DiskFiles(_) => "disk.files",
            WorkloadConfig::ParseConfig(_) => "parse.config",
            WorkloadConfig::ScanTree(_) => "scan.tree",
            WorkloadConfig::CacheLocal(_) => "cache.local",
            WorkloadConfig::LoadHttp(_) => "load.http",
            WorkloadConfig::Command(_) => "command",
            WorkloadConfig::CacheRedis(_) => "cache.redis",
            WorkloadConfig::ProcessMemory(_) => "process.memory",
            WorkloadConfig::MemoryPressure(_) => "memory.pressure",
            WorkloadConfig::CircuitBreaker(_) => "resilience.circuit_breaker",
            WorkloadConfig::Retry(_) => "resilience.retry",
            WorkloadConfig::AsyncTasks(_) => "async.tasks",
            WorkloadConfig::NetLoopback(_) => "net.loopback",
            WorkloadConfig::SyncLockfree(_) => "sync.lockfree",
            WorkloadConfig::CpuSimd(_) => "cpu.simd",
            WorkloadConfig::DiskMmap(_) => "disk.mmap",
            WorkloadConfig::CpuParallel(_) => "cpu.parallel",
            WorkloadConfig::LoadMixed(_) => "load.mixed",
        }
    }

    /// What probes of this kind record besides their samples (which SLO statistics apply).
    pub fn records(&self) -> Records {
        records_of_kind(self.kind())
    }

    /// Load tests put load on a service; the `[load]` guard rails apply to them.
    pub fn is_load_test(&self) -> bool {
        matches!(
            self,
            WorkloadConfig::LoadHttp(_) | WorkloadConfig::CacheRedis(_)
        )
    }

    /// The guard-rail view of a load test (`None` for other kinds).
    pub fn rails(&mut self) -> Option<traffic::Rails<'_>> {
        match self {
            WorkloadConfig::LoadHttp(c) => Some(traffic::Rails {
                host: load_http::parse_url(&c.url).map(|u| u.host),
                users: c.users,
                users_key: "users",
                rate: c.rate,
                duration: c.duration.0,
                ramp_up: c.ramp_up.0,
                counted: c.requests.is_some(),
                connect_timeout: c.connect_timeout.0,
                request_timeout: c.request_timeout.0,
                rate_cap: &mut c.rate_cap,
                max_duration: &mut c.max_duration,
            }),
            WorkloadConfig::CacheRedis(c) => Some(traffic::Rails {
                host: c.host(),
                users: c.clients,
                users_key: "clients",
                rate: None,
                duration: c.duration.0,
                ramp_up: c.ramp_up.0,
                counted: false,
                connect_timeout: c.connect_timeout.0,
                request_timeout: c.request_timeout.0,
                rate_cap: &mut c.rate_cap,
                max_duration: &mut c.max_duration,
            }),
            _ => None,
        }
    }

    /// Checks parameters that serde cannot (ranges, paths). Each problem is
    /// `(parameter, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            WorkloadConfig::CpuPrimes(c) => c.validate(),
            WorkloadConfig::CpuSha256(c) => c.validate(),
            WorkloadConfig::MemoryBandwidth(c) => c.validate(),
            WorkloadConfig::MemoryAlloc(c) => c.validate(),
            WorkloadConfig::DiskFiles(c) => c.validate(),
            WorkloadConfig::ParseConfig(_) => Vec::new(),
            WorkloadConfig::ScanTree(c) => c.validate(),
            WorkloadConfig::CacheLocal(c) => c.validate(),
            WorkloadConfig::LoadHttp(c) => c.validate(),
            WorkloadConfig::Command(c) => c.validate(),
            WorkloadConfig::CacheRedis(c) => c.validate(),
            WorkloadConfig::ProcessMemory(c) => c.validate(),
            WorkloadConfig::MemoryPressure(c) => c.validate(),
            WorkloadConfig::CircuitBreaker(c) => c.validate(),
            WorkloadConfig::Retry(c) => c.validate(),
            WorkloadConfig::AsyncTasks(c) => c.validate(),
            WorkloadConfig::NetLoopback(c) => c.validate(),
            WorkloadConfig::SyncLockfree(c) => c.validate(),
            WorkloadConfig::CpuSimd(c) => c.validate(),
            WorkloadConfig::DiskMmap(c) => c.validate(),
            WorkloadConfig::CpuParallel(c) => c.validate(),
            WorkloadConfig::LoadMixed(c) => c.validate(),
        }
    }

    /// The metric without building the workload (for reports and catalogs).
    pub fn metric(&self) -> MetricDef {
        self.build().metric()
    }

    pub fn build(&self) -> Box<dyn Workload> {
        match self {
            WorkloadConfig::CpuPrimes(c) => Box::new(cpu_primes::CpuPrimes::new(c.clone())),
            WorkloadConfig::CpuSha256(c) => Box::new(cpu_sha256::CpuSha256::new(c.clone())),
            WorkloadConfig::MemoryBandwidth(c) => {
                Box::new(memory_bandwidth::MemoryBandwidth::new(c.clone()))
            }
            WorkloadConfig::MemoryAlloc(c) => Box::new(memory_alloc::MemoryAlloc::new(c.clone())),
            WorkloadConfig::DiskFiles(c) => Box::new(disk_files::DiskFiles::new(c.clone())),
            WorkloadConfig::ParseConfig(c) => Box::new(parse_config::ParseConfig::new(c.clone())),
            WorkloadConfig::ScanTree(c) => Box::new(scan_tree::ScanTree::new(c.clone())),
            WorkloadConfig::CacheLocal(c) => Box::new(cache_local::CacheLocal::new(c.clone())),
            WorkloadConfig::LoadHttp(c) => Box::new(load_http::LoadHttp::new((**c).clone())),
            WorkloadConfig::Command(c) => Box::new(command::TimedCommand::new(c.clone())),
            WorkloadConfig::CacheRedis(c) => Box::new(cache_redis::CacheRedis::new((**c).clone())),
            WorkloadConfig::ProcessMemory(c) => {
                Box::new(process_memory::ProcessMemory::new(c.clone()))
            }
            WorkloadConfig::MemoryPressure(c) => {
                Box::new(memory_pressure::MemoryPressure::new(c.clone()))
            }
            WorkloadConfig::CircuitBreaker(c) => {
                Box::new(resilience::CircuitBreakerProbe::new(c.clone()))
            }
            WorkloadConfig::Retry(c) => Box::new(resilience::RetryProbe::new(c.clone())),
            WorkloadConfig::AsyncTasks(c) => Box::new(async_tasks::AsyncTasks::new(c.clone())),
            WorkloadConfig::NetLoopback(c) => Box::new(net_loopback::NetLoopback::new(c.clone())),
            WorkloadConfig::SyncLockfree(c) => {
                Box::new(sync_lockfree::SyncLockfree::new(c.clone()))
            }
            WorkloadConfig::CpuSimd(c) => Box::new(cpu_simd::CpuSimd::new(c.clone())),
            WorkloadConfig::DiskMmap(c) => Box::new(disk_mmap::DiskMmap::new(c.clone())),
            WorkloadConfig::CpuParallel(c) => Box::new(cpu_parallel::CpuParallel::new(c.clone())),
            WorkloadConfig::LoadMixed(c) => Box::new(load_mixed::LoadMixed::new(c.clone())),
        }
    }

    /// Short hash of the kind and its parameters. Results are only compared with results of
    /// the same hash: changing a parameter starts a new series instead of a false change.
    pub fn config_hash(&self) -> String {
        let canonical = serde_json::to_string(self).expect("workload config serializes");
        let digest = Sha256::digest(canonical.as_bytes());
        hex::encode(&digest[..6])
    }
}

/// Runs `work(thread_index)` on `threads` scoped threads and sums the returned units.
pub(crate) fn run_on_threads<F>(threads: usize, work: F) -> Result<f64, WorkloadError>
where
    F: Fn(usize) -> Result<f64, WorkloadError> + Sync,
{
    if threads <= 1 {
        return work(0);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|index| {
                let work = &work;
                scope.spawn(move || work(index))
            })
            .collect();
        let mut total = 0.0;
        for handle in handles {
            total += handle
                .join()
                .map_err(|_| WorkloadError::Invalid("a worker thread panicked".into()))??;
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_parse_number_or_all() {
        #[derive(Deserialize)]
        struct T {
            threads: Threads,
        }
        let t: T = toml::from_str("threads = 4").unwrap();
        assert_eq!(t.threads, Threads::Count(4));
        let t: T = toml::from_str("threads = \"all\"").unwrap();
        assert_eq!(t.threads, Threads::All);
        assert!(toml::from_str::<T>("threads = \"many\"").is_err());
    }

    #[test]
    fn config_hash_depends_on_parameters() {
        let a: WorkloadConfig = toml::from_str("kind = \"cpu.primes\"\nthreads = 1").unwrap();
        let b: WorkloadConfig = toml::from_str("kind = \"cpu.primes\"\nthreads = 2").unwrap();
        assert_ne!(a.config_hash(), b.config_hash());
        assert_eq!(a.config_hash(), a.clone().config_hash());
    }

    #[test]
    fn unknown_parameter_is_rejected() {
        let err = toml::from_str::<WorkloadConfig>("kind = \"cpu.primes\"\nthreadz = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("threadz"), "{err}");
    }
}
