//! Regression verdicts: is this result worse than the benchmark's baseline, how much, and
//! is it confirmed?
//!
//! **Baseline**: see [`super::baseline`] — the last 10 clean, comparable runs within an age
//! limit that follows the schedule. Fewer than 5 → `insufficient_baseline`, and only a
//! critical change can alert (on a busy host, only against at least 3 runs). No comparable run but history on
//! other hardware → `new_epoch`: an environment notice, never a regression.
//!
//! **Gates**, all in the metric's worse direction ([`judge`]):
//! 1. sample level — one-sided Mann-Whitney U (normal approximation, ≥ 10 samples per
//!    side) of the current samples against the pooled baseline samples, p-values adjusted
//!    with Benjamini-Hochberg across the benchmarks of the run; adjusted p < 0.05;
//! 2. run level — the current median lies beyond the one-sided 99% prediction bound of
//!    the baseline runs' medians (absorbs run-to-run noise that samples cannot show);
//! 3. practical — the change is at least the tolerance: max(configured tolerance, three
//!    times the run-to-run coefficient of variation of the baseline medians);
//! 4. effect — the change's seeded bootstrap 95% interval, its lower bound widened in
//!    quadrature by the baseline's between-run spread (the part of the run-to-run variance
//!    that the samples do not explain). A lower bound above zero makes a change that passed
//!    gates 1-3 a **minor** regression; a lower bound from 15% makes it **major**, from 30%
//!    **critical** (per benchmark `major`, `critical`).
//!
//! So a sustained change of the tolerance is reported once the benchmark's noise lets a run
//! tell it apart: the **minimum detectable change** ([`minimum_detectable_change`]) is the
//! larger of the tolerance and the distance gates 2-3 put between the baseline and a
//! flagged run; a benchmark whose minimum is above its configured tolerance is too noisy
//! for it, and reports say so.
//!
//! A failed or timed-out benchmark that has succeeded before is a critical regression; one
//! that never succeeded is `failing`. **States**: the first run that regresses opens a
//! `suspected` regression; a later run that agrees (gates 1-3; a confirmation run minutes
//! later must lie beyond the 99.9% prediction bound, since its level shares the suspecting
//! run's disturbance) `confirms` it (a critical
//! whose lower bound is at least twice the critical threshold is confirmed at once); a worse
//! severity later `escalates` it. A suspicion clears with one run back within tolerance; a
//! confirmed regression `resolves` only after [`RESOLVING_RUNS`] consecutive runs back
//! (closer to the baseline than to the regressed level, and within the tolerance). A run on
//! a busy host judged against a baseline of mostly quiet runs can raise a suspicion but
//! neither confirm nor resolve one (its slowness may be the load); on a host that is busy
//! at every run, busy runs are its normal and are judged as usual. `--quick` runs are
//! judged for information only. Improvements are reported, never alerted.
//!
//! The change is `worse_change`: the relative change of the median turned so that
//! positive is worse (a throughput drop of 12% and a latency rise of 12% are both +0.12).

use std::collections::HashSet;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::baseline::{self, AgeLimits, Candidate, Exclusions, MIN_BASELINE_RUNS};
use super::compare::Change;
use crate::model::event::Event;
use crate::model::history::Trend;
use crate::model::metric::Direction;
use crate::model::records::{BenchStatus, BenchmarkResult, RunRecord};
use crate::model::verdict::{
    Ending, Evidence, HistoryShift, NoiseProfile, Outcome, RESOLVING_RUNS, Regression,
    RegressionState, Severity, Transition, TrendWindow, Verdict,
};
use crate::stats;
use crate::store::{Store, StoreError};

/// A run on a busy host alerts from a short baseline (under [`MIN_BASELINE_RUNS`]) only
/// with at least this many runs: fewer give no run-to-run spread to weigh the load against.
pub(crate) const MIN_RUNS_FOR_SHORT_BASELINE_ALERT: usize = 3;
/// The trend window ([`trend_window`]) spans this many days of runs...
pub(crate) const TREND_WINDOW_DAYS: i64 = 30;
/// ... or this many runs, when those days hold fewer.
pub(crate) const MIN_TREND_RUNS: usize = 12;
/// No drift is measured over fewer runs than this.
pub(crate) const MIN_DRIFT_RUNS: usize = 5;
/// Samples per side for the Mann-Whitney gate.
pub(crate) const MIN_SAMPLES_FOR_U_TEST: usize = 10;
/// Significance of the (BH-adjusted) Mann-Whitney gate.
pub(crate) const U_TEST_ALPHA: f64 = 0.05;
/// Confidence of the one-sided prediction bound of the run-level gate.
pub(crate) const PREDICTION_LEVEL: f64 = 0.99;
/// ... for a confirmation run: minutes after the suspecting run, its level shares much of
/// that run's disturbance, so it must stand further out to count as a second witness.
pub(crate) const RERUN_PREDICTION_LEVEL: f64 = 0.999;
/// Confidence of the one-sided prediction bound beyond which a significantly worse run
/// that is not a regression is *outlying* ([`is_outlying`]) and held out of the next
/// baselines: lower than the alarm's, since holding a run out for a verdict or two costs
/// little, while letting the first runs of a step into the baseline hides the step.
pub(crate) const HOLD_PREDICTION_LEVEL: f64 = 0.95;
/// The effective tolerance is at least this many run-to-run CVs of the baseline medians: a
/// change inside three standard deviations of a benchmark's run-to-run noise is not told
/// apart from it reliably enough for a 50-benchmark suite.
pub(crate) const NOISE_TOLERANCE_FACTOR: f64 = 3.0;

/// Change points over the comparable history of `result` up to it, and its drift over the
/// trend window ([`trend_window`]; runs older than `max_age` never enter it).
fn history_findings(
    history: &[BenchmarkResult],
    result: &BenchmarkResult,
    max_age: ChronoDuration,
) -> HistoryFindings {
    let comparable: Vec<&BenchmarkResult> = history
        .iter()
        .filter(|r| {
            r.run_id <= result.run_id && baseline::comparable(r, result) && baseline::clean(r)
        })
        .filter(|r| r.primary().is_some())
        .collect();
    let medians: Vec<f64> = comparable.iter().filter_map(|r| r.primary()).collect();
    let times: Vec<DateTime<Utc>> = comparable.iter().map(|r| r.started_at).collect();
    let mut findings = series_findings(
        &medians,
        &times,
        max_age,
        result.metric.direction,
        result.options.tolerance,
    );
    for shift in &mut findings.shifts {
        shift.run_id = comparable[shift.point.point.index].run_id;
    }
    findings
}

