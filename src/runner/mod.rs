//! Runs one suite: for each benchmark, setup → warm-up → samples → teardown, each result
//! committed to the store the moment it exists.
//!
//! Sampling rules (per benchmark, from its [`BenchOptions`]):
//! - the first call (1 iteration) calibrates: iterations per sample are chosen so that one
//!   sample takes about `min_time / (4 × samples)`, clamped to 10 ms – 1 s, so that short
//!   operations are not dominated by the clock and every benchmark gets about four times
//!   its `samples` within `min_time` (40 with the defaults: the verdicts' power depends on
//!   it, see `detect::evaluation`);
//! - warm-up runs until `warmup` has elapsed (its samples are discarded), then
//!   recalibrates;
//! - sampling goes on until both `samples` and `min_time` are reached, or stops at
//!   `time_budget` with what it has (flagged `budget_exhausted`);
//! - `timeout` is a hard limit enforced from another thread: past it the benchmark is
//!   `timed_out` and its partial samples are kept;
//! - Ctrl-C/SIGTERM (the cancel token) stops at the next sample boundary; the samples
//!   taken are kept and the run is marked `interrupted`.
//!
//! Time comes from a [`Clock`] (monotonic `Instant` in production, a fake in tests) read
//! once before and once after each sample — the per-sample overhead is two clock reads
//! and one cancel check, measured by `examples/timing_overhead.rs`.
//!
//! A failing workload is data, not a crash: its error is stored as the result.

pub mod environment;
pub mod fingerprint;
pub(crate) mod progress;
pub(crate) mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::model::clock::Clock;

use chrono::Utc;

use crate::config::Config;
use crate::model::metric::ResultDetails;
use crate::model::options::BenchOptions;
use crate::model::records::{
    BenchStatus, BenchmarkResult, Fingerprint, QuietGateRecord, RunRecord, RunStatus,
    SoftwareEnvironment, Trigger,
};
use crate::model::units::ConfigDuration;
use crate::stats;
use crate::store::{Store, StoreError};
use crate::workload::{CancelToken, LatencyRecorder, Workload, WorkloadContext, WorkloadError};

/// How sampling of one benchmark ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplingEnd {
    Completed,
    Cancelled,
    Failed(String),
}

/// The raw outcome of sampling one workload.
pub struct Sampling {
    pub samples: Vec<f64>,
    pub warmup_samples: usize,
    pub iterations_per_sample: u64,
    pub budget_exhausted: bool,
    pub end: SamplingEnd,
    pub latencies: LatencyRecorder,
    pub details: Option<ResultDetails>,
}

fn target_sample_time(options: &BenchOptions) -> Duration {
    let per = options.min_time / (4 * options.samples.max(1)) as u32;
    per.clamp(Duration::from_millis(10), Duration::from_secs(1))
}

fn iterations_for(target: Duration, iterations: u64, took: Duration) -> u64 {
    if took.is_zero() {
        return iterations.saturating_mul(10).min(1 << 30);
    }
    let scaled = iterations as f64 * target.as_secs_f64() / took.as_secs_f64();
    (scaled.round() as u64).clamp(1, 1 << 30)
}

