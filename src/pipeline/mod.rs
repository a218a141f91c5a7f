//! The one way a suite runs. `perfwarden run` and the daemon (scheduled, caught-up and
//! queued runs) call the same two steps, so a run means the same thing whoever started it:
//!
//! 1. [`plan`] the benchmarks (unknown suites or benchmarks are usage errors, found before
//!    anything is opened or written), then [`purge`] runs older than the retention period;
//! 2. [`execute`]: take the environment fingerprint, run the benchmarks (each result
//!    committed as it is measured) — or, when the daemon's quiet-host gate gave up on a busy
//!    host and the config says `when_busy = "skip"`, record the run as skipped — then judge
//!    it (verdicts, regression states and alert events in one transaction), compute the
//!    host's health, queue the `suite.finished` event and hand the stored state to the
//!    exports.
//!
//! What differs between the callers is passed in, never decided here: the progress
//! [`RunObserver`] (a terminal bar, or the daemon's status), whether alert events go to the
//! outbox (only when OTLP export is configured), the quiet-host gate's record (the daemon
//! waits for it between the two steps) and the [`Publish`] sink (a one-shot OTLP push, or
//! the daemon's exporter and scrape page). The exit code of a finished run is
//! [`crate::exit::of_run`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::config::Config;
use crate::detect::health::HostHealth;
use crate::export::Publish;
use crate::model::clock::Clock;
use crate::model::event;
use crate::model::records::{GateOutcome, QuietGateRecord, RunRecord, RunStatus, Trigger};
use crate::runner::{self, BenchmarkPlan, PlanError, RunContext, RunError, RunObserver};
use crate::store::{Store, StoreError};
use crate::workload::CancelToken;

/// Plans `suite`: only the benchmarks in `only`, when given; reduced sampling when `quick`.
/// Nothing is opened or written, so a usage error leaves no trace.
pub(crate) fn plan(
    config: &Config,
    suite: &str,
    only: &[String],
    quick: bool,
) -> Result<Vec<BenchmarkPlan>, PlanError> {
    BenchmarkPlan::for_suite(config, suite, only, quick)
}

/// Purges runs older than `[agent] retention`. A purge that fails is a warning: the
/// measurement goes on, and the next run purges again.
pub(crate) fn purge(store: &Store, config: &Config) {
    let cutoff = Utc::now()
        - chrono::Duration::from_std(config.agent.retention).unwrap_or(chrono::Duration::MAX);
    match store.purge_before(cutoff) {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "purged runs older than the retention period"),
        Err(e) => tracing::warn!(error = %e, "cannot purge old runs"),
    }
}

/// One suite run, as its caller sets it up.
pub(crate) struct SuiteRun<'a> {
    pub store: &'a Store,
    /// The config the suite was planned from: its schedules set the baselines' age limits,
    /// its quiet-host settings the one reading taken before a run nobody gated.
    pub config: &'a Config,
    pub suite: String,
    pub quick: bool,
    pub trigger: Trigger,
    /// For a confirmation run: the run whose suspicion it re-measures.
    pub confirms: Option<u64>,
    /// The quiet-host gate's record (scheduled daemon runs); `None` for runs that did not
    /// wait: one reading is then taken here (when the gate is enabled).
    pub gate: Option<QuietGateRecord>,
    pub host: String,
    /// The stable host id that alert events are keyed on.
    pub host_id: String,
    pub clock: Arc<dyn Clock>,
    pub cancel: CancelToken,
    /// Whether alert events are written to the outbox (OTLP export is configured).
    pub outbox: bool,
}

/// What a suite run left behind.
pub(crate) struct SuiteOutcome {
    /// The stored run record, finished (success, failed, interrupted or skipped).
    pub run: RunRecord,
    /// The host's health after the run was judged; `None` when it could not be computed
    /// (logged).
    pub health: Option<HostHealth>,
}

/// A suite run that the store stopped (a full disk, a failing device).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub(crate) struct SuiteError {
    pub error: RunError,
    /// The run it stopped, when one was begun, as it is recorded: `failed`, with the
    /// error in its note. When the database could not be written even for that, this is
    /// how the next process that opens it will record it ([`Store::begin_run`]).
    pub run: Option<Box<RunRecord>>,
}