/// The history analysis of one benchmark's run medians (at `times`, oldest first, the
/// judged run last): what [`history_findings`] stores with a verdict, and what the
/// evaluation of the shipped schedules measures.
pub(crate) fn series_findings(
    medians: &[f64],
    times: &[DateTime<Utc>],
    max_age: ChronoDuration,
    direction: Direction,
    tolerance: f64,
) -> HistoryFindings {
    let start = trend_window(times, max_age);
    let analysis = crate::detect::history::analyze(medians, None, direction, tolerance);
    let shifts = analysis
        .change_points
        .into_iter()
        .map(|point| HistoryShift {
            recent: point.point.index >= start,
            run_id: point.point.index as u64,
            point,
        })
        .collect();
    let window = &medians[start..];
    let (drift, drift_window) = if window.len() >= MIN_DRIFT_RUNS {
        let first = times[start];
        let seconds: Vec<f64> = times[start..]
            .iter()
            .map(|t| (*t - first).num_milliseconds() as f64 / 1000.0)
            .collect();
        let trend =
            crate::detect::history::analyze(window, Some(&seconds), direction, tolerance).trend;
        let days = seconds.last().copied().unwrap_or(0.0) / 86_400.0;
        (
            trend,
            Some(TrendWindow {
                runs: window.len(),
                days,
            }),
        )
    } else {
        (None, None)
    };
    HistoryFindings {
        shifts,
        drift,
        drift_window,
    }
}

/// What the history analysis stores with a verdict. From [`series_findings`], a shift's
/// `run_id` is the index of its first run in the series; [`history_findings`] maps it to
/// the run.
pub(crate) struct HistoryFindings {
    pub shifts: Vec<HistoryShift>,
    pub drift: Option<Trend>,
    pub drift_window: Option<TrendWindow>,
}

/// The index of the first run of the **trend window** in `times` (oldest first, the judged
/// run last): the runs of the last [`TREND_WINDOW_DAYS`] days, reaching further back to the
/// last [`MIN_TREND_RUNS`] runs when those days hold fewer, and never to a run older than
/// `max_age` (the baseline's age limit). So a benchmark of a daily suite is trended over 30
/// days, one that only the weekly suite runs over its last 12 weeks and a monthly one over
/// its last 12 months: a weekly suite puts 4–5 runs in 30 days, too few for a drift to be
/// told from noise.
pub(crate) fn trend_window(times: &[DateTime<Utc>], max_age: ChronoDuration) -> usize {
    let Some(&now) = times.last() else {
        return 0;
    };
    let since = |age: ChronoDuration| times.partition_point(|t| *t < now - age);
    let by_days = since(ChronoDuration::days(TREND_WINDOW_DAYS));
    let by_runs = times.len().saturating_sub(MIN_TREND_RUNS);
    by_days.min(by_runs).max(since(max_age))
}

/// One baseline run: id, median and samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BaselineRun {
    pub run_id: u64,
    pub median: f64,
    pub samples: Vec<f64>,
}

/// What the gates say about one result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judgement {
    pub outcome: Outcome,
    pub severity: Option<Severity>,
    /// A critical far beyond the threshold is confirmed without waiting for a second run.
    pub confirm_at_once: bool,
    pub evidence: Option<Evidence>,
    pub explanation: String,
}

/// Thresholds of one benchmark, fractions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Thresholds {
    pub tolerance: f64,
    pub major: f64,
    pub critical: f64,
}

fn pct(v: f64) -> String {
    format!("{:+.1}%", v * 100.0)
}

/// Coefficient of variation of the baseline runs' medians; `None` under 2 runs.
pub(crate) fn run_to_run_cv(baseline: &[BaselineRun]) -> Option<f64> {
    let medians: Vec<f64> = baseline.iter().map(|b| b.median).collect();
    (medians.len() >= 2).then(|| {
        let m = stats::mean(&medians);
        if m == 0.0 {
            0.0
        } else {
            stats::std_dev(&medians) / m.abs()
        }
    })
}

/// The sampling spread of one run's median, as a fraction of the level: the root mean
/// square over the baseline runs of each median's distribution-free standard error
/// ([`stats::median_standard_error`]) relative to that median; 0 when no run has enough
/// samples.
fn median_sampling_cv(baseline: &[BaselineRun]) -> f64 {
    let relative: Vec<f64> = baseline
        .iter()
        .filter(|b| b.median != 0.0)
        .filter_map(|b| stats::median_standard_error(&b.samples).map(|se| se / b.median.abs()))
        .filter(|r| r.is_finite())
        .map(|r| r * r)
        .collect();
    if relative.is_empty() {
        0.0
    } else {
        stats::mean(&relative).sqrt()
    }
}

/// Mann-Whitney p-value of "current is worse than baseline", when both sides have enough
/// samples.
pub(crate) fn u_test_p(
    baseline: &[BaselineRun],
    current: &[f64],
    direction: Direction,
) -> Option<f64> {
    let pooled: Vec<f64> = baseline
        .iter()
        .flat_map(|b| b.samples.iter().copied())
        .collect();
    if pooled.len() < MIN_SAMPLES_FOR_U_TEST || current.len() < MIN_SAMPLES_FOR_U_TEST {
        return None;
    }
    let result = match direction {
        // Worse = current smaller: baseline stochastically greater.
        Direction::HigherIsBetter => stats::mann_whitney_greater(&pooled, current),
        Direction::LowerIsBetter => stats::mann_whitney_greater(current, &pooled),
    };
    Some(result.map_or(1.0, |r| r.p))
}

/// Everything [`judge`] looks at for one result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JudgeInput<'a> {
    pub baseline: &'a [BaselineRun],
    pub current: &'a [f64],
    pub direction: Direction,
    pub thresholds: Thresholds,
    /// Mann-Whitney p-value, raw and after Benjamini-Hochberg.
    pub raw_p: Option<f64>,
    pub adjusted_p: Option<f64>,
    /// The benchmark has an open regression: this run only has to agree with it.
    pub agreeing: bool,
    /// The host was busy before the run.
    pub busy_host: bool,
    /// A confirmation run (the run-level gate uses [`RERUN_PREDICTION_LEVEL`]).
    pub rerun: bool,
    pub seed: u64,
}

/// The smallest sustained change one run can flag at the baseline's noise, a fraction: the
/// configured tolerance, or the distance from the baseline to the prediction bound (gate 2)
/// or three run-to-run CVs (gate 3) when the noise puts them further out. `None` under
/// 2 baseline runs (no spread to judge by).
pub(crate) fn minimum_detectable_change(
    baseline: &[BaselineRun],
    direction: Direction,
    configured_tolerance: f64,
) -> Option<f64> {
    let medians: Vec<f64> = baseline.iter().map(|b| b.median).collect();
    let cv = run_to_run_cv(baseline)?;
    let centre = stats::median(&medians);
    let bound = stats::prediction_bound(
        &medians,
        PREDICTION_LEVEL,
        direction == Direction::LowerIsBetter,
    )?;
    let bound_distance = if centre == 0.0 {
        0.0
    } else {
        ((bound - centre) / centre).abs()
    };
    Some(
        configured_tolerance
            .max(NOISE_TOLERANCE_FACTOR * cv)
            .max(bound_distance),
    )
}

