//! The health score: 0-100 per suite and per host, with a grade, explainable line by line.
//!
//! A suite starts at 100 and loses points for what its latest run and its open regressions
//! show:
//!
//! | finding | points |
//! |---|---|
//! | open critical regression | 40 (20 while only suspected) |
//! | open major regression | 20 (10 while suspected) |
//! | open minor regression | 8 (4 while suspected) |
//! | SLO not met in the latest run | 10 each |
//! | worsening drift over the trend window (the last 30 days, or 12 runs when those days hold fewer; Mann-Kendall p < 0.01, ≥ tolerance) | 5 |
//! | benchmark failing in the latest run that never succeeded | 10 |
//!
//! A failed or timed-out benchmark that had worked is already an open critical regression,
//! so it is not counted twice. The score is never below 0. Grades: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else
//! F. The host's score is its worst suite's: a host is as healthy as the weakest thing it
//! runs.

use serde::{Deserialize, Serialize};

use crate::detect::{self, EnvironmentChange};
use crate::model::history::{LabelledChangePoint, Trend};
use crate::model::records::RunRecord;
use crate::model::slo::SloOutcome;
use crate::model::verdict::{Outcome, Regression, RegressionState, Severity, TrendWindow, Verdict};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deduction {
    pub benchmark: String,
    pub points: f64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub score: f64,
    pub grade: char,
    pub deductions: Vec<Deduction>,
}

pub(crate) fn grade(score: f64) -> char {
    match score {
        s if s >= 90.0 => 'A',
        s if s >= 75.0 => 'B',
        s if s >= 60.0 => 'C',
        s if s >= 40.0 => 'D',
        _ => 'F',
    }
}

/// Points an open regression costs.
pub(crate) fn regression_points(r: &Regression) -> f64 {
    let full = match r.severity {
        Severity::Critical => 40.0,
        Severity::Major => 20.0,
        Severity::Minor => 8.0,
    };
    if r.state == RegressionState::Suspected {
        full / 2.0
    } else {
        full
    }
}

pub(crate) const SLO_POINTS: f64 = 10.0;
pub(crate) const DRIFT_POINTS: f64 = 5.0;
pub(crate) const FAILING_POINTS: f64 = 10.0;

/// The findings a suite's score is made of.
#[derive(Debug, Clone, Copy, Default)]
pub struct Findings<'a> {
    pub regressions: &'a [Regression],
    /// (benchmark, SLO expression) not met in the latest run.
    pub unmet_slos: &'a [(String, String)],
    /// (benchmark, relative change over the window as the value moved, the window) drifting
    /// worse: "-5.7%" for a throughput that fell, "+5.7%" for a time that rose.
    pub drifts: &'a [(String, f64, Option<TrendWindow>)],
    /// Benchmarks failing in the latest run that never succeeded.
    pub failing: &'a [String],
}

/// Scores a suite from its findings.
pub fn score(findings: Findings) -> Health {
    let Findings {
        regressions,
        unmet_slos,
        drifts,
        failing,
    } = findings;
    let mut deductions = Vec::new();
    for r in regressions {
        deductions.push(Deduction {
            benchmark: r.benchmark.clone(),
            points: regression_points(r),
            reason: format!(
                "{} regression, {}{}",
                r.severity.as_str(),
                match r.state {
                    RegressionState::Suspected => "suspected (counts half)",
                    RegressionState::Confirmed => "confirmed",
                },
                r.worse_change
                    .map(|c| format!(", {:+.1}% worse", c * 100.0))
                    .unwrap_or_else(|| ", benchmark failing".into())
            ),
        });
    }
    for (benchmark, expression) in unmet_slos {
        deductions.push(Deduction {
            benchmark: benchmark.clone(),
            points: SLO_POINTS,
            reason: format!("SLO `{expression}` not met"),
        });
    }
    for (benchmark, change, window) in drifts {
        deductions.push(Deduction {
            benchmark: benchmark.clone(),
            points: DRIFT_POINTS,
            reason: format!(
                "drifting worse, {:+.1}% {}",
                change * 100.0,
                window.map_or_else(|| "over the trend window".into(), |w| w.describe())
            ),
        });
    }
    for benchmark in failing {
        deductions.push(Deduction {
            benchmark: benchmark.clone(),
            points: FAILING_POINTS,
            reason: "failing, and has never succeeded in this configuration".into(),
        });
    }
    let lost: f64 = deductions.iter().map(|d| d.points).sum();
    let score = (100.0 - lost).max(0.0);
    Health {
        score,
        grade: grade(score),
        deductions,
    }
}

/// A drift found over a benchmark's run medians in its trend window.
#[derive(Debug, Clone, Serialize)]
pub struct DriftFinding {
    pub benchmark: String,
    /// Runs in the window.
    pub runs: usize,
    /// Days the window spans.
    pub days: f64,
    pub trend: Trend,
}