/// Warm-up and sampling of one workload whose `setup` already ran. `on_sample` is called
/// after each kept sample with the value.
pub fn sample_workload(
    workload: &mut dyn Workload,
    options: &BenchOptions,
    clock: &dyn Clock,
    cancel: &CancelToken,
    on_sample: &mut dyn FnMut(f64),
) -> Sampling {
    let metric = workload.metric();
    let target = target_sample_time(options);
    let mut latencies = LatencyRecorder::new();
    let mut out = Sampling {
        samples: Vec::with_capacity(options.samples * 2),
        warmup_samples: 0,
        iterations_per_sample: 1,
        budget_exhausted: false,
        end: SamplingEnd::Completed,
        latencies: LatencyRecorder::new(),
        details: None,
    };
    let begin = clock.elapsed();
    let mut iterations = 1u64;

    // Calibration and warm-up: results discarded.
    loop {
        if cancel.is_cancelled() {
            out.end = SamplingEnd::Cancelled;
            return out;
        }
        let t0 = clock.elapsed();
        if let Err(e) = workload.run(iterations, &mut latencies) {
            out.end = fail(e);
            return out;
        }
        let took = clock.elapsed().saturating_sub(t0);
        out.warmup_samples += 1;
        iterations = iterations_for(target, iterations, took);
        if clock.elapsed().saturating_sub(begin) >= options.warmup {
            break;
        }
    }
    latencies.clear();
    workload.warmup_done();
    out.iterations_per_sample = iterations;

    // Two clock reads per sample: before and after `run`. The read after one sample also
    // serves the stop checks before the next, so nothing else touches the clock.
    let sampling_start = clock.elapsed();
    let mut now = sampling_start;
    loop {
        if out.samples.len() >= options.samples
            && now.saturating_sub(sampling_start) >= options.min_time
        {
            break;
        }
        if now.saturating_sub(begin) >= options.time_budget {
            out.budget_exhausted = true;
            break;
        }
        if cancel.is_cancelled() {
            out.end = SamplingEnd::Cancelled;
            break;
        }
        let t0 = clock.elapsed();
        let units = match workload.run(iterations, &mut latencies) {
            Ok(units) => units,
            Err(e) => {
                out.end = fail(e);
                break;
            }
        };
        now = clock.elapsed();
        let took = now.saturating_sub(t0).max(Duration::from_nanos(1));
        let value = metric.value(units, iterations, took.as_secs_f64());
        if value.is_finite() {
            out.samples.push(value);
            on_sample(value);
        }
    }
    out.latencies = latencies;
    out.details = workload.details();
    out
}

fn fail(error: WorkloadError) -> SamplingEnd {
    match error {
        WorkloadError::Cancelled => SamplingEnd::Cancelled,
        WorkloadError::Finished => SamplingEnd::Completed,
        other => SamplingEnd::Failed(other.to_string()),
    }
}

/// One benchmark to run: its name, a built workload and its options.
pub struct BenchmarkPlan {
    pub name: String,
    pub kind: String,
    pub config_hash: String,
    pub options: BenchOptions,
    pub workload: Box<dyn Workload>,
}

/// Why a suite could not be planned: a usage error, reported before anything is opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    #[error(transparent)]
    UnknownSuite(#[from] crate::config::UnknownSuite),
    #[error(
        "suite \"{suite}\" has no benchmark \"{benchmark}\" (it has: {})",
        benchmarks.join(", ")
    )]
    NotInSuite {
        suite: String,
        benchmark: String,
        benchmarks: Vec<String>,
    },
    #[error(
        "{} not started: load tests do not run inside the blackout window \"{window}\" ([load] blackout)",
        held_back.join(", ")
    )]
    InBlackout {
        held_back: Vec<String>,
        window: String,
    },
}

impl BenchmarkPlan {
    /// Plans the benchmarks of `suite` (all of them, or only `only` when not empty).
    pub(crate) fn for_suite(
        config: &Config,
        suite: &str,
        only: &[String],
        quick: bool,
    ) -> Result<Vec<BenchmarkPlan>, PlanError> {
        let suite = config.suite(suite)?;
        for name in only {
            if !suite.benchmarks.contains(name) {
                return Err(PlanError::NotInSuite {
                    suite: suite.name.clone(),
                    benchmark: name.clone(),
                    benchmarks: suite.benchmarks.clone(),
                });
            }
        }
        // Load tests do not start inside a blackout window ([load] blackout).
        let now = Utc::now().with_timezone(
            &config
                .daemon
                .timezone
                .unwrap_or_else(crate::scheduler::host_timezone),
        );
        let blackout = config.load.blackout_at(&now.naive_local());
        let mut held_back = Vec::new();
        let plans: Vec<BenchmarkPlan> = suite
            .benchmarks
            .iter()
            .filter(|b| only.is_empty() || only.contains(b))
            .filter(|name| {
                let is_load = config.benchmarks[*name].workload.is_load_test();
                if let (true, Some(window)) = (is_load, blackout) {
                    tracing::warn!(benchmark = %name, blackout = %window.text, "load test not started: inside a blackout window");
                    held_back.push(name.to_string());
                    return false;
                }
                true
            })
            .map(|name| {
                let bench = &config.benchmarks[name];
                BenchmarkPlan {
                    name: name.clone(),
                    kind: bench.workload.kind().to_string(),
                    config_hash: bench.workload.config_hash(),
                    options: if quick {
                        bench.options.quick()
                    } else {
                        bench.options.clone()
                    },
                    workload: bench.workload.build(),
                }
            })
            .collect();
        if plans.is_empty() && !held_back.is_empty() {
            return Err(PlanError::InBlackout {
                held_back,
                window: blackout.map(|b| b.text.clone()).unwrap_or_default(),
            });
        }
        Ok(plans)
    }
}