/// Bounds of the ratio `current / baseline` from the bootstrap interval of the relative
/// change (`low`, `high` around `relative`) widened by the run-to-run `margin`, and never
/// narrower than `floor` on either side.
///
/// Run-level noise is proportional to the level (a CV), so the two parts are added in
/// quadrature on the log scale: near 1 this is the same as adding relative changes, and a
/// tenfold change stays tenfold whatever the baseline's CV (on the linear scale a 15%
/// run-to-run margin with few runs would reach past a 90% drop). Falls back to the linear
/// scale when a bound is not a positive ratio (a level at or below zero).
fn ratio_bounds(relative: f64, low: f64, high: f64, margin: f64, floor: f64) -> (f64, f64) {
    let (ratio, ratio_low, ratio_high) = (1.0 + relative, 1.0 + low, 1.0 + high);
    let widen = |half: f64| half.hypot(margin).max(floor);
    if ratio > 0.0 && ratio_low > 0.0 && ratio_high > 0.0 {
        let below = (ratio / ratio_low).ln().max(0.0);
        let above = (ratio_high / ratio).ln().max(0.0);
        (ratio * (-widen(below)).exp(), ratio * widen(above).exp())
    } else {
        let below = (relative - low).max(0.0);
        let above = (high - relative).max(0.0);
        (ratio - widen(below), ratio + widen(above))
    }
}

/// Applies the gates to one successful result.
pub(crate) fn judge(input: JudgeInput) -> Judgement {
    let JudgeInput {
        baseline,
        current,
        direction,
        thresholds,
        raw_p,
        adjusted_p,
        agreeing,
        busy_host,
        rerun,
        seed,
    } = input;
    let pooled: Vec<f64> = baseline
        .iter()
        .flat_map(|b| b.samples.iter().copied())
        .collect();
    let Some(change) = Change::between(
        baseline.iter().map(|b| b.run_id).collect(),
        &pooled,
        current,
        direction,
        seed,
    ) else {
        return Judgement {
            outcome: Outcome::InsufficientBaseline,
            severity: None,
            confirm_at_once: false,
            evidence: None,
            explanation: "no baseline yet: this run starts it".into(),
        };
    };
    let sign = match direction {
        Direction::HigherIsBetter => -1.0,
        Direction::LowerIsBetter => 1.0,
    };
    let worse_change = sign * change.relative;
    let medians: Vec<f64> = baseline.iter().map(|b| b.median).collect();
    let run_to_run_cv = run_to_run_cv(baseline);
    // The bootstrap sees only the samples; a run's level also moves from run to run by
    // more than its samples show. That extra, between-run part is the run medians'
    // variance minus the sampling variance of a median (each baseline run's
    // distribution-free standard error of its median). Its 95% prediction half-width for
    // one new run is added in quadrature to the bootstrap's half-width to give the bounds
    // of the change.
    let sampling_cv = median_sampling_cv(baseline);
    let between_cv = run_to_run_cv.map_or(0.0, |cv| {
        (cv * cv - sampling_cv * sampling_cv).max(0.0).sqrt()
    });
    // Student t: the between-run spread is estimated from the baseline's few runs.
    let runs = medians.len().max(1) as f64;
    let t = stats::t_quantile(0.975, runs - 1.0);
    // One new run's level against the baseline's: the new run's own variance plus that of
    // the baseline's centre, a median (of the pooled samples), whose variance is up to π/2
    // times that of a mean of the runs.
    let prediction_factor = (1.0 + std::f64::consts::FRAC_PI_2 / runs).sqrt();
    let run_noise_margin = t * between_cv * prediction_factor;
    // Both bounds carry the run-to-run part: the interval is that of the step between the
    // baseline's level and this run's, which one run measures only up to its own level noise.
    // And neither is closer than the classic prediction interval of one new run median from
    // the baseline's run medians (their whole spread, Student t with n - 1 degrees of
    // freedom): the split into sampling and between-run parts subtracts one estimate from
    // another, and the percentile bootstrap of a median of a few dozen samples is narrow,
    // so each part alone can fall short when the baseline's runs are few.
    let prediction_half = run_to_run_cv.map_or(0.0, |cv| t * cv * prediction_factor);
    let ratio_interval = change.interval.map(|ci| {
        ratio_bounds(
            change.relative,
            ci.low,
            ci.high,
            run_noise_margin,
            prediction_half,
        )
    });
    let (worse_low, worse_high) = match ratio_interval {
        Some((low, high)) if sign > 0.0 => (Some(low - 1.0), Some(high - 1.0)),
        Some((low, high)) => (Some(1.0 - high), Some(1.0 - low)),
        None => (None, None),
    };
    let tolerance = thresholds
        .tolerance
        .max(NOISE_TOLERANCE_FACTOR * run_to_run_cv.unwrap_or(0.0));
    let prediction_bound = stats::prediction_bound(
        &medians,
        if rerun {
            RERUN_PREDICTION_LEVEL
        } else {
            PREDICTION_LEVEL
        },
        direction == Direction::LowerIsBetter,
    );
    let beyond = prediction_bound.map(|bound| direction.is_worse(bound, change.current_median));
    let beyond_hold = stats::prediction_bound(
        &medians,
        HOLD_PREDICTION_LEVEL,
        direction == Direction::LowerIsBetter,
    )
    .map(|bound| direction.is_worse(bound, change.current_median));
    let severity = worse_low.and_then(|low| {
        if low >= thresholds.critical {
            Some(Severity::Critical)
        } else if low >= thresholds.major {
            Some(Severity::Major)
        } else if low > 0.0 && worse_change >= tolerance {
            Some(Severity::Minor)
        } else {
            None
        }
    });
    let evidence = Evidence {
        baseline_runs: change.baseline_runs.clone(),
        baseline_median: change.baseline_median,
        current_median: change.current_median,
        worse_change,
        worse_change_low: worse_low,
        worse_change_high: worse_high,
        run_noise_margin,
        run_to_run_cv,
        tolerance,
        minimum_detectable_change: minimum_detectable_change(
            baseline,
            direction,
            thresholds.tolerance,
        ),
        mann_whitney_p: raw_p,
        mann_whitney_p_adjusted: adjusted_p,
        prediction_bound,
        beyond_prediction_bound: beyond,
        beyond_hold_bound: beyond_hold,
    };
    let interval = match (worse_low, worse_high) {
        (Some(l), Some(h)) => format!(" [{}, {}]", pct(l), pct(h)),
        _ => String::new(),
    };
    let confirm_at_once = !busy_host
        && severity == Some(Severity::Critical)
        && worse_low.is_some_and(|low| low >= 2.0 * thresholds.critical);

    if baseline.len() < MIN_BASELINE_RUNS {
        if severity == Some(Severity::Critical)
            && (!busy_host || baseline.len() >= MIN_RUNS_FOR_SHORT_BASELINE_ALERT)
        {
            return Judgement {
                outcome: Outcome::Regression,
                severity,
                confirm_at_once,
                explanation: format!(
                    "{} worse{interval} than a short baseline of {} run(s): critical even without a full baseline",
                    pct(worse_change),
                    baseline.len()
                ),
                evidence: Some(evidence),
            };
        }
        return Judgement {
            outcome: Outcome::InsufficientBaseline,
            severity: None,
            confirm_at_once: false,
            explanation: format!(
                "{} runs of baseline so far ({} needed); change {}{interval}",
                baseline.len(),
                MIN_BASELINE_RUNS,
                pct(worse_change)
            ),
            evidence: Some(evidence),
        };
    }

    let u_gate = adjusted_p.is_none_or(|p| p < U_TEST_ALPHA);
    let run_gate = beyond.unwrap_or(false);
    let practical = worse_change >= tolerance;
    if let (true, true, true, Some(severity)) = (u_gate, run_gate, practical, severity) {
        return Judgement {
            outcome: Outcome::Regression,
            severity: Some(severity),
            confirm_at_once,
            explanation: format!(
                "{} worse{interval} than the median of {} baseline runs: {} (lower bound {})",
                pct(worse_change),
                baseline.len(),
                match severity {
                    Severity::Minor => format!("at least the tolerance of {}", pct(tolerance)),
                    other => format!(
                        "the lower bound reaches the {} threshold of {}",
                        other.as_str(),
                        pct(match other {
                            Severity::Critical => thresholds.critical,
                            _ => thresholds.major,
                        })
                    ),
                },
                pct(worse_low.unwrap_or(f64::NAN)),
            ),
            evidence: Some(evidence),
        };
    }
    if agreeing && u_gate && run_gate && practical {
        // An open regression only needs a later run to agree: worse by at least the
        // tolerance and beyond the baseline's run-to-run spread. Its severity stays.
        return Judgement {
            outcome: Outcome::Regression,
            severity: None,
            confirm_at_once: false,
            explanation: format!(
                "{} worse{interval} than the median of {} baseline runs, agreeing with the open regression",
                pct(worse_change),
                baseline.len()
            ),
            evidence: Some(evidence),
        };
    }
    if worse_high.is_some_and(|h| h < 0.0) && -worse_change >= tolerance {
        return Judgement {
            outcome: Outcome::Improvement,
            severity: None,
            confirm_at_once: false,
            explanation: format!("{} better{interval} than the baseline", pct(-worse_change)),
            evidence: Some(evidence),
        };
    }
    let why = if !practical {
        format!(
            "within tolerance ({} vs {})",
            pct(worse_change),
            pct(tolerance)
        )
    } else if !run_gate {
        "inside the run-to-run spread of the baseline".to_string()
    } else if !u_gate {
        "samples not significantly worse".to_string()
    } else {
        format!("interval{interval} reaches zero")
    };
    Judgement {
        outcome: Outcome::NoChange,
        severity: None,
        confirm_at_once: false,
        explanation: format!("no regression: {why}"),
        evidence: Some(evidence),
    }
}

