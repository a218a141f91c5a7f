//! Reports: data read from the store ([`RunReport`], [`HistoryReport`], …) and pure
//! renderers over it — aligned text for people ([`text`]) and one versioned JSON schema for
//! programs ([`json`], `schema/perfwarden-output.v1.schema.json`).
//!
//! Building a report is the only part that reads the store; rendering never does, so the
//! same report renders identically whether it came from a one-shot run, `show`, or (later)
//! the daemon over its socket.

pub mod format;
pub mod json;
pub mod text;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::ConfigProblem;
use crate::detect::{self, Change, EnvironmentChange};
use crate::store::{
    BenchStatus, BenchmarkResult, Fingerprint, RunRecord, RunSnapshot, Store, StoreError,
};

/// One benchmark's result with what detection says about it.
#[derive(Debug, Clone, Serialize)]
pub struct ResultView {
    #[serde(flatten)]
    pub result: BenchmarkResult,
    /// Change against the previous comparable runs (`null` when there are none).
    pub change: Option<Change>,
    /// Regression verdict (`null` for runs stored before verdicts existed).
    pub verdict: Option<crate::detect::Verdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run: RunRecord,
    pub snapshot: Option<RunSnapshot>,
    pub fingerprint: Option<Fingerprint>,
    pub environment_change: Option<EnvironmentChange>,
    pub results: Vec<ResultView>,
}

impl RunReport {
    pub fn build(store: &Store, run: RunRecord) -> Result<RunReport, StoreError> {
        let mut results = Vec::new();
        for result in store.results(run.id)? {
            let change = detect::change_against_history(store, &result)?;
            let verdict = store.verdict(result.run_id, &result.benchmark)?;
            results.push(ResultView {
                result,
                change,
                verdict,
            });
        }
        Ok(RunReport {
            snapshot: store.snapshot(run.id)?,
            fingerprint: store.fingerprint(&run.fingerprint)?,
            environment_change: detect::environment_change(store, &run)?,
            run,
            results,
        })
    }

    pub fn any_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.result.status, BenchStatus::Failed | BenchStatus::TimedOut))
    }
}

/// A drift found over a benchmark's last 30 days of run medians.
#[derive(Debug, Clone, Serialize)]
pub struct DriftFinding {
    pub benchmark: String,
    pub runs: usize,
    pub trend: crate::detect::history::Trend,
}

/// A level shift found over a benchmark's stored history.
#[derive(Debug, Clone, Serialize)]
pub struct ShiftFinding {
    pub benchmark: String,
    /// The first run at the new level.
    pub run_id: u64,
    pub point: crate::detect::history::LabelledChangePoint,
}

