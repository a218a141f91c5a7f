//! `perfwarden baseline show [BENCH] | pin RUN_ID | reset BENCH | accept BENCH`.
//!
//! - `show`: the runs each benchmark's next verdict will compare against;
//! - `pin RUN_ID`: every benchmark of that run uses baselines from that run on;
//! - `reset BENCH`: forget the baseline; it rebuilds from the next run (closes an open
//!   regression as `reset`);
//! - `accept BENCH`: a confirmed regression is the new normal: it is closed as `accepted`
//!   and the baseline restarts at its first run.

use super::{CommandError, Globals, Outcome, nothing_stored};
use crate::config::Config;
use crate::detect::baseline::{self, AgeLimits, MIN_BASELINE_RUNS};
use crate::detect::verdict::{self, BenchmarkPast};
use crate::model::verdict::{Ending, RegressionState};
use crate::report::{BaselineReport, BaselineView};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BaselineCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BaselineCommand {
    /// Show the baseline of one benchmark, or of every benchmark with results
    Show { benchmark: Option<String> },
    /// Use baselines starting at this run for every benchmark in it
    Pin { run_id: u64 },
    /// Forget a benchmark's baseline; it rebuilds from the next run
    Reset { benchmark: String },
    /// Make a confirmed regression's level the new baseline
    Accept { benchmark: String },
}

/// The store, read-only for `show` and writable for the commands that change baselines.
fn open_store(globals: &Globals, writes: bool) -> Result<std::sync::Arc<Store>, CommandError> {
    let store = if writes {
        globals.open_store_for_writing()?
    } else {
        globals.open_store_for_reading()?
    };
    let store =
        store.ok_or_else(|| CommandError::usage(nothing_stored(&globals.state_dir(None))))?;
    // Closing a confirmed regression resolves its alert: the event goes to the outbox when
    // OTLP export is configured (the daemon's store already knows; it delivers it).
    if globals.served.is_none() {
        if let Ok(config) = globals.load_config() {
            let otlp = crate::export::otlp_settings(&config);
            store.set_outbox_enabled(crate::export::keeps_outbox(&otlp));
        }
    }
    Ok(store)
}