/// Whether a verdict found its run *outlying*: worse than the baseline, significantly and
/// beyond the run-to-run 95% prediction bound, yet not a regression.
/// Such a run is held out of the next baselines for a while (`baseline::pick`).
pub(crate) fn is_outlying(outcome: Outcome, evidence: Option<&Evidence>) -> bool {
    outcome == Outcome::NoChange
        && evidence.is_some_and(|e| {
            e.worse_change > 0.0
                && e.beyond_hold_bound.or(e.beyond_prediction_bound) == Some(true)
                && e.mann_whitney_p_adjusted
                    .or(e.mann_whitney_p)
                    .is_none_or(|p| p < U_TEST_ALPHA)
        })
}

/// What baseline selection needs to know about one benchmark besides its results.
#[derive(Debug, Clone, Default)]
pub(crate) struct BenchmarkPast {
    /// The benchmark's stored results, oldest first.
    pub history: Vec<BenchmarkResult>,
    pub exclusions: Exclusions,
    pub open: Option<Regression>,
    /// Runs whose verdict of the benchmark was outlying ([`is_outlying`]), among the latest.
    pub outlying: HashSet<u64>,
}

impl BenchmarkPast {
    /// Reads the past of `benchmark`.
    pub(crate) fn read(store: &Store, benchmark: &str) -> Result<BenchmarkPast, StoreError> {
        Self::read_with(
            store,
            benchmark,
            &store.open_regressions()?,
            &store.regression_log()?,
        )
    }

    /// [`read`](Self::read) with the open regressions and the regression log already read
    /// (once for every benchmark of a run).
    pub(crate) fn read_with(
        store: &Store,
        benchmark: &str,
        open_regressions: &[Regression],
        regression_log: &[Regression],
    ) -> Result<BenchmarkPast, StoreError> {
        let open = open_regressions
            .iter()
            .find(|r| r.benchmark == benchmark)
            .cloned();
        let log: Vec<&Regression> = regression_log
            .iter()
            .filter(|r| r.benchmark == benchmark)
            .collect();
        let history = store.history(benchmark, None)?;
        // Only a trailing streak matters: the latest few results are enough (twice the
        // streak, for runs of other configurations in between).
        let mut outlying = HashSet::new();
        for result in history
            .iter()
            .rev()
            .take(2 * (baseline::HELD_OUTLYING_RUNS + 1))
        {
            if store
                .verdict(result.run_id, benchmark)?
                .is_some_and(|v| is_outlying(v.outcome, v.evidence.as_ref()))
            {
                outlying.insert(result.run_id);
            }
        }
        Ok(BenchmarkPast {
            outlying,
            history,
            exclusions: Exclusions::of(
                store.baseline_start(benchmark)?,
                open.as_ref(),
                log.iter().copied(),
            ),
            open,
        })
    }

    /// The stored results that form `result`'s baseline, oldest first.
    pub(crate) fn baseline_results(
        &self,
        result: &BenchmarkResult,
        max_age: chrono::Duration,
    ) -> Vec<&BenchmarkResult> {
        let candidates: Vec<Candidate> = self
            .history
            .iter()
            .map(|r| Candidate::of(r, result, self.outlying.contains(&r.run_id)))
            .collect();
        baseline::pick(
            &candidates,
            result.run_id,
            result.started_at,
            max_age,
            &self.exclusions,
        )
        .into_iter()
        .map(|i| &self.history[i])
        .collect()
    }

    /// The benchmark's latest result before `result` on the same hardware (any status).
    fn previous(&self, result: &BenchmarkResult) -> Option<&BenchmarkResult> {
        self.history
            .iter()
            .rev()
            .find(|r| r.run_id < result.run_id && r.fingerprint == result.fingerprint)
    }

    /// The benchmark succeeded before `result` in its configuration and lineage.
    fn has_succeeded_before(&self, result: &BenchmarkResult) -> bool {
        self.history.iter().any(|r| {
            r.run_id < result.run_id
                && baseline::comparable(r, result)
                && r.status == BenchStatus::Ok
        })
    }