/// An unmet SLO in a suite's latest run.
#[derive(Debug, Clone, Serialize)]
pub struct SloViolation {
    pub benchmark: String,
    pub run_id: u64,
    pub outcome: crate::detect::slo::SloOutcome,
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
    pub health: crate::detect::health::Health,
    pub open_regressions: Vec<crate::detect::Regression>,
    pub improvements: Vec<crate::detect::Verdict>,
    pub drifts: Vec<DriftFinding>,
    pub shifts: Vec<ShiftFinding>,
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
        use crate::detect::history::Movement;
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
            let results = store.results(run.id)?;
            let names: Vec<&str> = results.iter().map(|r| r.benchmark.as_str()).collect();
            let open: Vec<crate::detect::Regression> = open_all
                .iter()
                .filter(|r| r.suite == run.suite || names.contains(&r.benchmark.as_str()))
                .cloned()
                .collect();
            let mut improvements = Vec::new();
            let mut slo_violations = Vec::new();
            let mut drifts = Vec::new();
            let mut shifts = Vec::new();
            for result in &results {
                if let Some(verdict) = store.verdict(run.id, &result.benchmark)? {
                    for outcome in verdict.slo.iter().filter(|o| o.met == Some(false)) {
                        slo_violations.push(SloViolation {
                            benchmark: result.benchmark.clone(),
                            run_id: run.id,
                            outcome: outcome.clone(),
                        });
                    }
                    if verdict.outcome == crate::detect::Outcome::Improvement {
                        improvements.push(verdict);
                    }
                }
                // Change points and drift as computed and stored with this run's verdict.
                if let Some(verdict) = store.verdict(run.id, &result.benchmark)? {
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
                            runs: verdict.noise.as_ref().map_or(0, |n| n.baseline_runs + 1),
                            trend,
                        });
                    }
                }
            }
            let unmet: Vec<(String, String)> = slo_violations
                .iter()
                .map(|v| (v.benchmark.clone(), v.outcome.slo.expression.clone()))
                .collect();
            let worsening: Vec<(String, f64)> = drifts
                .iter()
                .filter(|d| d.trend.movement == Movement::Worse)
                .map(|d| {
                    (
                        d.benchmark.clone(),
                        d.trend.relative_change_over_window.abs(),
                    )
                })
                .collect();
            let health = crate::detect::health::score(&open, &unmet, &worsening);
            let environment_change = detect::environment_change(store, &run)?;
            let recommendations = recommend(
                &open,
                &improvements,
                &drifts,
                &slo_violations,
                environment_change.as_ref(),
                &run,
            );
            suites.push(SuiteHealth {
                suite: run.suite.clone(),
                latest_run: run,
                health,
                open_regressions: open,
                improvements,
                drifts,
                shifts,
                environment_change,
                slo_violations,
                recommendations,
            });
        }
        let worst = suites
            .iter()
            .map(|s| s.health.score)
            .min_by(|a, b| a.total_cmp(b));
        Ok(HealthReport {
            host_score: worst,
            host_grade: worst.map(crate::detect::health::grade),
            suites,
        })
    }
}

fn recommend(
    open: &[crate::detect::Regression],
    improvements: &[crate::detect::Verdict],
    drifts: &[DriftFinding],
    slo: &[SloViolation],
    environment: Option<&EnvironmentChange>,
    run: &RunRecord,
) -> Vec<Recommendation> {
    use crate::detect::RegressionState;
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
                "drifting {} by {:+.1}% over {} runs (Mann-Kendall p = {:.2e})",
                d.trend.movement.as_str(),
                d.trend.relative_change_over_window * 100.0,
                d.runs,
                d.trend.p_value
            ),
            next_step: format!(
                "slow drifts escape run-to-run verdicts: look at `perfwarden history {} --since 30d` (fragmentation, growing data, thermal or firmware changes)",
                d.benchmark
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
        out.push(Recommendation {
            benchmark: String::new(),
            finding: format!(
                "environment changed at run {} ({})",
                run.id,
                env.changed_fields.join(", ")
            ),
            next_step:
                "baselines restart under the new fingerprint; confirm the change was intended"
                    .into(),
        });
    }
    out
}

/// `perfwarden regressions [--all]`.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionsReport {
    /// `true` with `--all` (the whole log, resolved ones included).
    pub all: bool,
    pub regressions: Vec<crate::detect::Regression>,
}

