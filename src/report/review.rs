//! The review behind `perfwarden report`: the health report of today plus what a person
//! needs to see it — every benchmark's run medians over the period with its verdicts,
//! each open regression's before/after samples and the host change around it, the
//! regressions opened and closed in the period, what changed on the host, and each suite's
//! health score run by run.
//!
//! Built once from the store; the text, JSON, Markdown and HTML renderings all read this,
//! so a monthly review says the same in every format.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::detect::health::{Health, HealthReport, health_over_time};
use crate::detect::{self, EnvironmentChange, HostChange};
use crate::model::metric::{LatencySummary, MetricDef};
use crate::model::records::{BenchStatus, RunRecord, Trigger};
use crate::model::slo::SloOutcome;
use crate::model::verdict::{
    Evidence, HistoryShift, Outcome, Regression, RegressionState, Transition,
};
use crate::store::{Store, StoreError};

/// One run of a benchmark, as the charts draw it.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    pub status: BenchStatus,
    pub quick: bool,
    pub busy_host: bool,
    /// A re-run that confirmed or cleared a suspicion.
    pub confirmation: bool,
    pub median: Option<f64>,
    pub median_ci_low: Option<f64>,
    pub median_ci_high: Option<f64>,
    pub outcome: Option<Outcome>,
    pub transition: Option<Transition>,
    pub config_hash: String,
    pub fingerprint: String,
    /// What changed in the software environment since the benchmark's previous run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_change: Option<String>,
    /// Load tests: latency quantiles (seconds) and the failed share of requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<f64>,
}

/// A benchmark's baseline as its latest verdict judged against: level ± the effective
/// tolerance, over the runs it pools.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineBand {
    pub runs: Vec<u64>,
    pub level: f64,
    pub tolerance: f64,
    pub minimum_detectable_change: Option<f64>,
}

/// One benchmark over the period.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkSeries {
    pub benchmark: String,
    pub suite: String,
    pub kind: String,
    pub unit: String,
    pub metric: MetricDef,
    /// The latest run's verdict and the regression state after it: the sparkline's colour.
    pub latest_outcome: Option<Outcome>,
    pub latest_state: Option<RegressionState>,
    pub baseline: Option<BaselineBand>,
    pub change_points: Vec<HistoryShift>,
    pub points: Vec<SeriesPoint>,
}

impl BenchmarkSeries {
    /// `regression`, `suspected`, `improvement`, `ok` or `none`: how the benchmark stands.
    pub(crate) fn standing(&self) -> &'static str {
        match (self.latest_state, self.latest_outcome) {
            (Some(RegressionState::Confirmed), _) => "regression",
            (Some(RegressionState::Suspected), _) => "suspected",
            (_, Some(Outcome::Failing)) => "regression",
            (_, Some(Outcome::Improvement)) => "improvement",
            (_, Some(Outcome::NoChange)) => "ok",
            _ => "none",
        }
    }

    pub(crate) fn is_load_test(&self) -> bool {
        self.kind.starts_with("load.")
    }
}

/// An open regression with what the report shows beside its chart.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionDetail {
    pub regression: Regression,
    /// The latest run's evidence.
    pub evidence: Option<Evidence>,
    /// The last run before it that was within tolerance (its samples are "before").
    pub last_good_run: Option<u64>,
    /// The run whose samples are "after": its latest.
    pub latest_run: u64,
    /// What changed on the host at the run that opened it.
    pub host_change: Option<EnvironmentChange>,
    /// Raw samples, for the distributions (not in JSON: `db export` has them).
    #[serde(skip)]
    pub before_samples: Vec<f64>,
    #[serde(skip)]
    pub after_samples: Vec<f64>,
    /// The commands that take it further, in order.
    pub next_steps: Vec<String>,
}

/// A suite's health score after each of its runs in the period.
#[derive(Debug, Clone, Serialize)]
pub struct HealthPoint {
    pub suite: String,
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    pub score: f64,
    pub grade: char,
}

/// `perfwarden report [--since 30d]`.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewReport {
    /// The host the runs were measured on (the latest run's).
    pub host: Option<String>,
    /// `--since` as given (`30d`); `null` for the whole history.
    pub period: Option<String>,
    pub since: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub health: HealthReport,
    pub benchmarks: Vec<BenchmarkSeries>,
    pub regression_details: Vec<RegressionDetail>,
    /// Regressions opened or ended in the period (every one without `--since`).
    pub regression_log: Vec<Regression>,
    pub changes: Vec<HostChange>,
    pub health_over_time: Vec<HealthPoint>,
    /// Every SLO of the latest runs, met or not.
    pub slos: Vec<SloLine>,
}