    /// No comparable run before `result`, but earlier successful results on other hardware.
    fn on_new_hardware(&self, result: &BenchmarkResult) -> bool {
        let earlier = |r: &&BenchmarkResult| {
            r.run_id < result.run_id
                && r.config_hash == result.config_hash
                && r.status == BenchStatus::Ok
        };
        !self
            .history
            .iter()
            .filter(earlier)
            .any(|r| r.fingerprint == result.fingerprint)
            && self
                .history
                .iter()
                .filter(earlier)
                .any(|r| r.fingerprint != result.fingerprint)
    }
}

/// The baseline runs of `result` (with their samples), oldest first.
pub(crate) fn select_baseline(
    store: &Store,
    past: &BenchmarkPast,
    result: &BenchmarkResult,
    max_age: chrono::Duration,
) -> Result<Vec<BaselineRun>, StoreError> {
    past.baseline_results(result, max_age)
        .into_iter()
        .map(|r| {
            Ok(BaselineRun {
                run_id: r.run_id,
                median: r.summary.as_ref().map(|s| s.median).unwrap_or(f64::NAN),
                samples: store.samples(r.run_id, &r.benchmark)?,
            })
        })
        .collect()
}

fn seed_for(run_id: u64, benchmark: &str) -> u64 {
    super::compare::bootstrap_seed(run_id ^ 0x005E_ED0F_BA5E, benchmark)
}

/// What the state machine needs to know about the judged result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub benchmark: &'a str,
    pub suite: &'a str,
    pub config_hash: &'a str,
    pub fingerprint: &'a str,
    pub run_id: u64,
    /// The benchmark produced a result (not failed, timed out or interrupted).
    pub ok: bool,
    /// The host was busy before the run: it may open a suspicion, not confirm or resolve.
    pub busy_host: bool,
    /// What changed in the software environment since the previous run, when something did.
    pub cause: Option<&'a str>,
}

/// The run is back near the baseline: closer to it than to the regressed level and within
/// the tolerance.
fn back_within_tolerance(regression: &Regression, evidence: &Evidence) -> bool {
    let limit = match regression.worse_change {
        Some(level) if level > 0.0 => evidence.tolerance.min(level / 2.0),
        _ => evidence.tolerance,
    };
    evidence.worse_change < limit
}

/// Applies a judgement to the benchmark's open regression (the state machine). Returns
/// (the open regression after this run, the transition, the regression to log).
pub(crate) fn advance(
    open: Option<Regression>,
    judgement: &Judgement,
    subject: Subject,
) -> (Option<Regression>, Option<Transition>, Option<Regression>) {
    let evidence = judgement.evidence.as_ref();
    let run_id = subject.run_id;
    match (open, judgement.outcome) {
        (None, Outcome::Regression) => {
            let severity = judgement.severity.unwrap_or(Severity::Critical);
            let state = if judgement.confirm_at_once && !subject.busy_host {
                RegressionState::Confirmed
            } else {
                RegressionState::Suspected
            };
            let regression = Regression {
                benchmark: subject.benchmark.to_string(),
                suite: subject.suite.to_string(),
                config_hash: subject.config_hash.to_string(),
                fingerprint: subject.fingerprint.to_string(),
                state,
                severity,
                first_run: run_id,
                last_run: run_id,
                runs: vec![run_id],
                worse_change: evidence.map(|e| e.worse_change),
                worse_change_low: evidence.and_then(|e| e.worse_change_low),
                baseline_median: evidence.map(|e| e.baseline_median),
                current_median: evidence.map(|e| e.current_median),
                explanation: judgement.explanation.clone(),
                ended: None,
                ended_run: None,
                recovering_runs: 0,
                cause: subject.cause.map(str::to_string),
                changes: evidence.map(|e| e.worse_change).into_iter().collect(),
            };
            let transition = if state == RegressionState::Confirmed {
                Transition::Confirmed
            } else {
                Transition::Opened
            };
            (Some(regression.clone()), Some(transition), Some(regression))
        }
        (Some(mut r), Outcome::Regression) => {
            r.last_run = run_id;
            r.runs.push(run_id);
            r.changes.extend(evidence.map(|e| e.worse_change));
            r.recovering_runs = 0;
            r.worse_change = evidence.map(|e| e.worse_change);
            r.worse_change_low = evidence.and_then(|e| e.worse_change_low);
            r.current_median = evidence.map(|e| e.current_median);
            r.explanation = judgement.explanation.clone();
            if subject.busy_host {
                // A busy host's run is kept with the regression but changes nothing.
                return (Some(r.clone()), Some(Transition::Continuing), Some(r));
            }
            let severity = judgement.severity.unwrap_or(r.severity);
            let transition = if r.state == RegressionState::Suspected {
                r.state = RegressionState::Confirmed;
                Transition::Confirmed
            } else if severity > r.severity {
                Transition::Escalated
            } else {
                Transition::Continuing
            };
            r.severity = r.severity.max(severity);
            (Some(r.clone()), Some(transition), Some(r))
        }
        (Some(mut r), Outcome::NewEpoch) => {
            r.ended = Some(Ending::EnvironmentChanged);
            r.ended_run = Some(run_id);
            (None, Some(Transition::EnvironmentChanged), Some(r))
        }
        (Some(mut r), _) => {
            if subject.busy_host || !subject.ok {
                return (Some(r), None, None);
            }
            let back = evidence.is_some_and(|e| back_within_tolerance(&r, e));
            r.recovering_runs = if back { r.recovering_runs + 1 } else { 0 };
            let resolved = back
                && (r.state == RegressionState::Suspected || r.recovering_runs >= RESOLVING_RUNS);
            if resolved {
                r.ended = Some(Ending::Resolved);
                r.ended_run = Some(run_id);
                (None, Some(Transition::Resolved), Some(r))
            } else {
                (Some(r), None, None)
            }
        }
        (None, _) => (None, None, None),
    }
}

