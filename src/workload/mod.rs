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

pub(crate) mod async_tasks;
pub(crate) mod cache_local;
pub(crate) mod cache_redis;
pub(crate) mod command;
pub(crate) mod cpu_parallel;
pub(crate) mod cpu_primes;
pub(crate) mod cpu_sha256;
pub(crate) mod cpu_simd;
pub(crate) mod disk_files;
pub(crate) mod disk_mmap;
#[cfg(any(test, feature = "test-fakes"))]
pub mod fake;
pub(crate) mod limits;
pub(crate) mod load_http;
pub(crate) mod load_mixed;
pub(crate) mod memory_alloc;
pub(crate) mod memory_bandwidth;
pub(crate) mod memory_pressure;
pub(crate) mod net_loopback;
pub(crate) mod parse_config;
pub(crate) mod process_memory;
pub(crate) mod resilience;
pub(crate) mod scan_tree;
pub(crate) mod sync_lockfree;
pub(crate) mod traffic;

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
    pub(crate) fn not_set_up(what: &str) -> Self {
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
    pub(crate) fn is_cancelled(&self) -> bool {
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

    pub(crate) fn record_nanos(&mut self, nanos: u64) {
        self.histogram.saturating_record(nanos.max(1));
    }

    pub(crate) fn merge(&mut self, other: &LatencyRecorder) {
        self.merge_histogram(&other.histogram);
    }

    /// Adds a histogram recorded elsewhere (in nanoseconds, same bounds).
    pub(crate) fn merge_histogram(&mut self, other: &Histogram<u64>) {
        // Both histograms share the same bounds, so `add` cannot fail.
        let _ = self.histogram.add(other);
    }

    pub(crate) fn clear(&mut self) {
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
    pub(crate) fn resolve(self, available: usize) -> usize {
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

/// What a kind is besides its parameters: the facts the config reader, the SLO language,
/// the load guard rails and the default config need. Written once per kind, in
/// [`probe_kinds!`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindTraits {
    /// Records per-operation latency (the `latency_*` statistics).
    pub latency: bool,
    /// Counts failed operations (`error_ratio`).
    pub outcomes: bool,
    /// Measures a service of the user's, so it needs its address: shown in
    /// `config/example.toml` rather than run by the embedded default.
    pub targeted: bool,
    /// Puts load on a service; the `[load]` guard rails apply.
    pub load_test: bool,
    /// Version of what the probe measures (what a sample times, its unit and direction).
    /// Bump it in the kind's row when a change of the probe makes old samples incomparable:
    /// its benchmarks then start new baselines. An agent upgrade that leaves it alone keeps
    /// every baseline.
    pub definition: u32,
}

impl KindTraits {
    /// A probe of the host itself: no latency, no outcomes, no target, no load.
    pub(crate) const HOST: KindTraits = KindTraits {
        latency: false,
        outcomes: false,
        targeted: false,
        load_test: false,
        definition: 1,
    };

    /// A probe aimed at something of the user's (a command, a process) that puts no load
    /// on it.
    pub(crate) const TARGETED: KindTraits = KindTraits {
        targeted: true,
        ..KindTraits::HOST
    };

    /// What probes of the kind record besides their samples (which SLO statistics apply).
    pub(crate) fn records(self) -> Records {
        Records {
            latency: self.latency,
            errors: self.outcomes,
        }
    }
}

/// Why a kind's parameters could not be read, with the key path of the bad value.
pub(crate) type ReadError = serde_path_to_error::Error<toml::de::Error>;

/// One row of the probe table, as the rest of the program sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeKind {
    /// The name a benchmark gives as `kind = "..."`.
    pub name: &'static str,
    pub traits: KindTraits,
    fields: fn() -> &'static [&'static str],
    read: fn(toml::Value) -> Result<WorkloadConfig, ReadError>,
}

impl ProbeKind {
    /// The parameter names of the kind, in declaration order, as serde reads them (derived
    /// from the config type, so hints cannot drift from what the reader accepts).
    pub(crate) fn parameters(&self) -> &'static [&'static str] {
        (self.fields)()
    }

    /// Reads the kind's parameters (the benchmark's table without `kind`) straight into its
    /// config type, not through the tagged enum, which would buffer the table and lose the
    /// key path of an error.
    pub(crate) fn read(&self, parameters: toml::Value) -> Result<WorkloadConfig, ReadError> {
        (self.read)(parameters)
    }
}