/// A benchmark too noisy for its tolerance, as of the latest run.
#[derive(Debug, Clone, Serialize)]
pub struct NoiseFinding {
    pub benchmark: String,
    /// The smallest sustained change one run can flag, and the configured tolerance.
    pub minimum_detectable_change: f64,
    pub tolerance: f64,
}

/// A level shift found over a benchmark's stored history.
#[derive(Debug, Clone, Serialize)]
pub struct ShiftFinding {
    pub benchmark: String,
    /// The first run at the new level.
    pub run_id: u64,
    pub point: LabelledChangePoint,
}

/// An unmet SLO in a suite's latest run.
#[derive(Debug, Clone, Serialize)]
pub struct SloViolation {
    pub benchmark: String,
    pub run_id: u64,
    pub outcome: SloOutcome,
}

/// A finding with what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub benchmark: String,
    pub finding: String,
    pub next_step: String,
}

/// One suite in `perfwarden report`.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteHealth {
    pub suite: String,
    pub latest_run: RunRecord,
    pub health: Health,
    pub open_regressions: Vec<Regression>,
    pub improvements: Vec<Verdict>,
    pub drifts: Vec<DriftFinding>,
    pub shifts: Vec<ShiftFinding>,
    /// Benchmarks whose noise does not let a run detect a change of their tolerance.
    pub too_noisy: Vec<NoiseFinding>,
    /// Benchmarks of the latest run that were not judged against a baseline, because
    /// theirs is still forming (too few comparable runs, or new hardware): their 100
    /// points say nothing yet.
    #[serde(default)]
    pub unjudged: Vec<String>,
    pub environment_change: Option<EnvironmentChange>,
    pub slo_violations: Vec<SloViolation>,
    pub recommendations: Vec<Recommendation>,
}

/// `perfwarden report`: health, grade and findings per suite, and the host's score.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// The worst suite's score; `null` with no runs.
    pub host_score: Option<f64>,
    pub host_grade: Option<char>,
    pub suites: Vec<SuiteHealth>,
}

impl HealthReport {
    pub fn build(store: &Store, only_suite: Option<&str>) -> Result<HealthReport, StoreError> {
        let runs = store.runs(only_suite, None)?;
        let mut latest: Vec<RunRecord> = Vec::new();
        for run in runs {
            if !latest.iter().any(|r| r.suite == run.suite) {
                latest.push(run);
            }
        }
        latest.sort_by(|a, b| a.suite.cmp(&b.suite));
        let open_all = store.open_regressions()?;
        let mut suites = Vec::new();
        for run in latest {
            suites.push(SuiteHealth::of_run(store, run, &open_all)?);
        }
        let worst = suites
            .iter()
            .map(|s| s.health.score)
            .min_by(|a, b| a.total_cmp(b));
        Ok(HealthReport {
            host_score: worst,
            host_grade: worst.map(grade),
            suites,
        })
    }
}