/// Runs (or records as skipped) the planned suite, judges it, computes the health, queues
/// the `suite.finished` event and publishes. Fails only when the store cannot be written;
/// a failing benchmark is a result, not an error.
pub(crate) fn execute(
    run: SuiteRun,
    plans: Vec<BenchmarkPlan>,
    observer: &mut dyn RunObserver,
    publish: &dyn Publish,
) -> Result<SuiteOutcome, SuiteError> {
    let store = run.store;
    let mut tracked = Tracked {
        inner: observer,
        started: None,
    };
    let outcome = execute_run(run, plans, &mut tracked, publish);
    outcome.map_err(|error| {
        // A run the error stopped is recorded as failed, now or, when the database cannot
        // be written yet, at the start of the next run.
        let reason = error.to_string();
        let recorded = store.abandon_unfinished(&reason);
        let run = tracked.started.map(|started| {
            Box::new(
                recorded
                    .into_iter()
                    .find(|r| r.id == started.id)
                    .unwrap_or_else(|| crate::store::abandoned(started, &reason, Utc::now())),
            )
        });
        SuiteError { error, run }
    })
}

/// Passes every event on and keeps the run record the runner began.
struct Tracked<'a> {
    inner: &'a mut dyn RunObserver,
    started: Option<RunRecord>,
}

impl RunObserver for Tracked<'_> {
    fn suite_planned(&mut self, plans: &[BenchmarkPlan]) {
        self.inner.suite_planned(plans);
    }
    fn run_started(&mut self, run: &RunRecord) {
        self.started = Some(run.clone());
        self.inner.run_started(run);
    }
    fn benchmark_started(&mut self, index: usize, total: usize, plan: &BenchmarkPlan) {
        self.inner.benchmark_started(index, total, plan);
    }
    fn sample_taken(&mut self, count: usize, target: usize) {
        self.inner.sample_taken(count, target);
    }
    fn benchmark_finished(&mut self, result: &crate::model::records::BenchmarkResult) {
        self.inner.benchmark_finished(result);
    }
}

fn execute_run(
    run: SuiteRun,
    plans: Vec<BenchmarkPlan>,
    observer: &mut dyn RunObserver,
    publish: &dyn Publish,
) -> Result<SuiteOutcome, RunError> {
    let store = run.store;
    store.set_outbox_enabled(run.outbox);
    let fingerprint = runner::fingerprint::collect();
    let environment = runner::environment::collect(&run.config.agent.packages);
    let quiet = &run.config.daemon.quiet;
    let gate = match run.gate.clone() {
        Some(gate) => Some(gate),
        None if quiet.enabled => Some(crate::scheduler::quiet::one_reading(quiet)),
        None => None,
    };
    if let Some(gate) = gate.as_ref().filter(|g| g.outcome == GateOutcome::Noisy) {
        tracing::warn!(suite = %run.suite, reasons = %gate.reasons.join(", "), "the host is busy: this run's results are flagged noisy");
    }
    let record = match gate.as_ref().filter(|g| g.outcome == GateOutcome::Skipped) {
        Some(gate) => record_skipped(&run, fingerprint, &environment, &plans, gate.clone())?,
        None => {
            let ctx = RunContext {
                store,
                suite: run.suite.clone(),
                quick: run.quick,
                fingerprint,
                environment,
                host: run.host.clone(),
                clock: run.clock.clone(),
                cancel: run.cancel.clone(),
                trigger: run.trigger,
                confirms: run.confirms,
                gate: gate.clone(),
            };
            let measured = runner::run_suite(&ctx, plans, observer)?;
            let ages = crate::detect::AgeLimits::from_config(run.config);
            crate::detect::evaluate_run(store, &measured.run, &ages)?;
            measured.run
        }
    };
    let health = HostHealth::of(store)
        .inspect_err(|e| tracing::warn!(error = %e, "cannot compute the health score"))
        .ok();
    let score = health.and_then(|h| h.score);
    let finished = event::suite_finished(&run.host_id, &record, score, Utc::now());
    if let Err(e) = store.enqueue_events(&[finished]) {
        tracing::error!(error = %e, "cannot write the suite.finished event to the outbox");
    }
    publish.run_judged(store);
    Ok(SuiteOutcome {
        run: record,
        health,
    })
}

/// The benchmarks of `run` whose suspected regression a confirmation run should re-measure:
/// open, still suspected, and raised by `run` or by the run `run` itself confirmed.
pub(crate) fn suspicions_to_confirm(
    store: &Store,
    run: &RunRecord,
) -> Result<Vec<String>, StoreError> {
    if run.quick {
        return Ok(Vec::new());
    }
    let origin = run.confirms.unwrap_or(run.id);
    let mut benches: Vec<String> = store
        .open_regressions()?
        .into_iter()
        .filter(|r| {
            r.state == crate::model::verdict::RegressionState::Suspected
                && r.first_run == origin
                && r.suite == run.suite
        })
        .map(|r| r.benchmark)
        .collect();
    benches.sort();
    Ok(benches)
}