/// How a regression of the log ended: "resolved at run 12", "accepted", "open".
pub(crate) fn ending_words(r: &Regression) -> String {
    match (r.ended, r.ended_run) {
        (Some(e), Some(run)) => format!("{} at run {run}", e.as_str()),
        (Some(e), None) => e.as_str().to_string(),
        _ => "open".into(),
    }
}

/// One SLO as the latest run of its suite measured it.
#[derive(Debug, Clone, Serialize)]
pub struct SloLine {
    pub benchmark: String,
    pub run_id: u64,
    #[serde(flatten)]
    pub outcome: SloOutcome,
}

impl ReviewReport {
    /// The period in words: "the last 30d", or "the recorded history".
    pub(crate) fn period_words(&self) -> String {
        self.period
            .as_deref()
            .map(|p| format!("the last {p}"))
            .unwrap_or_else(|| "the recorded history".into())
    }

    pub fn empty(period: Option<String>, since: Option<DateTime<Utc>>) -> ReviewReport {
        ReviewReport {
            host: None,
            period,
            since,
            health: HealthReport {
                host_score: None,
                host_grade: None,
                suites: Vec::new(),
            },
            benchmarks: Vec::new(),
            regression_details: Vec::new(),
            regression_log: Vec::new(),
            changes: Vec::new(),
            health_over_time: Vec::new(),
            slos: Vec::new(),
        }
    }

    /// The health of each suite's latest run only, as the text report prints it without a
    /// period: no series, history or health curve is read, so it answers at once on any
    /// history.
    pub fn summary(store: &Store, only_suite: Option<&str>) -> Result<ReviewReport, StoreError> {
        let health = HealthReport::build(store, only_suite)?;
        let mut report = ReviewReport::empty(None, None);
        report.host = latest_host(&health);
        report.health = health;
        Ok(report)
    }

    pub fn build(
        store: &Store,
        only_suite: Option<&str>,
        period: Option<String>,
        since: Option<DateTime<Utc>>,
    ) -> Result<ReviewReport, StoreError> {
        let health = HealthReport::build(store, only_suite)?;
        let mut runs: HashMap<u64, RunRecord> = HashMap::new();
        for run in store.runs(only_suite, None)? {
            runs.insert(run.id, run);
        }
        let mut benchmarks = Vec::new();
        for suite in &health.suites {
            for name in &suite.latest_run.benchmarks {
                if benchmarks
                    .iter()
                    .any(|b: &BenchmarkSeries| &b.benchmark == name)
                {
                    continue;
                }
                if let Some(series) = series(store, name, &suite.suite, since, &runs)? {
                    benchmarks.push(series);
                }
            }
        }
        let mut regression_details = Vec::new();
        for suite in &health.suites {
            for regression in &suite.open_regressions {
                regression_details.push(detail(store, regression, &benchmarks, &runs)?);
            }
        }
        let in_period = |id: u64| {
            since.is_none_or(|since| runs.get(&id).is_some_and(|r| r.started_at >= since))
        };
        let log = store.regression_log()?;
        let regression_log = log
            .iter()
            .filter(|r| only_suite.is_none_or(|s| r.suite == s))
            .filter(|r| in_period(r.first_run) || r.ended_run.is_some_and(in_period))
            .cloned()
            .collect();
        let changes = detect::host_changes(store, since)?
            .into_iter()
            .filter(|c| only_suite.is_none_or(|s| c.suite == s))
            .collect();
        let mut over_time = Vec::new();
        for suite in &health.suites {
            for (run, Health { score, grade, .. }) in
                health_over_time(store, &suite.suite, since, &log)?
            {
                over_time.push(HealthPoint {
                    suite: suite.suite.clone(),
                    run_id: run.id,
                    started_at: run.started_at,
                    score,
                    grade,
                });
            }
        }
        let mut slos = Vec::new();
        for suite in &health.suites {
            for result in store.results(suite.latest_run.id)? {
                if let Some(verdict) = store.verdict(result.run_id, &result.benchmark)? {
                    slos.extend(verdict.slo.into_iter().map(|outcome| SloLine {
                        benchmark: result.benchmark.clone(),
                        run_id: result.run_id,
                        outcome,
                    }));
                }
            }
        }
        Ok(ReviewReport {
            host: latest_host(&health),
            period,
            since,
            health,
            benchmarks,
            regression_details,
            regression_log,
            changes,
            health_over_time: over_time,
            slos,
        })
    }
}

/// The host of the newest latest run.
fn latest_host(health: &HealthReport) -> Option<String> {
    health
        .suites
        .iter()
        .max_by_key(|s| s.latest_run.started_at)
        .map(|s| s.latest_run.host.clone())
}

fn series(
    store: &Store,
    benchmark: &str,
    suite: &str,
    since: Option<DateTime<Utc>>,
    runs: &HashMap<u64, RunRecord>,
) -> Result<Option<BenchmarkSeries>, StoreError> {
    series_of(
        store,
        benchmark,
        suite,
        &store.history(benchmark, since)?,
        runs,
    )
}