/// Judges every result of `run`, advances the regressions and stores the verdicts. Baseline
/// runs are at most `ages.of(benchmark)` old.
pub fn evaluate_run(
    store: &Store,
    run: &RunRecord,
    ages: &AgeLimits,
) -> Result<Vec<Verdict>, StoreError> {
    let results = store.results(run.id)?;
    let open_before: Vec<Regression> = store.open_regressions()?;

    struct Pending {
        result: BenchmarkResult,
        past: BenchmarkPast,
        /// A busy run against a baseline of mostly quiet runs.
        busy_mismatch: bool,
        baseline: Vec<BaselineRun>,
        current: Vec<f64>,
        raw_p: Option<f64>,
    }
    let regression_log = store.regression_log()?;
    let mut pending = Vec::new();
    for result in results {
        let past =
            BenchmarkPast::read_with(store, &result.benchmark, &open_before, &regression_log)?;
        let max_age = ages.of(&result.benchmark);
        let busy_mismatch = result.busy_host && {
            let base = past.baseline_results(&result, max_age);
            base.iter().filter(|b| b.busy_host).count() * 2 < base.len()
        };
        let baseline = select_baseline(store, &past, &result, max_age)?;
        let current = store.samples(run.id, &result.benchmark)?;
        let raw_p = (result.status == BenchStatus::Ok && !baseline.is_empty())
            .then(|| u_test_p(&baseline, &current, result.metric.direction))
            .flatten();
        pending.push(Pending {
            result,
            past,
            busy_mismatch,
            baseline,
            current,
            raw_p,
        });
    }
    // Benjamini-Hochberg over the benchmarks that have a p-value.
    let raw: Vec<f64> = pending.iter().filter_map(|p| p.raw_p).collect();
    let adjusted = stats::benjamini_hochberg(&raw);
    let mut adjusted_iter = adjusted.into_iter();

    let mut verdicts = Vec::new();
    let mut open_updates = Vec::new();
    let mut log = Vec::new();
    let mut environments = EnvironmentCache::new(store, run)?;
    // The fingerprint this run's new epoch replaces (the first benchmark that shows it).
    let environment_change: Option<String> = pending
        .iter()
        .filter(|p| p.result.status == BenchStatus::Ok && p.past.on_new_hardware(&p.result))
        .find_map(|p| {
            p.past
                .history
                .iter()
                .rev()
                .find(|h| {
                    h.run_id < run.id
                        && h.config_hash == p.result.config_hash
                        && h.fingerprint != p.result.fingerprint
                })
                .map(|h| h.fingerprint.clone())
        });
    for p in pending {
        let adjusted_p = p.raw_p.map(|_| adjusted_iter.next().unwrap_or(1.0));
        let r = &p.result;
        let thresholds = Thresholds {
            tolerance: r.options.tolerance,
            major: r.options.major,
            critical: r.options.critical,
        };
        let mut judgement = match r.status {
            BenchStatus::Failed | BenchStatus::TimedOut => {
                let what = if r.status == BenchStatus::Failed {
                    "failed"
                } else {
                    "timed out"
                };
                let error = r.error.clone().unwrap_or_default();
                if p.past.has_succeeded_before(r) {
                    Judgement {
                        outcome: Outcome::Regression,
                        severity: Some(Severity::Critical),
                        confirm_at_once: false,
                        evidence: None,
                        explanation: format!("the benchmark {what}: {error}"),
                    }
                } else {
                    Judgement {
                        outcome: Outcome::Failing,
                        severity: None,
                        confirm_at_once: false,
                        evidence: None,
                        explanation: format!(
                            "the benchmark {what} and has never succeeded in this configuration: {error}"
                        ),
                    }
                }
            }
            BenchStatus::Interrupted => Judgement {
                outcome: Outcome::NotEvaluated,
                severity: None,
                confirm_at_once: false,
                evidence: None,
                explanation: "interrupted: not judged".into(),
            },
            BenchStatus::Ok if p.past.on_new_hardware(r) => Judgement {
                outcome: Outcome::NewEpoch,
                severity: None,
                confirm_at_once: false,
                evidence: None,
                explanation: format!(
                    "first run on hardware {}: a new baseline lineage starts (levels on other hardware are shown, not judged)",
                    r.fingerprint
                ),
            },
            BenchStatus::Ok => judge(JudgeInput {
                baseline: &p.baseline,
                current: &p.current,
                direction: r.metric.direction,
                thresholds,
                raw_p: p.raw_p,
                adjusted_p,
                agreeing: p.past.open.is_some(),
                busy_host: r.busy_host,
                rerun: run.trigger == Some(crate::model::records::Trigger::Confirmation),
                seed: seed_for(run.id, &r.benchmark),
            }),
        };
        let history = (r.status == BenchStatus::Ok)
            .then(|| history_findings(&p.past.history, r, ages.of(&r.benchmark)));
        let environment_change = match p.past.previous(r) {
            Some(before) => environments.since(before.run_id)?,
            None => None,
        };
        let cause = environment_change.as_ref().map(|d| d.summary());
        if let (Some(cause), Outcome::Regression) = (&cause, judgement.outcome) {
            judgement.explanation.push_str(&format!(
                "; the software changed since run {}: {cause}",
                environment_change.as_ref().map_or(0, |d| d.since_run)
            ));
        }
        let previous = p.past.open.clone();
        let had_open = previous.is_some();
        let (now_open, transition, logged) = if r.quick {
            judgement
                .explanation
                .push_str(" (quick run: for information only; it neither opens, confirms nor resolves a regression)");
            (previous, None, None)
        } else {
            if p.busy_mismatch {
                judgement.explanation.push_str(
                    " (the host was busy before the run and the baseline runs were mostly quiet: it can raise a suspicion, not confirm or resolve one)",
                );
            }
            let subject = Subject {
                benchmark: &r.benchmark,
                suite: &run.suite,
                config_hash: &r.config_hash,
                fingerprint: &r.fingerprint,
                run_id: run.id,
                ok: r.status == BenchStatus::Ok,
                busy_host: p.busy_mismatch,
                cause: cause.as_deref(),
            };
            advance(previous, &judgement, subject)
        };
        if let Some(open) = now_open.as_ref().filter(|o| o.recovering_runs > 0) {
            judgement.explanation.push_str(&format!(
                "; {} of {RESOLVING_RUNS} consecutive runs back within tolerance that resolve the {} regression",
                open.recovering_runs,
                open.state.as_str()
            ));
        }
        if had_open || now_open.is_some() {
            open_updates.push((r.benchmark.clone(), now_open.clone()));
        }
        if let Some(entry) = logged {
            log.push(entry);
        }
        verdicts.push(Verdict {
            run_id: run.id,
            benchmark: r.benchmark.clone(),
            outcome: judgement.outcome,
            // A regression's runs all show its severity (the highest it reached), so one
            // run's table, the regression log and the exported series agree.
            severity: match (judgement.outcome, &now_open) {
                (Outcome::Regression, Some(open)) => Some(open.severity),
                _ => judgement.severity,
            },
            state: now_open.as_ref().map(|o| o.state),
            transition,
            explanation: judgement.explanation,
            slo: crate::model::slo::evaluate(r, crate::workload::records_of_kind(&r.kind)),
            noise: Some(NoiseProfile {
                within_run_cv: r.summary.as_ref().map(|s| s.cv),
                run_to_run_cv: run_to_run_cv(&p.baseline),
                baseline_runs: p.baseline.len(),
                minimum_detectable_change: minimum_detectable_change(
                    &p.baseline,
                    r.metric.direction,
                    r.options.tolerance,
                ),
                tolerance: Some(r.options.tolerance),
            }),
            evidence: judgement.evidence,
            change_points: history
                .as_ref()
                .map(|h| h.shifts.clone())
                .unwrap_or_default(),
            drift: history.as_ref().and_then(|h| h.drift.clone()),
            drift_window: history.as_ref().and_then(|h| h.drift_window),
            environment_change,
        });
    }
    let events = alert_events(store, run, &verdicts, &open_before, &environment_change)?;
    store.put_verdicts(&verdicts, &open_updates, &log, &events)?;
    Ok(verdicts)
}

