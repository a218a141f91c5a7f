//! The exported state: every metric point the catalog defines, computed from what the
//! store holds (the latest run of each suite, the open regressions, the health scores).
//! Results come once a week, so exporters re-send this persisted state on every interval
//! and after a restart; nothing here depends on the process having seen the run.

use std::collections::BTreeMap;

use super::catalog::{self, MetricSpec};
use crate::detect::health::HealthReport;
use crate::model::metric::Quantity;
use crate::model::records::{BenchStatus, RunStatus};
use crate::store::{Store, StoreError};

/// One value of one metric with its attributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub metric: &'static MetricSpec,
    pub attributes: Vec<(&'static str, String)>,
    pub value: f64,
}

fn point(
    metric: &'static MetricSpec,
    attributes: Vec<(&'static str, String)>,
    value: f64,
) -> Option<Point> {
    value.is_finite().then_some(Point {
        metric,
        attributes,
        value,
    })
}

/// Every point of the current state, in catalog order.
pub(crate) fn collect(store: &Store) -> Result<Vec<Point>, StoreError> {
    let mut points = Vec::new();
    let runs = store.runs(None, None)?;

    // Latest finished run of each suite (runs are newest first).
    let mut latest: BTreeMap<&str, &crate::model::records::RunRecord> = BTreeMap::new();
    for run in &runs {
        if matches!(run.status, RunStatus::Running | RunStatus::Skipped) {
            continue;
        }
        latest.entry(run.suite.as_str()).or_insert(run);
    }

    for (suite, run) in &latest {
        for result in store.results(run.id)? {
            // Failures are data: a load test aborted by its error guard still reports how
            // its requests failed.
            if let Some(outcomes) = result.details.as_ref().and_then(|d| d.outcomes.as_ref()) {
                let class = |class: &str| {
                    vec![
                        ("benchmark", result.benchmark.clone()),
                        ("suite", suite.to_string()),
                        ("class", class.to_string()),
                    ]
                };
                points.extend(point(
                    &catalog::BENCHMARK_ERROR_RATIO,
                    class("all"),
                    outcomes.error_ratio(),
                ));
                for name in outcomes.failed.keys() {
                    points.extend(point(
                        &catalog::BENCHMARK_ERROR_RATIO,
                        class(name),
                        outcomes.class_ratio(name),
                    ));
                }
            }
            if result.status == BenchStatus::Failed {
                continue;
            }
            let Some(summary) = &result.summary else {
                continue;
            };
            let metric = match result.metric.quantity {
                Quantity::Duration | Quantity::Time => &catalog::BENCHMARK_DURATION,
                Quantity::Throughput => &catalog::BENCHMARK_THROUGHPUT,
                Quantity::Bandwidth => &catalog::BENCHMARK_BANDWIDTH,
                Quantity::Size => &catalog::BENCHMARK_MEMORY,
                Quantity::Ratio => &catalog::BENCHMARK_RATIO,
            };
            let labels = |statistic: &str| {
                vec![
                    ("benchmark", result.benchmark.clone()),
                    ("suite", suite.to_string()),
                    ("statistic", statistic.to_string()),
                ]
            };
            for (statistic, value) in [
                ("median", summary.median),
                ("mean", summary.mean),
                ("p95", summary.p95),
                ("p99", summary.p99),
                ("min", summary.min),
                ("max", summary.max),
            ] {
                points.extend(point(metric, labels(statistic), value));
            }
            let verdict = store.verdict(run.id, &result.benchmark)?;
            let pair = || {
                vec![
                    ("benchmark", result.benchmark.clone()),
                    ("suite", suite.to_string()),
                ]
            };
            if let Some(evidence) = verdict.as_ref().and_then(|v| v.evidence.as_ref()) {
                let base = evidence.baseline_median;
                points.extend(point(metric, labels("baseline_median"), base));
                points.extend(point(
                    metric,
                    labels("baseline_low"),
                    base * (1.0 - evidence.tolerance),
                ));
                points.extend(point(
                    metric,
                    labels("baseline_high"),
                    base * (1.0 + evidence.tolerance),
                ));
                points.extend(point(
                    &catalog::BENCHMARK_CHANGE,
                    pair(),
                    evidence.worse_change,
                ));
            }
            if let Some(latency) = &result.latency {
                for (statistic, value) in [
                    ("p50", latency.p50),
                    ("p90", latency.p90),
                    ("p95", latency.p95),
                    ("p99", latency.p99),
                    ("p999", latency.p999),
                    ("max", latency.max),
                ] {
                    points.extend(point(&catalog::BENCHMARK_LATENCY, labels(statistic), value));
                }
            }
            let noise = verdict.as_ref().and_then(|v| v.noise.as_ref());
            if let Some(cv) = noise.and_then(|n| n.run_to_run_cv) {
                points.extend(point(&catalog::BENCHMARK_NOISE, pair(), cv));
            }
            if let Some(mdc) = noise.and_then(|n| n.minimum_detectable_change) {
                points.extend(point(&catalog::BENCHMARK_DETECTABLE_CHANGE, pair(), mdc));
            }
        }
    }

    for regression in store.open_regressions()? {
        points.extend(point(
            &catalog::REGRESSION_ACTIVE,
            vec![
                ("benchmark", regression.benchmark.clone()),
                ("suite", regression.suite.clone()),
                ("severity", regression.severity.as_str().to_string()),
                ("state", regression.state.as_str().to_string()),
            ],
            1.0,
        ));
    }

    let health = HealthReport::build(store, None)?;
    if let Some(score) = health.host_score {
        points.extend(point(&catalog::HEALTH_SCORE, Vec::new(), score));
    }
    for suite in &health.suites {
        points.extend(point(
            &catalog::HEALTH_SCORE,
            vec![("suite", suite.suite.clone())],
            suite.health.score,
        ));
    }

    for ((suite, outcome), count) in store.run_counts()? {
        points.extend(point(
            &catalog::SUITE_RUNS,
            vec![("suite", suite), ("outcome", outcome)],
            count as f64,
        ));
    }
    for (suite, run) in &latest {
        if let Some(duration) = run.duration_secs() {
            points.extend(point(
                &catalog::SUITE_DURATION,
                vec![("suite", suite.to_string())],
                duration,
            ));
        }
    }
    let mut last_success: BTreeMap<&str, f64> = BTreeMap::new();
    for run in &runs {
        if run.status == RunStatus::Success && !run.quick {
            if let Some(end) = run.finished_at {
                last_success
                    .entry(run.suite.as_str())
                    .or_insert(end.timestamp_millis() as f64 / 1000.0);
            }
        }
    }
    for (suite, at) in last_success {
        points.extend(point(
            &catalog::SUITE_LAST_SUCCESS,
            vec![("suite", suite.to_string())],
            at,
        ));
    }
    points.extend(point(
        &catalog::EXPORT_BACKLOG,
        Vec::new(),
        store.outbox_len()? as f64,
    ));

    let order = |p: &Point| {
        catalog::METRICS
            .iter()
            .position(|m| m.name == p.metric.name)
            .unwrap_or(usize::MAX)
    };
    points.sort_by_key(order);
    Ok(points)
}