/// [`series`] of a history already read.
pub(crate) fn series_of(
    store: &Store,
    benchmark: &str,
    suite: &str,
    history: &[crate::model::records::BenchmarkResult],
    runs: &HashMap<u64, RunRecord>,
) -> Result<Option<BenchmarkSeries>, StoreError> {
    let Some(latest) = history.last() else {
        return Ok(None);
    };
    let mut points = Vec::with_capacity(history.len());
    let mut latest_verdict = None;
    for result in history {
        let verdict = store.verdict(result.run_id, benchmark)?;
        let run = runs.get(&result.run_id);
        let error_ratio = result
            .details
            .as_ref()
            .and_then(|d| d.outcomes.as_ref())
            .filter(|o| o.attempted > 0)
            .map(|o| o.failures() as f64 / o.attempted as f64);
        points.push(SeriesPoint {
            run_id: result.run_id,
            started_at: result.started_at,
            status: result.status,
            quick: result.quick,
            busy_host: result.busy_host,
            confirmation: run.is_some_and(|r| r.trigger == Some(Trigger::Confirmation)),
            median: result.summary.as_ref().map(|s| s.median),
            median_ci_low: result
                .summary
                .as_ref()
                .and_then(|s| s.median_ci)
                .map(|c| c.low),
            median_ci_high: result
                .summary
                .as_ref()
                .and_then(|s| s.median_ci)
                .map(|c| c.high),
            outcome: verdict.as_ref().map(|v| v.outcome),
            transition: verdict.as_ref().and_then(|v| v.transition),
            config_hash: result.config_hash.clone(),
            fingerprint: result.fingerprint.clone(),
            environment_change: verdict
                .as_ref()
                .and_then(|v| v.environment_change.as_ref())
                .map(|d| d.summary()),
            latency: result.latency.clone(),
            error_ratio,
        });
        if verdict.is_some() {
            latest_verdict = verdict;
        }
    }
    let baseline = latest_verdict
        .as_ref()
        .and_then(|v| v.evidence.as_ref())
        .map(|e| BaselineBand {
            runs: e.baseline_runs.clone(),
            level: e.baseline_median,
            tolerance: e.tolerance,
            minimum_detectable_change: e.minimum_detectable_change,
        });
    Ok(Some(BenchmarkSeries {
        benchmark: benchmark.to_string(),
        suite: suite.to_string(),
        kind: latest.kind.clone(),
        unit: latest.metric.display_unit(),
        metric: latest.metric.clone(),
        latest_outcome: latest_verdict.as_ref().map(|v| v.outcome),
        latest_state: latest_verdict.as_ref().and_then(|v| v.state),
        baseline,
        change_points: latest_verdict.map(|v| v.change_points).unwrap_or_default(),
        points,
    }))
}

fn detail(
    store: &Store,
    regression: &Regression,
    benchmarks: &[BenchmarkSeries],
    runs: &HashMap<u64, RunRecord>,
) -> Result<RegressionDetail, StoreError> {
    let name = &regression.benchmark;
    let series = benchmarks.iter().find(|b| &b.benchmark == name);
    // The last comparable run before it that succeeded and was not judged a regression.
    let last_good_run = series.and_then(|s| {
        s.points
            .iter()
            .rev()
            .filter(|p| p.run_id < regression.first_run)
            .find(|p| {
                p.status == BenchStatus::Ok
                    && !p.quick
                    && p.config_hash == regression.config_hash
                    && p.outcome != Some(Outcome::Regression)
            })
            .map(|p| p.run_id)
    });
    let latest_run = regression.last_run;
    let before_samples = match last_good_run {
        Some(id) => store.samples(id, name)?,
        None => Vec::new(),
    };
    let after_samples = store.samples(latest_run, name)?;
    let evidence = store.verdict(latest_run, name)?.and_then(|v| v.evidence);
    let host_change = match runs.get(&regression.first_run) {
        Some(run) => detect::environment_change(store, run)?,
        None => None,
    };
    let mut next_steps = Vec::new();
    if let Some(good) = last_good_run {
        next_steps.push(format!("perfwarden compare {good} {latest_run}"));
        next_steps.push("perfwarden changes".to_string());
    }
    next_steps.push(format!("perfwarden history {name}"));
    next_steps.push(format!("perfwarden show {latest_run}"));
    if regression.state == RegressionState::Confirmed && regression.worse_change.is_some() {
        next_steps.push(format!(
            "perfwarden baseline accept {name}   # only once the new level is expected"
        ));
    }
    Ok(RegressionDetail {
        regression: regression.clone(),
        evidence,
        last_good_run,
        latest_run,
        host_change,
        before_samples,
        after_samples,
        next_steps,
    })
}