/// The row of the probe table named `name`.
pub(crate) fn probe_kind(name: &str) -> Option<&'static ProbeKind> {
    PROBE_KINDS.iter().find(|kind| kind.name == name)
}

/// What probes of the kind named `kind` record besides their samples (nothing for a name
/// that is not a kind, such as one read from an older database).
pub(crate) fn records_of_kind(kind: &str) -> Records {
    probe_kind(kind)
        .map(|k| k.traits.records())
        .unwrap_or_default()
}

/// A clone of the config a probe constructor takes, whether the variant holds it boxed or not.
fn owned<C: Clone, Payload: std::borrow::Borrow<C>>(payload: &Payload) -> C {
    payload.borrow().clone()
}

/// The probe table. Each row is one kind: its enum variant, its name in the config, the
/// type its parameters are read into (the variant's payload), the constructor of its
/// probe, and its [`KindTraits`]. From the rows come [`WorkloadConfig`] (with its serde
/// tags), [`KINDS`], [`PROBE_KINDS`], and the `kind`, `traits`, `validate` and `build`
/// dispatch. A config type provides `validate(&self) -> Vec<(String, String)>`; its
/// constructor takes the config by value.
macro_rules! probe_kinds {
    ($(
        $(#[$attribute:meta])*
        $variant:ident $name:literal : $payload:ty => $constructor:path, $traits:expr;
    )*) => {
        /// Every kind a benchmark can name, with its parameters (`kind = "..."` in the config).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum WorkloadConfig {
            $(
                $(#[$attribute])*
                #[serde(rename = $name)]
                $variant($payload),
            )*
        }

        /// The kind names, in the order hints and docs list them.
        pub(crate) const KINDS: &[&str] = &[$($name),*];

        /// The probe table, row by row.
        pub(crate) static PROBE_KINDS: &[ProbeKind] = &[$(
            ProbeKind {
                name: $name,
                traits: $traits,
                fields: serde_aux::serde_introspection::serde_introspect::<$payload>,
                read: |parameters| {
                    serde_path_to_error::deserialize::<_, $payload>(parameters)
                        .map(WorkloadConfig::$variant)
                },
            },
        )*];

        impl WorkloadConfig {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(WorkloadConfig::$variant(_) => $name,)*
                }
            }

            /// The kind's row facts: what it records, whether it is targeted or a load test.
            pub(crate) fn traits(&self) -> KindTraits {
                match self {
                    $(WorkloadConfig::$variant(_) => $traits,)*
                }
            }

            /// Checks parameters that serde cannot (ranges, paths). Each problem is
            /// `(parameter, message)`.
            pub fn validate(&self) -> Vec<(String, String)> {
                match self {
                    $(WorkloadConfig::$variant(config) => config.validate(),)*
                }
            }

            pub fn build(&self) -> Box<dyn Workload> {
                match self {
                    $(WorkloadConfig::$variant(config) => Box::new($constructor(owned(config))),)*
                }
            }
        }
    };
}