fn known_benchmark(store: &Store, benchmark: &str) -> Result<(), CommandError> {
    let known = store.benchmark_names()?;
    if known.iter().any(|b| b == benchmark) {
        Ok(())
    } else {
        Err(CommandError::usage(format!(
            "no results for benchmark \"{benchmark}\" (benchmarks with results: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )))
    }
}

fn view(
    store: &Store,
    config: &Config,
    ages: &AgeLimits,
    benchmark: &str,
) -> Result<Option<BaselineView>, CommandError> {
    let past = BenchmarkPast::read(store, benchmark)?;
    let Some(latest) = past.history.last() else {
        return Ok(None);
    };
    // The baseline the *next* run would use: as if a run came after the latest one.
    let now = chrono::Utc::now();
    let mut next = latest.clone();
    next.run_id = store.next_run_id()?;
    next.started_at = now;
    let max_age = ages.of(benchmark);
    let runs = verdict::select_baseline(store, &past, &next, max_age)?;
    let times: Vec<_> = past
        .baseline_results(&next, max_age)
        .iter()
        .map(|r| r.started_at)
        .collect();
    let upcoming = baseline::upcoming_runs(config, benchmark, now, 12);
    let medians: Vec<f64> = runs.iter().map(|r| r.median).collect();
    let cv = verdict::run_to_run_cv(&runs);
    let tolerance = latest.options.tolerance;
    let mdc = verdict::minimum_detectable_change(&runs, latest.metric.direction, tolerance);
    Ok(Some(BaselineView {
        benchmark: benchmark.to_string(),
        unit: latest.metric.display_unit(),
        metric: latest.metric.clone(),
        config_hash: latest.config_hash.clone(),
        fingerprint: latest.fingerprint.clone(),
        runs: runs.iter().map(|r| r.run_id).collect(),
        median: (!medians.is_empty()).then(|| crate::stats::median(&medians)),
        run_medians: medians,
        run_to_run_cv: cv,
        starts_at_run: store.baseline_start(benchmark)?,
        sufficient: runs.len() >= MIN_BASELINE_RUNS,
        next_verdict: baseline::next_verdict(&times, max_age, &upcoming, now),
        age_limit_days: max_age.num_seconds() as f64 / 86_400.0,
        tolerance,
        minimum_detectable_change: mdc,
        too_noisy: mdc.is_some_and(|m| m > tolerance + 1e-12),
        open_regression: past.open,
    }))
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let writes = !matches!(args.command, BaselineCommand::Show { .. });
    let store = open_store(globals, writes)?;
    match args.command {
        BaselineCommand::Show { benchmark } => {
            let names = match benchmark {
                Some(name) => {
                    known_benchmark(&store, &name)?;
                    vec![name]
                }
                None => store.benchmark_names()?,
            };
            let config = globals.load_config()?;
            let ages = AgeLimits::from_config(&config);
            let mut baselines = Vec::new();
            for name in names {
                if let Some(v) = view(&store, &config, &ages, &name)? {
                    baselines.push(v);
                }
            }
            let report = BaselineReport { baselines };
            Ok(Outcome::ok(globals.render(&report)?))
        }
        BaselineCommand::Pin { run_id } => {
            let results = store.results(run_id)?;
            if store.run(run_id)?.is_none() {
                return Err(CommandError::usage(format!(
                    "no run {run_id}; `perfwarden runs` lists the stored runs"
                )));
            }
            for r in &results {
                store.set_baseline_start(&r.benchmark, run_id)?;
            }
            Ok(Outcome::ok(format!(
                "baselines of {} benchmark(s) now start at run {run_id}\n",
                results.len()
            )))
        }
        BaselineCommand::Reset { benchmark } => {
            known_benchmark(&store, &benchmark)?;
            let next = store.next_run_id()?;
            store.set_baseline_start(&benchmark, next)?;
            close_open(&store, &benchmark, Ending::Reset, next)?;
            Ok(Outcome::ok(format!(
                "baseline of {benchmark} reset: it rebuilds from run {next} on ({MIN_BASELINE_RUNS} runs until verdicts resume)\n"
            )))
        }
        BaselineCommand::Accept { benchmark } => {
            known_benchmark(&store, &benchmark)?;
            let open = store
                .open_regressions()?
                .into_iter()
                .find(|r| r.benchmark == benchmark);
            let Some(regression) = open else {
                return Err(CommandError::usage(format!(
                    "{benchmark} has no open regression to accept (`perfwarden regressions` lists them)"
                )));
            };
            if regression.state != RegressionState::Confirmed {
                return Err(CommandError::usage(format!(
                    "the regression of {benchmark} is only suspected; accept it once a second run confirms it, or `baseline reset` it"
                )));
            }
            store.set_baseline_start(&benchmark, regression.first_run)?;
            close_open(&store, &benchmark, Ending::Accepted, regression.last_run)?;
            Ok(Outcome::ok(format!(
                "accepted: the level of {benchmark} since run {} is its new baseline\n",
                regression.first_run
            )))
        }
    }
}

fn close_open(
    store: &Store,
    benchmark: &str,
    how: Ending,
    at_run: u64,
) -> Result<(), CommandError> {
    if let Some(mut r) = store
        .open_regressions()?
        .into_iter()
        .find(|r| r.benchmark == benchmark)
    {
        r.ended = Some(how);
        r.ended_run = Some(at_run);
        let how_text = match how {
            Ending::Accepted => "accepted",
            Ending::Reset => "reset",
            Ending::Resolved => "resolved",
            Ending::EnvironmentChanged => "closed_environment_changed",
        };
        let events: Vec<_> = crate::model::event::regression_closed(
            &crate::scheduler::splay::host_id(),
            &r,
            how_text,
            chrono::Utc::now(),
        )
        .into_iter()
        .collect();
        store.put_verdicts(&[], &[(benchmark.to_string(), None)], &[r], &events)?;
    }
    Ok(())
}