/// One benchmark's current baseline (`perfwarden baseline show`).
#[derive(Debug, Clone, Serialize)]
pub struct BaselineView {
    pub benchmark: String,
    pub unit: String,
    pub metric: crate::workload::MetricDef,
    pub config_hash: String,
    pub fingerprint: String,
    /// Runs in the baseline, oldest first.
    pub runs: Vec<u64>,
    pub run_medians: Vec<f64>,
    pub median: Option<f64>,
    pub run_to_run_cv: Option<f64>,
    /// Baseline starts at this run (set by pin, reset or accept).
    pub starts_at_run: Option<u64>,
    pub sufficient: bool,
    pub open_regression: Option<crate::detect::Regression>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub baselines: Vec<BaselineView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunsReport {
    pub runs: Vec<RunRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    pub status: BenchStatus,
    pub quick: bool,
    pub median: Option<f64>,
    pub median_ci_low: Option<f64>,
    pub median_ci_high: Option<f64>,
    pub cv: Option<f64>,
    pub config_hash: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub benchmark: String,
    /// Display unit of the values (`events/s`, `B/s`, `s`); `null` with no points.
    pub unit: Option<String>,
    pub direction: Option<crate::workload::Direction>,
    pub metric: Option<crate::workload::MetricDef>,
    pub points: Vec<HistoryPoint>,
}

impl HistoryReport {
    pub fn build(
        store: &Store,
        benchmark: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<HistoryReport, StoreError> {
        let history = store.history(benchmark, since)?;
        let mut quick_runs = std::collections::HashMap::new();
        for result in &history {
            if let std::collections::hash_map::Entry::Vacant(e) = quick_runs.entry(result.run_id) {
                e.insert(store.run(result.run_id)?.is_some_and(|r| r.quick));
            }
        }
        Ok(HistoryReport {
            benchmark: benchmark.to_string(),
            unit: history.first().map(|r| r.metric.display_unit()),
            direction: history.first().map(|r| r.metric.direction),
            metric: history.first().map(|r| r.metric.clone()),
            points: history
                .iter()
                .map(|r| HistoryPoint {
                    run_id: r.run_id,
                    started_at: r.started_at,
                    status: r.status,
                    quick: quick_runs.get(&r.run_id).copied().unwrap_or(false),
                    median: r.summary.as_ref().map(|s| s.median),
                    median_ci_low: r.summary.as_ref().and_then(|s| s.median_ci).map(|c| c.low),
                    median_ci_high: r.summary.as_ref().and_then(|s| s.median_ci).map(|c| c.high),
                    cv: r.summary.as_ref().map(|s| s.cv),
                    config_hash: r.config_hash.clone(),
                    fingerprint: r.fingerprint.clone(),
                })
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub benchmark: String,
    pub unit: String,
    pub status_a: BenchStatus,
    pub status_b: BenchStatus,
    pub median_a: Option<f64>,
    pub median_b: Option<f64>,
    /// `null` when either side has no usable result or the configs differ.
    pub change: Option<Change>,
    pub same_config: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub run_a: RunRecord,
    pub run_b: RunRecord,
    pub same_fingerprint: bool,
    pub rows: Vec<CompareRow>,
}

impl CompareReport {
    pub fn build(store: &Store, a: RunRecord, b: RunRecord) -> Result<CompareReport, StoreError> {
        let rows = detect::compare_runs(store, &a, &b)?
            .into_iter()
            .map(|(ra, rb, change)| CompareRow {
                benchmark: rb.benchmark.clone(),
                unit: rb.metric.display_unit(),
                status_a: ra.status,
                status_b: rb.status,
                median_a: ra.primary(),
                median_b: rb.primary(),
                same_config: ra.config_hash == rb.config_hash,
                change,
            })
            .collect();
        Ok(CompareReport {
            same_fingerprint: a.fingerprint == b.fingerprint,
            run_a: a,
            run_b: b,
            rows,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FingerprintReport {
    pub hash: String,
    pub fingerprint: Fingerprint,
}

/// One change point of an analysed series, with its timestamp when the input had them.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzedPoint {
    pub timestamp: Option<String>,
    #[serde(flatten)]
    pub point: crate::detect::history::LabelledChangePoint,
}

/// `perfwarden analyze`: change points and trend of a user's series.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisReport {
    pub input: String,
    pub points: usize,
    pub direction: crate::workload::Direction,
    pub tolerance: f64,
    /// What the trend slope is per: `point` (no timestamps) or `second`.
    pub slope_per: String,
    pub change_points: Vec<AnalyzedPoint>,
    pub trend: Option<crate::detect::history::Trend>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemView {
    pub file: String,
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl From<&ConfigProblem> for ProblemView {
    fn from(p: &ConfigProblem) -> Self {
        ProblemView {
            file: p.file.clone(),
            key: p.key.clone(),
            line: p.line,
            message: p.message.clone(),
            hint: p.hint.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub source: String,
    pub valid: bool,
    pub suites: Vec<String>,
    pub benchmarks: usize,
    pub problems: Vec<ProblemView>,
}
