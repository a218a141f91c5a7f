//! Every redb table of perfwarden, in one place, with the schema version.
//!
//! Values are JSON documents (serde) except raw samples, which are little-endian `f64`
//! arrays: JSON keeps records readable and lets fields be added with `#[serde(default)]`
//! without a migration; samples are the bulk of the data and stay compact.
//!
//! Bump [`SCHEMA_VERSION`] when a table changes incompatibly and add the step to
//! `super::migrate`.

use redb::TableDefinition;

/// Version of the layout below. Stored in [`META`] under `schema_version`.
///
/// History: 1 — runs, results, samples, index, fingerprints, snapshots; 2 — adds verdicts,
/// regressions, the regression log and baseline starts (new tables only, so a version 1
/// file is upgraded by creating them); 3 — adds the daemon's schedule state (new table
/// only; run records gained optional fields, and the run counters are filled from the
/// runs present); 4 — adds the alert-event outbox (new table only); 5 — the fingerprint is
/// split into the hardware identity (`FINGERPRINTS`, the baseline lineage) and the software
/// environment (`ENVIRONMENTS`, recorded per run): runs, results and regressions are
/// rewritten from the old combined hash to the hardware one, runs get the environment's
/// hash, and results get the `quick` flag of their run (`super::migrate`).
pub const SCHEMA_VERSION: u64 = 5;

/// `name → value`: `schema_version`, `next_run_id`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// `run id → RunRecord (JSON)`.
pub(crate) const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("runs");

/// `(run id, benchmark) → BenchmarkResult (JSON)`.
pub(crate) const RESULTS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("results");

/// `(run id, benchmark) → raw samples (little-endian f64, in measurement order)`.
pub const SAMPLES: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("samples");

/// `(benchmark, started at in Unix ms, run id) → ()`: the time-series index, so the history
/// of one benchmark is a range scan.
pub(crate) const BENCH_INDEX: TableDefinition<(&str, i64, u64), ()> =
    TableDefinition::new("bench_index");

/// `hardware hash → Fingerprint (JSON)`: the hardware identity of a lineage.
pub(crate) const FINGERPRINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("fingerprints");

/// `environment hash → SoftwareEnvironment (JSON)`: the software a run was measured under.
pub(crate) const ENVIRONMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("environments");

/// `run id → RunSnapshot (JSON)`: load, CPU and memory around the run.
pub(crate) const SNAPSHOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshots");

/// `(run id, benchmark) → Verdict (JSON)`: the regression verdict of each result.
pub const VERDICTS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("verdicts");

/// `benchmark → Regression (JSON)`: the open (suspected or confirmed) regression, if any.
pub const OPEN_REGRESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("open_regressions");

/// `(benchmark, first run id) → Regression (JSON)`: every regression ever opened, with how
/// it ended.
pub const REGRESSION_LOG: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("regression_log");

/// `benchmark → run id`: the baseline of a benchmark only uses runs from this id on
/// (set by `baseline pin`, `reset` and `accept`).
pub const BASELINE_START: TableDefinition<&str, u64> = TableDefinition::new("baseline_start");

/// `suite → SuiteSchedule (JSON)`: the daemon's last handled scheduled time, next due time
/// and last outcome of each suite, so catch-up and `status` survive restarts.
pub(crate) const SCHEDULE: TableDefinition<&str, &[u8]> = TableDefinition::new("schedule");

/// `(suite, outcome) → count`: runs that ended, ever. Unlike counting `RUNS`, retention
/// never lowers it, so it can be exported as a monotonic counter.
pub(crate) const RUN_COUNTS: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("run_counts");

/// `sequence → Event (JSON)`: alert events not yet accepted by the OTLP collector, oldest
/// first. Written in the same transaction as the verdicts that caused them; removed only
/// after the collector accepted them. `next_event_seq` in [`META`] numbers them.
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