/// The confirmation run that should follow `run` when it left suspicions open: (benches,
/// the run it confirms, attempt). `None` when nothing is suspected or `max_attempts` are
/// used up. Attempts count from the run that raised the suspicion.
pub(crate) fn next_confirmation(
    store: &Store,
    run: &RunRecord,
    attempt_of_run: u32,
    max_attempts: u32,
) -> Result<Option<(Vec<String>, u64, u32)>, StoreError> {
    let attempt = if run.trigger == Some(Trigger::Confirmation) {
        attempt_of_run + 1
    } else {
        1
    };
    if attempt > max_attempts {
        return Ok(None);
    }
    let benches = suspicions_to_confirm(store, run)?;
    Ok((!benches.is_empty()).then(|| (benches, run.confirms.unwrap_or(run.id), attempt)))
}

/// The earliest time at or after `at` at which a confirmation run of `benches` may start:
/// `at`, or the end of the blackout window it falls in when one of them is a load test (a
/// confirmation waits for the window to end rather than re-measuring without its load test).
pub(crate) fn confirmation_start(
    config: &Config,
    benches: &[String],
    at: chrono::DateTime<Utc>,
) -> chrono::DateTime<Utc> {
    let loads = benches.iter().any(|name| {
        config
            .benchmarks
            .get(name)
            .is_some_and(|b| b.workload.is_load_test())
    });
    if !loads {
        return at;
    }
    let timezone = config
        .daemon
        .timezone
        .unwrap_or_else(crate::scheduler::host_timezone);
    config.load.clear_of_blackout(at, timezone)
}

/// Stores a run that the quiet-host gate skipped, so the skip and its reason show in
/// `runs`, reports and `status`.
fn record_skipped(
    run: &SuiteRun,
    fingerprint: crate::model::records::Fingerprint,
    environment: &crate::model::records::SoftwareEnvironment,
    plans: &[BenchmarkPlan],
    gate: QuietGateRecord,
) -> Result<RunRecord, StoreError> {
    let hash = runner::fingerprint::hash(&fingerprint);
    run.store.put_fingerprint(&hash, &fingerprint)?;
    let environment_hash = runner::environment::hash(environment);
    run.store.put_environment(&environment_hash, environment)?;
    let now = Utc::now();
    let mut record = run.store.begin_run(RunRecord::started(
        &run.suite,
        run.quick,
        now,
        &run.host,
        hash,
        Some(environment_hash),
        plans.iter().map(|p| p.name.clone()).collect(),
        run.trigger,
        None,
    ))?;
    record.confirms = run.confirms;
    record.status = RunStatus::Skipped;
    record.finished_at = Some(now);
    record.note = Some(format!(
        "skipped: the host stayed busy for {} ({})",
        humantime::format_duration(Duration::from_secs(gate.postponed_secs as u64)),
        gate.reasons.join(", ")
    ));
    record.gate = Some(gate);
    run.store.update_run(&record)?;
    tracing::warn!(suite = %run.suite, run = record.id, note = record.note.as_deref().unwrap_or(""), "suite skipped");
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn a_confirmation_of_a_load_test_waits_for_the_blackout_window_to_end() {
        let now = Utc::now();
        let hhmm = |t: chrono::DateTime<Utc>| format!("{:02}:{:02}", t.hour(), t.minute());
        let until = now + chrono::Duration::hours(2);
        let config = Config::from_toml(
            "test.toml",
            &format!(
                r#"
[daemon]
timezone = "UTC"
[load]
blackout = ["{}-{}"]
[suites.s]
schedule = "@yearly"
benchmarks = ["web", "primes"]
[benchmarks.web]
kind = "load.http"
url = "http://127.0.0.1:9/"
users = 2
duration = "1s"
[benchmarks.primes]
kind = "cpu.primes"
"#,
                hhmm(now - chrono::Duration::minutes(30)),
                hhmm(until)
            ),
        )
        .unwrap();
        let start = confirmation_start(&config, &["web".into()], now);
        assert_eq!(
            hhmm(start),
            hhmm(until),
            "the first minute after the window"
        );
        assert!(start > now + chrono::Duration::minutes(118));
        // A probe that is not a load test confirms at once.
        assert_eq!(confirmation_start(&config, &["primes".into()], now), now);
    }
}