impl SuiteHealth {
    /// The suite's health after `run`, given the regressions open at that moment (`open`,
    /// any suite's: those of this suite or of a benchmark it ran count).
    pub(crate) fn of_run(
        store: &Store,
        run: RunRecord,
        open: &[Regression],
    ) -> Result<SuiteHealth, StoreError> {
        use crate::model::history::Movement;
        let results = store.results(run.id)?;
        let names: Vec<&str> = results.iter().map(|r| r.benchmark.as_str()).collect();
        let open: Vec<Regression> = open
            .iter()
            .filter(|r| r.suite == run.suite || names.contains(&r.benchmark.as_str()))
            .cloned()
            .collect();
        let mut improvements = Vec::new();
        let mut slo_violations = Vec::new();
        let mut drifts = Vec::new();
        let mut shifts = Vec::new();
        let mut failing = Vec::new();
        let mut too_noisy = Vec::new();
        let mut unjudged = Vec::new();
        for result in &results {
            if let Some(verdict) = store.verdict(run.id, &result.benchmark)? {
                if matches!(
                    verdict.outcome,
                    Outcome::InsufficientBaseline | Outcome::NewEpoch
                ) {
                    unjudged.push(result.benchmark.clone());
                }
                if let Some(noise) = verdict.noise.as_ref().filter(|n| n.too_noisy()) {
                    too_noisy.push(NoiseFinding {
                        benchmark: result.benchmark.clone(),
                        minimum_detectable_change: noise
                            .minimum_detectable_change
                            .unwrap_or_default(),
                        tolerance: noise.tolerance.unwrap_or_default(),
                    });
                }
                if verdict.outcome == Outcome::Failing {
                    failing.push(result.benchmark.clone());
                }
                for outcome in verdict.slo.iter().filter(|o| o.met == Some(false)) {
                    slo_violations.push(SloViolation {
                        benchmark: result.benchmark.clone(),
                        run_id: run.id,
                        outcome: outcome.clone(),
                    });
                }
                // Change points and drift as computed and stored with this run's verdict.
                for shift in verdict.change_points.iter().filter(|s| s.recent) {
                    shifts.push(ShiftFinding {
                        benchmark: result.benchmark.clone(),
                        run_id: shift.run_id,
                        point: shift.point.clone(),
                    });
                }
                if let Some(trend) = verdict.drift.clone().filter(|t| t.drift) {
                    drifts.push(DriftFinding {
                        benchmark: result.benchmark.clone(),
                        runs: verdict.drift_window.map_or(0, |w| w.runs),
                        days: verdict.drift_window.map_or(0.0, |w| w.days),
                        trend,
                    });
                }
                if verdict.outcome == Outcome::Improvement {
                    improvements.push(verdict);
                }
            }
        }
        let unmet: Vec<(String, String)> = slo_violations
            .iter()
            .map(|v| (v.benchmark.clone(), v.outcome.slo.expression.clone()))
            .collect();
        let worsening: Vec<(String, f64, Option<TrendWindow>)> = drifts
            .iter()
            .filter(|d| d.trend.movement == Movement::Worse)
            .map(|d| {
                (
                    d.benchmark.clone(),
                    d.trend.relative_change_over_window,
                    Some(TrendWindow {
                        runs: d.runs,
                        days: d.days,
                    }),
                )
            })
            .collect();
        let health = score(Findings {
            regressions: &open,
            unmet_slos: &unmet,
            drifts: &worsening,
            failing: &failing,
        });
        let environment_change = detect::environment_change(store, &run)?;
        let recommendations = recommend(
            &open,
            &improvements,
            &drifts,
            &slo_violations,
            environment_change.as_ref(),
            &run,
        );
        Ok(SuiteHealth {
            suite: run.suite.clone(),
            latest_run: run,
            health,
            open_regressions: open,
            improvements,
            drifts,
            shifts,
            too_noisy,
            unjudged,
            environment_change,
            slo_violations,
            recommendations,
        })
    }
}

/// A suite's score after each of its runs since `since`, oldest first: the same formula,
/// with the regressions open at that run in the state its verdicts gave them then.
/// `log` is the store's regression log ([`Store::regression_log`]).
pub fn health_over_time(
    store: &Store,
    suite: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
    log: &[Regression],
) -> Result<Vec<(RunRecord, Health)>, StoreError> {
    let mut runs = store.runs(Some(suite), since)?;
    runs.sort_by_key(|r| r.id);
    let mut out = Vec::new();
    for run in runs {
        if run.quick {
            continue;
        }
        let mut open = Vec::new();
        for r in log {
            let opened = r.first_run <= run.id;
            let still_open = match r.ended_run {
                Some(ended) => ended > run.id,
                None => r.ended.is_none(),
            };
            if opened && still_open {
                let mut r = r.clone();
                if let Some(state) = store.verdict(run.id, &r.benchmark)?.and_then(|v| v.state) {
                    r.state = state;
                }
                open.push(r);
            }
        }
        let health = SuiteHealth::of_run(store, run.clone(), &open)?.health;
        out.push((run, health));
    }
    Ok(out)
}