/// The software environments of runs, read once each, compared with the judged run's.
struct EnvironmentCache<'a> {
    store: &'a Store,
    current: Option<crate::model::records::SoftwareEnvironment>,
    runs: std::collections::HashMap<u64, Option<crate::model::records::EnvironmentDiff>>,
}

impl<'a> EnvironmentCache<'a> {
    fn new(store: &'a Store, run: &RunRecord) -> Result<Self, StoreError> {
        let current = match &run.environment {
            Some(hash) => store.environment(hash)?,
            None => None,
        };
        Ok(EnvironmentCache {
            store,
            current,
            runs: std::collections::HashMap::new(),
        })
    }

    /// What changed from run `before`'s environment to the judged run's; `None` when
    /// nothing did or either is unknown.
    fn since(
        &mut self,
        before: u64,
    ) -> Result<Option<crate::model::records::EnvironmentDiff>, StoreError> {
        if let Some(known) = self.runs.get(&before) {
            return Ok(known.clone());
        }
        let old = match self.store.run(before)?.and_then(|r| r.environment) {
            Some(hash) => self.store.environment(&hash)?,
            None => None,
        };
        let diff = match (&old, &self.current) {
            (Some(old), Some(new)) => crate::runner::environment::diff(before, old, new),
            _ => None,
        };
        self.runs.insert(before, diff.clone());
        Ok(diff)
    }
}