probe_kinds! {
    CpuPrimes "cpu.primes": cpu_primes::CpuPrimesConfig => cpu_primes::CpuPrimes::new, KindTraits::HOST;
    CpuSha256 "cpu.sha256": cpu_sha256::CpuSha256Config => cpu_sha256::CpuSha256::new, KindTraits::HOST;
    MemoryBandwidth "memory.bandwidth": memory_bandwidth::MemoryBandwidthConfig
        => memory_bandwidth::MemoryBandwidth::new, KindTraits::HOST;
    MemoryAlloc "memory.alloc": memory_alloc::MemoryAllocConfig => memory_alloc::MemoryAlloc::new, KindTraits::HOST;
    DiskFiles "disk.files": disk_files::DiskFilesConfig => disk_files::DiskFiles::new,
        KindTraits { latency: true, ..KindTraits::HOST };
    ParseConfig "parse.config": parse_config::ParseConfigConfig => parse_config::ParseConfig::new, KindTraits::HOST;
    ScanTree "scan.tree": scan_tree::ScanTreeConfig => scan_tree::ScanTree::new, KindTraits::HOST;
    CacheLocal "cache.local": cache_local::CacheLocalConfig => cache_local::CacheLocal::new,
        KindTraits { latency: true, ..KindTraits::HOST };
    // Boxed: its URL, headers and body make it ten times the size of the others.
    LoadHttp "load.http": Box<load_http::LoadHttpConfig> => load_http::LoadHttp::new,
        KindTraits { latency: true, outcomes: true, targeted: true, load_test: true, definition: 1 };
    CacheRedis "cache.redis": Box<cache_redis::CacheRedisConfig> => cache_redis::CacheRedis::new,
        KindTraits { latency: true, outcomes: true, targeted: true, load_test: true, definition: 1 };
    Command "command": command::CommandConfig => command::TimedCommand::new,
        KindTraits { outcomes: true, ..KindTraits::TARGETED };
    ProcessMemory "process.memory": process_memory::ProcessMemoryConfig
        => process_memory::ProcessMemory::new, KindTraits::TARGETED;
    MemoryPressure "memory.pressure": memory_pressure::MemoryPressureConfig
        => memory_pressure::MemoryPressure::new, KindTraits::HOST;
    CircuitBreaker "resilience.circuit_breaker": resilience::CircuitBreakerConfig
        => resilience::CircuitBreakerProbe::new, KindTraits::HOST;
    Retry "resilience.retry": resilience::RetryConfig => resilience::RetryProbe::new, KindTraits::HOST;
    AsyncTasks "async.tasks": async_tasks::AsyncTasksConfig => async_tasks::AsyncTasks::new, KindTraits::HOST;
    NetLoopback "net.loopback": net_loopback::NetLoopbackConfig => net_loopback::NetLoopback::new, KindTraits::HOST;
    SyncLockfree "sync.lockfree": sync_lockfree::SyncLockfreeConfig
        => sync_lockfree::SyncLockfree::new, KindTraits::HOST;
    CpuSimd "cpu.simd": cpu_simd::CpuSimdConfig => cpu_simd::CpuSimd::new, KindTraits::HOST;
    DiskMmap "disk.mmap": disk_mmap::DiskMmapConfig => disk_mmap::DiskMmap::new, KindTraits::HOST;
    CpuParallel "cpu.parallel": cpu_primes::CpuPrimesConfig => cpu_parallel::CpuParallel::new, KindTraits::HOST;
    LoadMixed "load.mixed": load_mixed::LoadMixedConfig => load_mixed::LoadMixed::new, KindTraits::HOST;
}

impl WorkloadConfig {
    /// What probes of this kind record besides their samples (which SLO statistics apply).
    pub fn records(&self) -> Records {
        self.traits().records()
    }

    /// Load tests put load on a service; the `[load]` guard rails apply to them.
    pub(crate) fn is_load_test(&self) -> bool {
        self.traits().load_test
    }

    /// The guard-rail view of a load test (`None` for other kinds).
    pub(crate) fn rails(&mut self) -> Option<traffic::Rails<'_>> {
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

    /// The metric without building the workload (for reports and catalogs).
    pub fn metric(&self) -> MetricDef {
        self.build().metric()
    }

    /// Short hash of the kind, its parameters and its definition version. Results are only
    /// compared with results of the same hash: changing a parameter, or a probe whose
    /// measurement changed, starts a new series instead of a false change. Definition 1 adds
    /// nothing to the hash, so the hashes of every stored result stay valid.
    pub fn config_hash(&self) -> String {
        let mut canonical = serde_json::to_string(self).expect("workload config serializes");
        let definition = self.traits().definition;
        if definition > 1 {
            canonical.push_str(&format!("#definition={definition}"));
        }
        let digest = Sha256::digest(canonical.as_bytes());
        hex::encode(&digest[..6])
    }
}

/// A thread that could not be started: the process or its cgroup is at its task limit
/// (systemd's `TasksMax`, `ulimit -u`). Never a panic: the threads already started are
/// released and joined, so none is left behind.
pub(crate) fn cannot_start_thread(index: usize, of: usize, error: std::io::Error) -> WorkloadError {
    WorkloadError::Invalid(format!(
        "cannot start thread {} of {of}: {error}; the agent is at its task limit (the unit's TasksMax, or ulimit -u): lower `threads`",
        index + 1
    ))
}