fn recommend(
    open: &[Regression],
    improvements: &[Verdict],
    drifts: &[DriftFinding],
    slo: &[SloViolation],
    environment: Option<&EnvironmentChange>,
    run: &RunRecord,
) -> Vec<Recommendation> {
    use RegressionState;
    let mut out = Vec::new();
    for r in open {
        let before = r.first_run.saturating_sub(1);
        let (finding, next_step) = match (r.state, r.worse_change) {
            (_, None) => (
                format!(
                    "{} regression: the benchmark fails ({})",
                    r.severity.as_str(),
                    r.explanation
                ),
                format!(
                    "run `perfwarden show {}` for the error and fix the probe's target or config",
                    r.last_run
                ),
            ),
            (RegressionState::Suspected, Some(_)) => (
                format!(
                    "{} regression suspected: {}",
                    r.severity.as_str(),
                    r.explanation
                ),
                "wait for the next run to confirm or clear it; nothing pages until then"
                    .to_string(),
            ),
            (RegressionState::Confirmed, Some(_)) => (
                format!(
                    "{} regression confirmed: {}",
                    r.severity.as_str(),
                    r.explanation
                ),
                format!(
                    "compare before and after with `perfwarden compare {before} {}` and look for what changed on the host since run {before}; if the change is expected (an upgrade), `perfwarden baseline accept {}`",
                    r.last_run, r.benchmark
                ),
            ),
        };
        out.push(Recommendation {
            benchmark: r.benchmark.clone(),
            finding,
            next_step,
        });
    }
    for v in slo {
        out.push(Recommendation {
            benchmark: v.benchmark.clone(),
            finding: format!("SLO `{}` not met in run {}", v.outcome.slo.expression, v.run_id),
            next_step: format!(
                "check `perfwarden history {}`: a sudden miss points at a regression, a slow one at capacity",
                v.benchmark
            ),
        });
    }
    for d in drifts {
        out.push(Recommendation {
            benchmark: d.benchmark.clone(),
            finding: format!(
                "drifting {} by {:+.1}% {} (Mann-Kendall p = {:.2e})",
                d.trend.movement.as_str(),
                d.trend.relative_change_over_window * 100.0,
                TrendWindow {
                    runs: d.runs,
                    days: d.days,
                }
                .describe(),
                d.trend.p_value
            ),
            next_step: format!(
                "slow drifts escape run-to-run verdicts: look at `perfwarden history {} --since {}d` (fragmentation, growing data, thermal or firmware changes)",
                d.benchmark,
                d.days.ceil().max(1.0)
            ),
        });
    }
    for v in improvements {
        out.push(Recommendation {
            benchmark: v.benchmark.clone(),
            finding: format!("improved: {}", v.explanation),
            next_step: "nothing to do; the baseline follows once the level holds".into(),
        });
    }
    if let Some(env) = environment {
        if let Some(software) = &env.software {
            out.push(Recommendation {
                benchmark: String::new(),
                finding: format!(
                    "software changed at run {}: {}",
                    run.id,
                    software.summary()
                ),
                next_step: "judged against the baselines from before the change: a regression opened at this run names it as its likely cause; `perfwarden changes` lists every change".into(),
            });
        }
        if env.hardware_changed() {
            out.push(Recommendation {
                benchmark: String::new(),
                finding: format!(
                    "hardware changed at run {} ({})",
                    run.id,
                    env.changed_fields.join(", ")
                ),
                next_step: "a new baseline lineage starts on the new hardware; confirm the change was intended".into(),
            });
        }
    }
    out
}

/// The host's health in one line: what `status`, the `suite.finished` event and the
/// daemon's STATUS show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct HostHealth {
    /// The worst suite's score; `None` with no runs.
    pub score: Option<f64>,
    pub grade: Option<char>,
    pub open_regressions: usize,
}

impl HostHealth {
    pub(crate) fn of(store: &Store) -> Result<HostHealth, StoreError> {
        let report = HealthReport::build(store, None)?;
        Ok(HostHealth {
            score: report.host_score,
            grade: report.host_grade,
            open_regressions: store.open_regressions()?.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regression(severity: Severity, state: RegressionState) -> Regression {
        Regression {
            benchmark: "b".into(),
            suite: "s".into(),
            config_hash: "c".into(),
            fingerprint: "f".into(),
            state,
            severity,
            first_run: 1,
            last_run: 2,
            runs: vec![1, 2],
            worse_change: Some(0.2),
            worse_change_low: Some(0.16),
            baseline_median: Some(1.0),
            current_median: Some(1.2),
            explanation: String::new(),
            ended: None,
            ended_run: None,
            recovering_runs: 0,
            cause: None,
            changes: Vec::new(),
        }
    }

    #[test]
    fn the_formula_line_by_line() {
        let h = score(Findings {
            regressions: &[
                regression(Severity::Major, RegressionState::Confirmed),
                regression(Severity::Critical, RegressionState::Suspected),
            ],
            unmet_slos: &[("b".into(), "median > 5/s".into())],
            drifts: &[(
                "c".into(),
                -0.07,
                Some(TrendWindow {
                    runs: 31,
                    days: 30.0,
                }),
            )],
            failing: &["d".into()],
        });
        // 100 − 20 − 20 − 10 − 5 − 10 = 35 (by hand).
        assert_eq!(h.score, 35.0);
        assert_eq!(h.grade, 'F');
        assert_eq!(h.deductions.len(), 5);
        assert_eq!(score(Findings::default()).grade, 'A');
        let many: Vec<Regression> = (0..5)
            .map(|_| regression(Severity::Critical, RegressionState::Confirmed))
            .collect();
        assert_eq!(
            score(Findings {
                regressions: &many,
                ..Findings::default()
            })
            .score,
            0.0
        );
    }

    #[test]
    fn grade_boundaries() {
        assert_eq!(grade(90.0), 'A');
        assert_eq!(grade(89.9), 'B');
        assert_eq!(grade(75.0), 'B');
        assert_eq!(grade(60.0), 'C');
        assert_eq!(grade(40.0), 'D');
        assert_eq!(grade(39.0), 'F');
    }
}