/// The alert events of an evaluated run: regression transitions, a software change (a
/// notice: measured against the old baselines) and new hardware (a new lineage).
fn alert_events(
    store: &Store,
    run: &RunRecord,
    verdicts: &[Verdict],
    open_before: &[Regression],
    new_hardware: &Option<String>,
) -> Result<Vec<Event>, StoreError> {
    use crate::model::event;
    let host_id = crate::scheduler::splay::host_id();
    let now = chrono::Utc::now();
    let mut out = event::regression_events(&host_id, run, verdicts, open_before, now);
    if let Some(diff) = verdicts.iter().find_map(|v| v.environment_change.as_ref()) {
        let stepped: Vec<&str> = verdicts
            .iter()
            .filter(|v| v.environment_change.is_some() && v.outcome == Outcome::Regression)
            .map(|v| v.benchmark.as_str())
            .collect();
        out.push(event::software_changed(&host_id, run, diff, &stepped, now));
    }
    if let Some(old) = new_hardware {
        let fields = match (
            store.fingerprint(old)?,
            store.fingerprint(&run.fingerprint)?,
        ) {
            (Some(old), Some(new)) => crate::runner::fingerprint::changed_fields(&old, &new),
            _ => Vec::new(),
        };
        out.push(event::environment_changed(&host_id, run, old, &fields, now));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_window_is_30_days_or_the_last_12_runs_within_the_age_limit() {
        let start = DateTime::parse_from_rfc3339("2026-03-02T03:17:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let every = |step: ChronoDuration, n: i32| -> Vec<DateTime<Utc>> {
            (0..n).map(|k| start + step * k).collect()
        };
        let year = ChronoDuration::days(365);
        // Daily: the last 30 days, the judged run's day and 30 before it.
        let daily = every(ChronoDuration::days(1), 60);
        assert_eq!(trend_window(&daily, year), 29);
        // Weekly: 30 days hold 5 runs, so the last 12.
        let weekly = every(ChronoDuration::weeks(1), 20);
        assert_eq!(trend_window(&weekly, year), 8);
        // Never past the age limit: 100 days keep 4 runs 30 days apart.
        let monthly = every(ChronoDuration::days(30), 20);
        assert_eq!(trend_window(&monthly, ChronoDuration::days(100)), 16);
        // Fewer runs than 12: all of them.
        assert_eq!(trend_window(&weekly[..7], year), 0);
        assert_eq!(trend_window(&[], year), 0);
    }

    /// Baseline of `runs` runs around `level` with per-run jitter `run_sigma` and
    /// per-sample jitter `sample_sigma` (deterministic pseudo-noise).
    pub(crate) fn baseline(
        level: f64,
        runs: usize,
        run_sigma: f64,
        sample_sigma: f64,
    ) -> Vec<BaselineRun> {
        (0..runs)
            .map(|r| {
                let run_level = level * (1.0 + run_sigma * (((r * 37 % 11) as f64 - 5.0) / 5.0));
                let samples = samples_at(run_level, 20, sample_sigma, r as u64);
                BaselineRun {
                    run_id: r as u64 + 1,
                    median: stats::median(&samples),
                    samples,
                }
            })
            .collect()
    }

    pub(crate) fn samples_at(level: f64, n: usize, sigma: f64, salt: u64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let k = ((i as u64 * 7919 + salt * 104_729) % 17) as f64 - 8.0;
                level * (1.0 + sigma * k / 8.0)
            })
            .collect()
    }

    const DEFAULTS: Thresholds = Thresholds {
        tolerance: 0.05,
        major: 0.15,
        critical: 0.30,
    };

    fn run_judge(base: &[BaselineRun], current: &[f64], direction: Direction) -> Judgement {
        let p = u_test_p(base, current, direction);
        judge(JudgeInput {
            baseline: base,
            current,
            direction,
            thresholds: DEFAULTS,
            raw_p: p,
            adjusted_p: p,
            agreeing: false,
            busy_host: false,
            rerun: false,
            seed: 42,
        })
    }

    #[test]
    fn a_latency_rise_of_22_8_percent_is_major() {
        let base = baseline(0.100, 10, 0.005, 0.01);
        let current = samples_at(0.1228, 20, 0.01, 99);
        let j = run_judge(&base, &current, Direction::LowerIsBetter);
        assert_eq!(j.outcome, Outcome::Regression, "{}", j.explanation);
        assert_eq!(j.severity, Some(Severity::Major), "{:?}", j.evidence);
        let e = j.evidence.unwrap();
        assert!((e.worse_change - 0.228).abs() < 0.01, "{e:?}");
    }

    #[test]
    fn a_throughput_drop_of_12_6_percent_is_minor() {
        let base = baseline(1000.0, 10, 0.005, 0.01);
        let current = samples_at(874.0, 20, 0.01, 99);
        let j = run_judge(&base, &current, Direction::HigherIsBetter);
        assert_eq!(j.outcome, Outcome::Regression, "{}", j.explanation);
        assert_eq!(j.severity, Some(Severity::Minor), "{:?}", j.evidence);
    }

    #[test]
    fn a_two_percent_step_never_alerts() {
        let base = baseline(1000.0, 10, 0.005, 0.01);
        let current = samples_at(980.0, 20, 0.01, 99);
        let j = run_judge(&base, &current, Direction::HigherIsBetter);
        assert_eq!(j.outcome, Outcome::NoChange, "{}", j.explanation);
    }

    #[test]
    fn improvements_are_reported_not_alerted() {
        let base = baseline(1000.0, 10, 0.005, 0.01);
        let current = samples_at(1200.0, 20, 0.01, 99);
        let j = run_judge(&base, &current, Direction::HigherIsBetter);
        assert_eq!(j.outcome, Outcome::Improvement);
        assert_eq!(j.severity, None);
    }

    #[test]
    fn a_short_baseline_only_alerts_on_critical() {
        let base = baseline(1000.0, 3, 0.005, 0.01);
        let j = run_judge(
            &base,
            &samples_at(800.0, 20, 0.01, 9),
            Direction::HigherIsBetter,
        );
        assert_eq!(j.outcome, Outcome::InsufficientBaseline);
        let j = run_judge(
            &base,
            &samples_at(500.0, 20, 0.01, 9),
            Direction::HigherIsBetter,
        );
        assert_eq!(j.outcome, Outcome::Regression);
        assert_eq!(j.severity, Some(Severity::Critical));
    }

    #[test]
    fn a_tenfold_slowdown_is_critical_even_over_a_noisy_short_baseline() {
        // Three baseline runs 15% apart: the run-to-run part of the interval is wide, but
        // it scales with the level, so a throughput at a tenth of the baseline stays a
        // critical regression (and a latency ten times the baseline, its mirror).
        let base = baseline(1000.0, 3, 0.15, 0.01);
        let j = run_judge(
            &base,
            &samples_at(91.0, 20, 0.01, 9),
            Direction::HigherIsBetter,
        );
        assert_eq!(j.outcome, Outcome::Regression, "{}", j.explanation);
        assert_eq!(j.severity, Some(Severity::Critical), "{:?}", j.evidence);
        let base = baseline(0.1, 3, 0.15, 0.01);
        let j = run_judge(
            &base,
            &samples_at(1.0, 20, 0.01, 9),
            Direction::LowerIsBetter,
        );
        assert_eq!(j.severity, Some(Severity::Critical), "{:?}", j.evidence);
    }

    #[test]
    fn a_huge_critical_is_confirmed_at_once() {
        let base = baseline(0.1, 10, 0.005, 0.01);
        let j = run_judge(
            &base,
            &samples_at(0.2, 20, 0.01, 9),
            Direction::LowerIsBetter,
        );
        assert_eq!(j.severity, Some(Severity::Critical));
        assert!(j.confirm_at_once, "{:?}", j.evidence);
        let j = run_judge(
            &base,
            &samples_at(0.14, 20, 0.01, 9),
            Direction::LowerIsBetter,
        );
        assert_eq!(j.severity, Some(Severity::Critical));
        assert!(!j.confirm_at_once);
    }

    #[test]
    fn noisy_runs_widen_the_tolerance() {
        // Run-to-run CV ~ 6% → tolerance ~ 12%: a 10% drop is noise.
        let base = baseline(1000.0, 10, 0.1, 0.005);
        let cv = {
            let m: Vec<f64> = base.iter().map(|b| b.median).collect();
            stats::std_dev(&m) / stats::mean(&m)
        };
        let j = run_judge(
            &base,
            &samples_at(900.0, 20, 0.005, 9),
            Direction::HigherIsBetter,
        );
        let e = j.evidence.unwrap();
        assert!(
            (e.tolerance - NOISE_TOLERANCE_FACTOR * cv).abs() < 1e-12 && e.tolerance > 0.1,
            "{e:?}"
        );
        assert_ne!(j.outcome, Outcome::Regression);
    }

    #[test]
    fn verdicts_do_not_depend_on_sample_order_and_scale_freely() {
        let base = baseline(0.1, 10, 0.005, 0.01);
        let current = samples_at(0.125, 20, 0.01, 9);
        let a = run_judge(&base, &current, Direction::LowerIsBetter);
        let mut reversed = current.clone();
        reversed.reverse();
        let b = run_judge(&base, &reversed, Direction::LowerIsBetter);
        assert_eq!(a.outcome, b.outcome);
        assert_eq!(a.severity, b.severity);
        let scale = |runs: &[BaselineRun], k: f64| -> Vec<BaselineRun> {
            runs.iter()
                .map(|r| BaselineRun {
                    run_id: r.run_id,
                    median: r.median * k,
                    samples: r.samples.iter().map(|s| s * k).collect(),
                })
                .collect()
        };
        let scaled: Vec<f64> = current.iter().map(|v| v * 1000.0).collect();
        let c = run_judge(&scale(&base, 1000.0), &scaled, Direction::LowerIsBetter);
        assert_eq!(a.outcome, c.outcome);
        assert_eq!(a.severity, c.severity);
        let (ea, ec) = (a.evidence.unwrap(), c.evidence.unwrap());
        assert!((ea.worse_change - ec.worse_change).abs() < 1e-9);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]

            #[test]
            fn verdicts_do_not_depend_on_sample_order(
                step in 0.0f64..0.4,
                rotation in 0usize..20,
                higher_is_better in any::<bool>(),
            ) {
                let direction = if higher_is_better { Direction::HigherIsBetter } else { Direction::LowerIsBetter };
                let level = if higher_is_better { 1000.0 * (1.0 - step) } else { 1000.0 * (1.0 + step) };
                let base = baseline(1000.0, 10, 0.005, 0.01);
                let current = samples_at(level, 20, 0.01, 5);
                let mut rotated = current.clone();
                rotated.rotate_left(rotation);
                let a = run_judge(&base, &current, direction);
                let b = run_judge(&base, &rotated, direction);
                prop_assert_eq!(a.outcome, b.outcome);
                prop_assert_eq!(a.severity, b.severity);
            }

            #[test]
            fn scaling_every_value_leaves_the_verdict_unchanged(
                step in 0.0f64..0.4,
                scale in 0.001f64..1000.0,
            ) {
                let base = baseline(1.0, 10, 0.005, 0.01);
                let current = samples_at(1.0 + step, 20, 0.01, 5);
                let scaled_base: Vec<BaselineRun> = base
                    .iter()
                    .map(|r| BaselineRun {
                        run_id: r.run_id,
                        median: r.median * scale,
                        samples: r.samples.iter().map(|s| s * scale).collect(),
                    })
                    .collect();
                let scaled: Vec<f64> = current.iter().map(|v| v * scale).collect();
                let a = run_judge(&base, &current, Direction::LowerIsBetter);
                let b = run_judge(&scaled_base, &scaled, Direction::LowerIsBetter);
                prop_assert_eq!(a.outcome, b.outcome);
                prop_assert_eq!(a.severity, b.severity);
                let (ea, eb) = (a.evidence.unwrap(), b.evidence.unwrap());
                prop_assert!((ea.worse_change - eb.worse_change).abs() < 1e-9);
            }
        }
    }
}
