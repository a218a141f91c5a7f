//! Regression verdicts: is this result worse than the benchmark's baseline, how much, and
//! is it confirmed?
//!
//! **Baseline** ([`select_baseline`]): the last 10 comparable runs (same benchmark, same
//! probe parameters, same environment fingerprint, status ok, at most 30 days older, not
//! before the benchmark's baseline start, and not part of its open regression). Fewer than
//! 5 → `insufficient_baseline`, and only a critical change can alert. No comparable run but
//! history under another fingerprint → `new_epoch`: an environment notice, never a
//! regression.
//!
//! **Gates**, all in the metric's worse direction ([`judge`]):
//! 1. sample level — one-sided Mann-Whitney U (normal approximation, ≥ 10 samples per
//!    side) of the current samples against the pooled baseline samples, p-values adjusted
//!    with Benjamini-Hochberg across the benchmarks of the run; adjusted p < 0.05;
//! 2. run level — the current median lies beyond the one-sided 99% prediction bound of
//!    the baseline runs' medians (absorbs run-to-run noise that samples cannot show);
//! 3. practical — the change is at least the tolerance: max(configured tolerance, twice
//!    the run-to-run coefficient of variation of the baseline medians);
//! 4. effect — the change's seeded bootstrap 95% interval; its lower bound, widened in
//!    quadrature by the baseline's between-run spread (the part of the run-to-run variance
//!    that the samples do not explain), gives the **severity**: minor from the tolerance, major from 15%, critical from 30% (per
//!    benchmark `major`, `critical`). A lower bound under the tolerance is no regression.
//!
//! A failed or timed-out benchmark is a critical regression. **States**: the first run
//! that regresses opens a `suspected` regression; the next run that agrees (gates 1-3:
//! worse by the tolerance, beyond the prediction bound) `confirms` it (a critical whose lower bound is at least twice the critical threshold is
//! confirmed at once); a worse severity later `escalates` it; a run back within tolerance
//! `resolves` it. Improvements are reported, never alerted.
//!
//! The change is `worse_change`: the relative change of the median turned so that
//! positive is worse (a throughput drop of 12% and a latency rise of 12% are both +0.12).

use chrono::Duration as ChronoDuration;

use super::compare::Change;
use crate::model::event::Event;
use crate::model::history::Trend;
use crate::model::metric::Direction;
use crate::model::records::{BenchStatus, BenchmarkResult, RunRecord};
use crate::model::verdict::{
    Ending, Evidence, HistoryShift, NoiseProfile, Outcome, Regression, RegressionState, Severity,
    Transition, Verdict,
};
use crate::stats;
use crate::store::{Store, StoreError};

/// Baseline runs used at most.
pub(crate) const BASELINE_RUNS: usize = 10;
/// Fewer baseline runs than this give `insufficient_baseline`.
pub(crate) const MIN_BASELINE_RUNS: usize = 5;
/// Baseline runs are at most this old.
pub(crate) const BASELINE_WINDOW_DAYS: i64 = 30;
/// Samples per side for the Mann-Whitney gate.
pub(crate) const MIN_SAMPLES_FOR_U_TEST: usize = 10;
/// Significance of the (BH-adjusted) Mann-Whitney gate.
pub(crate) const U_TEST_ALPHA: f64 = 0.05;
/// Confidence of the one-sided prediction bound of the run-level gate.
pub(crate) const PREDICTION_LEVEL: f64 = 0.99;