/// Progress reporting; the CLI shows a bar on a terminal and logs otherwise.
pub trait RunObserver {
    /// Before the first benchmark: everything the run will measure, in order.
    fn suite_planned(&mut self, _plans: &[BenchmarkPlan]) {}
    fn run_started(&mut self, _run: &RunRecord) {}
    fn benchmark_started(&mut self, _index: usize, _total: usize, _plan: &BenchmarkPlan) {}
    fn sample_taken(&mut self, _count: usize, _target: usize) {}
    fn benchmark_finished(&mut self, _result: &BenchmarkResult) {}
}

/// An observer that does nothing.
pub struct Silent;
impl RunObserver for Silent {}

/// What a run needs besides the plans.
pub struct RunContext<'a> {
    pub store: &'a Store,
    pub suite: String,
    pub quick: bool,
    pub fingerprint: Fingerprint,
    /// The software environment the run is measured under (recorded, never compared).
    pub environment: SoftwareEnvironment,
    pub host: String,
    pub clock: Arc<dyn Clock>,
    pub cancel: CancelToken,
    /// What started the run, and the quiet-host gate's decision (daemon runs only).
    pub trigger: Trigger,
    pub gate: Option<QuietGateRecord>,
    /// For a confirmation run: the run whose suspicion it re-measures.
    pub confirms: Option<u64>,
}

/// Everything a finished (or interrupted) run produced.
pub struct RunOutcome {
    pub run: RunRecord,
    pub results: Vec<BenchmarkResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot prepare scratch space {path}: {source}")]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

enum WorkerEvent {
    Sample,
    Done(Box<Sampling>, Option<String>),
}

/// Runs every plan in order and stores each result as soon as it is measured.
pub fn run_suite(
    ctx: &RunContext,
    plans: Vec<BenchmarkPlan>,
    observer: &mut dyn RunObserver,
) -> Result<RunOutcome, RunError> {
    let fingerprint_hash = fingerprint::hash(&ctx.fingerprint);
    ctx.store
        .put_fingerprint(&fingerprint_hash, &ctx.fingerprint)?;
    let environment_hash = environment::hash(&ctx.environment);
    ctx.store
        .put_environment(&environment_hash, &ctx.environment)?;
    let scratch_root = ctx.store.state_dir().join("scratch");
    // Only one process can hold the database, so any scratch left here is from a crash.
    remove_dir_if_present(&scratch_root);

    let snapshot = snapshot::SnapshotProbe::start();
    let mut started = RunRecord::started(
        &ctx.suite,
        ctx.quick,
        ctx.clock.now(),
        &ctx.host,
        fingerprint_hash.clone(),
        Some(environment_hash),
        plans.iter().map(|p| p.name.clone()).collect(),
        ctx.trigger,
        ctx.gate.clone(),
    );
    started.confirms = ctx.confirms;
    let mut run = ctx.store.begin_run(started)?;
    observer.suite_planned(&plans);
    observer.run_started(&run);
    ctx.store.put_snapshot(run.id, &snapshot.partial())?;
    tracing::info!(run = run.id, suite = %run.suite, benchmarks = plans.len(), "run started");

    let total = plans.len();
    let mut results = Vec::with_capacity(total);
    let mut interrupted = false;
    for (index, plan) in plans.into_iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            interrupted = true;
            break;
        }
        observer.benchmark_started(index, total, &plan);
        let scratch = scratch_root
            .join(format!("run-{}", run.id))
            .join(&plan.name);
        let (result, samples) = measure(ctx, &run, &fingerprint_hash, plan, &scratch, observer)?;
        remove_dir_if_present(&scratch);
        ctx.store.put_result(&result, &samples)?;
        tracing::info!(
            run = run.id,
            benchmark = %result.benchmark,
            status = result.status.as_str(),
            median = result.primary().unwrap_or(f64::NAN),
            "result stored"
        );
        observer.benchmark_finished(&result);
        if result.status == BenchStatus::Interrupted {
            interrupted = true;
        }
        results.push(result);
        if interrupted {
            break;
        }
    }
    remove_dir_if_present(&scratch_root);

    run.finished_at = Some(ctx.clock.now());
    run.status = if interrupted || ctx.cancel.is_cancelled() {
        run.note = Some("stopped by a signal; finished benchmarks were kept".into());
        RunStatus::Interrupted
    } else if results.iter().any(|r| r.status != BenchStatus::Ok) {
        RunStatus::Failed
    } else {
        RunStatus::Success
    };
    ctx.store.put_snapshot(run.id, &snapshot.finish())?;
    ctx.store.update_run(&run)?;
    tracing::info!(run = run.id, status = run.status.as_str(), "run finished");
    Ok(RunOutcome { run, results })
}