/// Where threads wait to start together, like a barrier that can also be called off (a
/// later thread could not be started): [`StartGate::wait`] returns whether to run.
pub(crate) struct StartGate {
    state: std::sync::Mutex<(usize, Option<bool>)>,
    changed: std::sync::Condvar,
}

impl StartGate {
    pub(crate) fn new() -> StartGate {
        StartGate {
            state: std::sync::Mutex::new((0, None)),
            changed: std::sync::Condvar::new(),
        }
    }

    /// A worker arrives and waits for the decision: `true` to run.
    pub(crate) fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        self.changed.notify_all();
        loop {
            if let Some(go) = state.1 {
                return go;
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits until `workers` have arrived, then lets them run.
    pub(crate) fn open_when_all(&self, workers: usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while state.0 < workers {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.1 = Some(true);
        self.changed.notify_all();
    }

    /// Sends every worker home without running.
    pub(crate) fn call_off(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.1 = Some(false);
        self.changed.notify_all();
    }
}

/// Runs `work(thread_index)` on `threads` scoped threads and sums the returned units. A
/// thread that cannot be started fails the benchmark ([`cannot_start_thread`]) after the
/// started ones finish.
pub(crate) fn run_on_threads<F>(threads: usize, work: F) -> Result<f64, WorkloadError>
where
    F: Fn(usize) -> Result<f64, WorkloadError> + Sync,
{
    if threads <= 1 {
        return work(0);
    }
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let work = &work;
            match std::thread::Builder::new().spawn_scoped(scope, move || work(index)) {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(cannot_start_thread(index, threads, e));
                }
            }
        }
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

    /// Stored results carry these hashes: a release that changed them would restart every
    /// baseline. (A probe's definition version is the deliberate way to restart its own.)
    #[test]
    fn config_hashes_of_definition_one_are_those_stored_by_earlier_releases() {
        let a: WorkloadConfig = toml::from_str("kind = \"cpu.primes\"\nthreads = 1").unwrap();
        assert_eq!(a.traits().definition, 1);
        assert_eq!(a.config_hash(), "b4f57a62fa30");
    }

    /// The hints name exactly the fields serde's own "unknown field" message expects, for
    /// every kind: the introspected parameter list cannot drift from the reader.
    #[test]
    fn parameter_hints_are_the_fields_the_reader_accepts() {
        for kind in PROBE_KINDS {
            let mut table = toml::Table::new();
            table.insert("no_such_parameter".into(), toml::Value::Integer(1));
            let error = kind
                .read(toml::Value::Table(table))
                .expect_err("an unknown parameter is rejected")
                .into_inner()
                .to_string();
            let expected = error
                .split("expected")
                .nth(1)
                .unwrap_or_else(|| panic!("{}: {error}", kind.name));
            let accepted: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            assert!(!accepted.is_empty(), "{}: {error}", kind.name);
            assert_eq!(kind.parameters(), accepted.as_slice(), "{}", kind.name);
        }
    }

    #[test]
    fn the_table_names_each_kind_once_and_in_kinds_order() {
        let names: Vec<&str> = PROBE_KINDS.iter().map(|k| k.name).collect();
        assert_eq!(names, KINDS);
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        for name in KINDS {
            assert_eq!(probe_kind(name).map(|k| k.name), Some(*name));
        }
        assert!(probe_kind("cpu.prime").is_none());
        assert_eq!(records_of_kind("no.such.kind"), Records::default());
        assert_eq!(
            records_of_kind("load.http"),
            Records {
                latency: true,
                errors: true
            }
        );
    }

    #[test]
    fn a_read_kind_keeps_its_tagged_serde_form() {
        let parameters: toml::Value = toml::from_str("threads = 2").unwrap();
        let read = probe_kind("cpu.parallel")
            .unwrap()
            .read(parameters)
            .unwrap();
        assert_eq!(read.kind(), "cpu.parallel");
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            r#"{"kind":"cpu.parallel","max_prime":10000,"threads":2}"#
        );
        let tagged: WorkloadConfig =
            toml::from_str("kind = \"cpu.parallel\"\nthreads = 2").unwrap();
        assert_eq!(tagged, read);
    }

    #[test]
    fn unknown_parameter_is_rejected() {
        let err = toml::from_str::<WorkloadConfig>("kind = \"cpu.primes\"\nthreadz = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("threadz"), "{err}");
    }
}