/// Change points and 30-day drift over the comparable history of `result`, up to it.
fn history_findings(
    history: &[BenchmarkResult],
    result: &BenchmarkResult,
) -> (Vec<HistoryShift>, Option<Trend>) {
    let comparable: Vec<&BenchmarkResult> = history
        .iter()
        .filter(|r| {
            r.run_id <= result.run_id
                && r.config_hash == result.config_hash
                && r.fingerprint == result.fingerprint
                && r.status == BenchStatus::Ok
                && r.summary.is_some()
        })
        .collect();
    let medians: Vec<f64> = comparable.iter().filter_map(|r| r.primary()).collect();
    let analysis = crate::detect::history::analyze(
        &medians,
        None,
        result.metric.direction,
        result.options.tolerance,
    );
    let shifts = analysis
        .change_points
        .into_iter()
        .map(|point| HistoryShift {
            run_id: comparable[point.point.index].run_id,
            recent: point.point.index + 5 >= medians.len(),
            point,
        })
        .collect();
    let since = result.started_at - ChronoDuration::days(BASELINE_WINDOW_DAYS);
    let recent: Vec<f64> = comparable
        .iter()
        .filter(|r| r.started_at >= since)
        .filter_map(|r| r.primary())
        .collect();
    let drift = (recent.len() >= MIN_BASELINE_RUNS)
        .then(|| {
            crate::detect::history::analyze(
                &recent,
                None,
                result.metric.direction,
                result.options.tolerance,
            )
            .trend
        })
        .flatten();
    (shifts, drift)
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
    pub seed: u64,
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
    let (bootstrap_low, worse_high) = match change.interval {
        Some(ci) if sign > 0.0 => (Some(ci.low), Some(ci.high)),
        Some(ci) => (Some(-ci.high), Some(-ci.low)),
        None => (None, None),
    };
    let medians: Vec<f64> = baseline.iter().map(|b| b.median).collect();
    let run_to_run_cv = run_to_run_cv(baseline);
    // The bootstrap sees only the samples; a run's level also moves from run to run by
    // more than its samples show. That extra, between-run part is the run medians'
    // variance minus the sampling variance of a median (≈ (1.2533 · within-run CV)² / n for
    // near-normal samples). Its 95% prediction half-width for one new run is added in
    // quadrature to the bootstrap's half-width to give the lower bound of the change.
    let between_cv = run_to_run_cv.map_or(0.0, |cv| {
        let within: Vec<f64> = baseline
            .iter()
            .filter(|b| b.samples.len() >= 2)
            .map(|b| stats::std_dev(&b.samples) / stats::mean(&b.samples).abs())
            .filter(|c| c.is_finite())
            .collect();
        let per_run = baseline.iter().map(|b| b.samples.len()).sum::<usize>() as f64
            / baseline.len().max(1) as f64;
        let median_se = if within.is_empty() || per_run < 1.0 {
            0.0
        } else {
            1.2533 * stats::mean(&within) / per_run.sqrt()
        };
        (cv * cv - median_se * median_se).max(0.0).sqrt()
    });
    let run_noise_margin = 1.96 * between_cv * (1.0 + 1.0 / medians.len().max(1) as f64).sqrt();
    let worse_low = bootstrap_low.map(|low| {
        let sampling = (worse_change - low).max(0.0);
        worse_change - (sampling * sampling + run_noise_margin * run_noise_margin).sqrt()
    });
    let tolerance = thresholds.tolerance.max(2.0 * run_to_run_cv.unwrap_or(0.0));
    let prediction_bound = stats::prediction_bound(
        &medians,
        PREDICTION_LEVEL,
        direction == Direction::LowerIsBetter,
    );
    let beyond = prediction_bound.map(|bound| direction.is_worse(bound, change.current_median));
    let severity = worse_low.and_then(|low| {
        if low >= thresholds.critical {
            Some(Severity::Critical)
        } else if low >= thresholds.major {
            Some(Severity::Major)
        } else if low >= tolerance {
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
        mann_whitney_p: raw_p,
        mann_whitney_p_adjusted: adjusted_p,
        prediction_bound,
        beyond_prediction_bound: beyond,
    };
    let interval = match (worse_low, worse_high) {
        (Some(l), Some(h)) => format!(" [{}, {}]", pct(l), pct(h)),
        _ => String::new(),
    };
    let confirm_at_once = severity == Some(Severity::Critical)
        && worse_low.is_some_and(|low| low >= 2.0 * thresholds.critical);

    if baseline.len() < MIN_BASELINE_RUNS {
        if severity == Some(Severity::Critical) {
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
                "{} worse{interval} than the median of {} baseline runs; lower bound {} ≥ the {} threshold",
                pct(worse_change),
                baseline.len(),
                pct(worse_low.unwrap_or(f64::NAN)),
                severity.as_str()
            ),
            evidence: Some(evidence),
        };
    }
    if agreeing && u_gate && run_gate && practical {
        // An open regression only needs the next run to agree: worse by at least the
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
        format!("interval{interval} reaches below the tolerance")
    };
    Judgement {
        outcome: Outcome::NoChange,
        severity: None,
        confirm_at_once: false,
        explanation: format!("no regression: {why}"),
        evidence: Some(evidence),
    }
}

/// Comparable earlier runs for `result`, oldest first (at most [`BASELINE_RUNS`]).
pub(crate) fn select_baseline(
    store: &Store,
    result: &BenchmarkResult,
    excluded_runs: &[u64],
) -> Result<Vec<BaselineRun>, StoreError> {
    let history = store.history(&result.benchmark, None)?;
    baseline_from_history(store, &history, result, excluded_runs)
}

/// [`select_baseline`] over an already read history of the benchmark.
fn baseline_from_history(
    store: &Store,
    history: &[BenchmarkResult],
    result: &BenchmarkResult,
    excluded_runs: &[u64],
) -> Result<Vec<BaselineRun>, StoreError> {
    let since = result.started_at - ChronoDuration::days(BASELINE_WINDOW_DAYS);
    let start = store.baseline_start(&result.benchmark)?.unwrap_or(0);
    let mut picked: Vec<&BenchmarkResult> = history
        .iter()
        .filter(|r| {
            r.started_at >= since
                && r.run_id < result.run_id
                && r.run_id >= start
                && r.config_hash == result.config_hash
                && r.fingerprint == result.fingerprint
                && r.status == BenchStatus::Ok
                && r.summary.is_some()
                && !excluded_runs.contains(&r.run_id)
        })
        .collect();
    let drop = picked.len().saturating_sub(BASELINE_RUNS);
    picked.drain(..drop);
    picked
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
            let state = if judgement.confirm_at_once {
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
            };
            let transition = if state == RegressionState::Confirmed {
                Transition::Confirmed
            } else {
                Transition::Opened
            };
            (Some(regression.clone()), Some(transition), Some(regression))
        }
        (Some(mut r), Outcome::Regression) => {
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
            r.last_run = run_id;
            r.runs.push(run_id);
            r.worse_change = evidence.map(|e| e.worse_change);
            r.worse_change_low = evidence.and_then(|e| e.worse_change_low);
            r.current_median = evidence.map(|e| e.current_median);
            r.explanation = judgement.explanation.clone();
            (Some(r.clone()), Some(transition), Some(r))
        }
        (Some(mut r), Outcome::NewEpoch) => {
            r.ended = Some(Ending::EnvironmentChanged);
            r.ended_run = Some(run_id);
            (None, Some(Transition::EnvironmentChanged), Some(r))
        }
        (Some(mut r), _) => {
            let back = evidence.is_some_and(|e| e.worse_change < e.tolerance) && subject.ok;
            if back {
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

/// Judges every result of `run`, advances the regressions and stores the verdicts.
pub fn evaluate_run(store: &Store, run: &RunRecord) -> Result<Vec<Verdict>, StoreError> {
    let results = store.results(run.id)?;
    let open: Vec<Regression> = store.open_regressions()?;

    struct Pending {
        result: BenchmarkResult,
        baseline: Vec<BaselineRun>,
        current: Vec<f64>,
        raw_p: Option<f64>,
        other_epoch: bool,
        /// The benchmark's stored history, read once for all the steps below.
        history: Vec<BenchmarkResult>,
    }
    let mut pending = Vec::new();
    for result in results {
        let excluded: Vec<u64> = open
            .iter()
            .find(|r| r.benchmark == result.benchmark)
            .map(|r| r.runs.clone())
            .unwrap_or_default();
        let history = store.history(&result.benchmark, None)?;
        let baseline = baseline_from_history(store, &history, &result, &excluded)?;
        let current = store.samples(run.id, &result.benchmark)?;
        let raw_p = (result.status == BenchStatus::Ok && !baseline.is_empty())
            .then(|| u_test_p(&baseline, &current, result.metric.direction))
            .flatten();
        let other_epoch = baseline.is_empty()
            && history.iter().any(|r| {
                r.run_id < run.id
                    && r.config_hash == result.config_hash
                    && r.fingerprint != result.fingerprint
                    && r.status == BenchStatus::Ok
            });
        pending.push(Pending {
            result,
            baseline,
            current,
            raw_p,
            other_epoch,
            history,
        });
    }
    // Benjamini-Hochberg over the benchmarks that have a p-value.
    let raw: Vec<f64> = pending.iter().filter_map(|p| p.raw_p).collect();
    let adjusted = stats::benjamini_hochberg(&raw);
    let mut adjusted_iter = adjusted.into_iter();

    let mut verdicts = Vec::new();
    let mut open_updates = Vec::new();
    let mut log = Vec::new();
    // The fingerprint this run's new epoch replaces (the first benchmark that shows it).
    let environment_change: Option<String> = pending
        .iter()
        .filter(|p| p.other_epoch && p.result.status == BenchStatus::Ok)
        .find_map(|p| {
            p.history
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
        let judgement = match r.status {
            BenchStatus::Failed | BenchStatus::TimedOut => Judgement {
                outcome: Outcome::Regression,
                severity: Some(Severity::Critical),
                confirm_at_once: false,
                evidence: None,
                explanation: format!(
                    "the benchmark {}: {}",
                    if r.status == BenchStatus::Failed {
                        "failed"
                    } else {
                        "timed out"
                    },
                    r.error.clone().unwrap_or_default()
                ),
            },
            BenchStatus::Interrupted => Judgement {
                outcome: Outcome::NotEvaluated,
                severity: None,
                confirm_at_once: false,
                evidence: None,
                explanation: "interrupted: not judged".into(),
            },
            BenchStatus::Ok if p.other_epoch => Judgement {
                outcome: Outcome::NewEpoch,
                severity: None,
                confirm_at_once: false,
                evidence: None,
                explanation: format!(
                    "first run under environment {}: a new baseline starts (no comparison across environments)",
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
                agreeing: open.iter().any(|o| o.benchmark == r.benchmark),
                seed: seed_for(run.id, &r.benchmark),
            }),
        };
        let (change_points, drift) = if r.status == BenchStatus::Ok {
            history_findings(&p.history, r)
        } else {
            (Vec::new(), None)
        };
        let previous = open.iter().find(|o| o.benchmark == r.benchmark).cloned();
        let had_open = previous.is_some();
        let subject = Subject {
            benchmark: &r.benchmark,
            suite: &run.suite,
            config_hash: &r.config_hash,
            fingerprint: &r.fingerprint,
            run_id: run.id,
            ok: r.status == BenchStatus::Ok,
        };
        let (now_open, transition, logged) = advance(previous, &judgement, subject);
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
            severity: judgement.severity,
            state: now_open.as_ref().map(|o| o.state),
            transition,
            evidence: judgement.evidence,
            explanation: judgement.explanation,
            slo: crate::model::slo::evaluate(r, crate::workload::records_of_kind(&r.kind)),
            noise: Some(NoiseProfile {
                within_run_cv: r.summary.as_ref().map(|s| s.cv),
                run_to_run_cv: run_to_run_cv(&p.baseline),
                baseline_runs: p.baseline.len(),
            }),
            change_points,
            drift,
        });
    }
    let events = alert_events(store, run, &verdicts, &open, &environment_change)?;
    store.put_verdicts(&verdicts, &open_updates, &log, &events)?;
    Ok(verdicts)
}

/// The alert events of an evaluated run: regression transitions and a new environment.
fn alert_events(
    store: &Store,
    run: &RunRecord,
    verdicts: &[Verdict],
    open_before: &[Regression],
    environment_change: &Option<String>,
) -> Result<Vec<Event>, StoreError> {
    use crate::model::event;
    let host_id = crate::scheduler::splay::host_id();
    let now = chrono::Utc::now();
    let mut out = event::regression_events(&host_id, run, verdicts, open_before, now);
    if let Some(old) = environment_change {
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
            (e.tolerance - 2.0 * cv).abs() < 1e-12 && e.tolerance > 0.1,
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