fn remove_dir_if_present(path: &Path) {
    if path.exists() {
        if let Err(e) = std::fs::remove_dir_all(path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove scratch space");
        }
    }
}

/// Runs one plan on a worker thread under its hard timeout.
fn measure(
    ctx: &RunContext,
    run: &RunRecord,
    fingerprint_hash: &str,
    plan: BenchmarkPlan,
    scratch: &Path,
    observer: &mut dyn RunObserver,
) -> Result<(BenchmarkResult, Vec<f64>), RunError> {
    let started_at = ctx.clock.now();
    let wall = Instant::now();
    std::fs::create_dir_all(scratch).map_err(|source| RunError::Scratch {
        path: scratch.to_path_buf(),
        source,
    })?;
    let bench_cancel = ctx.cancel.child();
    let workload_ctx = WorkloadContext {
        scratch_dir: scratch.to_path_buf(),
        cancel: bench_cancel.clone(),
        available_cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let metric = plan.workload.metric();
    let options = plan.options.clone();
    let target = options.samples;
    let (tx, rx) = mpsc::channel::<WorkerEvent>();
    let clock = ctx.clock.clone();
    let worker_options = options.clone();
    let worker_cancel = bench_cancel.clone();
    let mut workload = plan.workload;
    let spawned = std::thread::Builder::new()
        .name(format!("bench-{}", plan.name))
        .spawn(move || {
            let mut teardown_error = None;
            let sampling = match workload.setup(&workload_ctx) {
                Err(e) => Sampling {
                    samples: Vec::new(),
                    warmup_samples: 0,
                    iterations_per_sample: 0,
                    budget_exhausted: false,
                    end: SamplingEnd::Failed(format!("setup failed: {e}")),
                    latencies: LatencyRecorder::new(),
                    details: None,
                },
                Ok(()) => {
                    let sample_tx = tx.clone();
                    sample_workload(
                        workload.as_mut(),
                        &worker_options,
                        clock.as_ref(),
                        &worker_cancel,
                        &mut |_| {
                            let _ = sample_tx.send(WorkerEvent::Sample);
                        },
                    )
                }
            };
            if let Err(e) = workload.teardown() {
                teardown_error = Some(format!("teardown failed: {e}"));
            }
            drop(workload);
            let _ = tx.send(WorkerEvent::Done(Box::new(sampling), teardown_error));
        });

    let mut samples_seen = 0usize;
    let deadline = wall + options.timeout;
    let mut finished: Option<(Sampling, Option<String>)> = None;
    let mut timed_out = false;
    let mut panicked = spawned.is_err();
    while !panicked {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(WorkerEvent::Sample) => {
                samples_seen += 1;
                observer.sample_taken(samples_seen, target);
            }
            Ok(WorkerEvent::Done(sampling, teardown)) => {
                finished = Some((*sampling, teardown));
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bench_cancel.cancel();
                timed_out = true;
                // Give the workload a moment to stop at its next check and hand back
                // its samples; a stuck system call cannot be interrupted, so do not wait
                // longer than that.
                let grace = Instant::now() + Duration::from_secs(2);
                while let Ok(event) =
                    rx.recv_timeout(grace.saturating_duration_since(Instant::now()))
                {
                    if let WorkerEvent::Done(sampling, teardown) = event {
                        finished = Some((*sampling, teardown));
                        break;
                    }
                }
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panicked = true,
        }
    }

    let (mut status, mut error, sampling) = match (finished, timed_out, panicked) {
        (_, _, true) => (
            BenchStatus::Failed,
            Some("the workload panicked (a bug in perfwarden; please report it)".to_string()),
            None,
        ),
        (sampling, true, _) => (
            BenchStatus::TimedOut,
            Some(format!(
                "timed out after {} (timeout); samples taken before were kept",
                ConfigDuration(options.timeout)
            )),
            sampling.map(|(s, _)| s),
        ),
        (Some((sampling, teardown)), false, false) => {
            let (status, error) = match &sampling.end {
                SamplingEnd::Completed => (BenchStatus::Ok, None),
                SamplingEnd::Cancelled => (BenchStatus::Interrupted, None),
                SamplingEnd::Failed(message) => (BenchStatus::Failed, Some(message.clone())),
            };
            (status, error.or(teardown), Some(sampling))
        }
        (None, false, false) => unreachable!("the loop ends with a result, a timeout or a panic"),
    };
    if status == BenchStatus::Ok && error.is_some() {
        status = BenchStatus::Failed;
    }
    let sampling = sampling.unwrap_or_else(|| Sampling {
        samples: Vec::new(),
        warmup_samples: 0,
        iterations_per_sample: 0,
        budget_exhausted: false,
        end: SamplingEnd::Cancelled,
        latencies: LatencyRecorder::new(),
        details: None,
    });
    let summary = (!sampling.samples.is_empty()).then(|| stats::summarize(&sampling.samples));
    let latency = sampling.latencies.summary();
    let samples = sampling.samples;
    if status == BenchStatus::Ok && samples.len() < 2 {
        status = BenchStatus::Failed;
        error = Some(format!(
            "only {} sample(s) within the time budget of {}; raise time_budget",
            samples.len(),
            ConfigDuration(options.time_budget)
        ));
    }
    let result = BenchmarkResult {
        run_id: run.id,
        benchmark: plan.name,
        kind: plan.kind,
        config_hash: plan.config_hash,
        fingerprint: fingerprint_hash.to_string(),
        metric,
        status,
        error,
        started_at,
        duration_secs: wall.elapsed().as_secs_f64(),
        iterations_per_sample: sampling.iterations_per_sample,
        warmup_samples: sampling.warmup_samples,
        budget_exhausted: sampling.budget_exhausted,
        options,
        summary,
        latency,
        details: sampling.details,
        quick: ctx.quick,
        busy_host: run
            .gate
            .as_ref()
            .is_some_and(|g| g.outcome == crate::model::records::GateOutcome::Noisy),
    };
    Ok((result, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric::MetricDef;
    use crate::workload::fake::{FakeClock, FakeStep, FakeWorkload};

    fn options(samples: usize, warmup_ms: u64, min_ms: u64, budget_ms: u64) -> BenchOptions {
        BenchOptions {
            samples,
            warmup: Duration::from_millis(warmup_ms),
            min_time: Duration::from_millis(min_ms),
            time_budget: Duration::from_millis(budget_ms),
            timeout: Duration::from_secs(60),
            tolerance: 0.05,
            major: 0.15,
            critical: 0.30,
            slo: Vec::new(),
        }
    }

    #[test]
    fn samples_until_count_and_min_time_are_met() {
        let clock = FakeClock::new();
        let mut w = FakeWorkload::new(
            MetricDef::duration("op"),
            clock.clone(),
            vec![FakeStep::Take(Duration::from_millis(1))],
        );
        // target sample = 1000ms / (4*10) = 25ms → 25 iterations of 1 ms.
        let s = sample_workload(
            &mut w,
            &options(10, 100, 1000, 10_000),
            &clock,
            &CancelToken::new(),
            &mut |_| {},
        );
        assert_eq!(s.end, SamplingEnd::Completed);
        assert_eq!(s.iterations_per_sample, 25);
        assert_eq!(s.samples.len(), 40, "1000 ms of 25 ms samples");
        assert!(s.samples.iter().all(|v| (*v - 0.001).abs() < 1e-12));
        assert!(!s.budget_exhausted);
    }

    #[test]
    fn throughput_is_units_over_time() {
        let clock = FakeClock::new();
        let mut w = FakeWorkload::new(
            MetricDef::throughput("op"),
            clock.clone(),
            vec![FakeStep::Take(Duration::from_millis(2))],
        );
        let s = sample_workload(
            &mut w,
            &options(5, 0, 100, 10_000),
            &clock,
            &CancelToken::new(),
            &mut |_| {},
        );
        assert!(
            s.samples.iter().all(|v| (*v - 500.0).abs() < 1e-9),
            "{:?}",
            s.samples
        );
    }

    #[test]
    fn budget_stops_sampling_and_is_flagged() {
        let clock = FakeClock::new();
        let mut w = FakeWorkload::new(
            MetricDef::duration("op"),
            clock.clone(),
            vec![FakeStep::Take(Duration::from_millis(100))],
        );
        let s = sample_workload(
            &mut w,
            &options(100, 0, 60_000, 1_000),
            &clock,
            &CancelToken::new(),
            &mut |_| {},
        );
        assert!(s.budget_exhausted);
        assert!(s.samples.len() < 100);
        // 100 ms calibration, then 100 ms samples (target 60 s / 400 = 150 ms → 1.5, rounded
        // to 1 iteration of 100 ms) until the 1 s budget: 9 samples.
        assert_eq!(s.samples.len(), 9);
    }

    #[test]
    fn cancel_stops_at_the_next_sample_and_keeps_samples() {
        let clock = FakeClock::new();
        let cancel = CancelToken::new();
        let step = Duration::from_millis(10);
        let mut steps = vec![FakeStep::Take(step); 4];
        steps.push(FakeStep::Cancel(cancel.clone(), step));
        let mut w = FakeWorkload::new(MetricDef::duration("op"), clock.clone(), steps);
        let s = sample_workload(
            &mut w,
            &options(50, 0, 10_000, 60_000),
            &clock,
            &cancel,
            &mut |_| {},
        );
        assert_eq!(s.end, SamplingEnd::Cancelled);
        // 1 calibration call, then samples 1..4; the 4th sample call cancels and is kept.
        assert_eq!(s.samples.len(), 4);
    }

    #[test]
    fn failure_is_reported_not_panicked() {
        let clock = FakeClock::new();
        let mut w = FakeWorkload::new(
            MetricDef::duration("op"),
            clock.clone(),
            vec![
                FakeStep::Take(Duration::from_millis(1)),
                FakeStep::Fail("disk full".into()),
            ],
        );
        let s = sample_workload(
            &mut w,
            &options(5, 0, 10, 1000),
            &clock,
            &CancelToken::new(),
            &mut |_| {},
        );
        assert_eq!(s.end, SamplingEnd::Failed("disk full".into()));
    }

    #[test]
    fn calibration_scales_iterations() {
        assert_eq!(
            iterations_for(Duration::from_millis(100), 1, Duration::from_millis(1)),
            100
        );
        assert_eq!(
            iterations_for(Duration::from_millis(10), 1, Duration::from_millis(50)),
            1
        );
    }
}
