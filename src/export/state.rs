//! The exported state: every metric point the catalog defines, computed from what the
//! store holds (each benchmark's newest result since its suite's newest scheduled run, the
//! open regressions, the health scores, the moments dashboards annotate).
//! Results come once a week, so exporters re-send this persisted state on every interval
//! and after a restart; nothing here depends on the process having seen the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::catalog::{self, MetricSpec};
use crate::detect::health::HealthReport;
use crate::model::metric::Quantity;
use crate::model::records::{BenchStatus, RunStatus};
use crate::store::{Store, StoreError};

/// What only a running daemon knows, not the store: how its last config load went (at
/// start, or on SIGHUP). A rejected reload leaves the previous config running, which
/// nothing else would show on a dashboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConfigLoad {
    /// The last load was accepted.
    pub ok: bool,
    /// When a load was last accepted.
    pub last_success: DateTime<Utc>,
}

/// The daemon's [`ConfigLoad`], updated on every reload and read by each export.
pub(crate) type SharedConfigLoad = Arc<Mutex<ConfigLoad>>;

impl ConfigLoad {
    /// The daemon's view now; `None` for a one-shot process, which has no reloads.
    pub(crate) fn read(shared: Option<&SharedConfigLoad>) -> Option<ConfigLoad> {
        shared.map(|cell| *cell.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

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

/// The current result of every benchmark of every suite: its newest result, over the
/// suite's runs from its newest scheduled one on (every run when none was scheduled), so a
/// confirmation re-run or a `run --bench` of a few benchmarks updates those and leaves the
/// others' series in place.
fn current_results(
    store: &Store,
    runs: &[crate::model::records::RunRecord],
) -> Result<Vec<(String, crate::model::records::BenchmarkResult)>, StoreError> {
    use crate::model::records::Trigger;
    let mut by_suite: BTreeMap<&str, Vec<&crate::model::records::RunRecord>> = BTreeMap::new();
    for run in runs {
        if !matches!(run.status, RunStatus::Running | RunStatus::Skipped) {
            by_suite.entry(run.suite.as_str()).or_default().push(run);
        }
    }
    let mut out = Vec::new();
    for (suite, suite_runs) in by_suite {
        // Newest first; up to and including the newest scheduled run.
        let end = suite_runs
            .iter()
            .position(|r| matches!(r.trigger, Some(Trigger::Scheduled | Trigger::CatchUp)))
            .map_or(suite_runs.len(), |i| i + 1);
        let mut seen = std::collections::HashSet::new();
        for run in &suite_runs[..end] {
            for result in store.results(run.id)? {
                if seen.insert(result.benchmark.clone()) {
                    out.push((suite.to_string(), result));
                }
            }
        }
    }
    Ok(out)
}

/// The moments Grafana annotates (each series' value is a Unix time): each benchmark's
/// latest regression suspected, confirmed and resolved, its latest change point, and each
/// suite's latest software and hardware change. Only the latest of each is a series, so
/// their number stays bounded; Prometheus keeps the earlier values as the series' history,
/// which is what an annotation query over a dashboard's range reads.
fn annotations(
    store: &Store,
    current: &[(String, crate::model::records::BenchmarkResult)],
) -> Result<Vec<Point>, StoreError> {
    use crate::model::verdict::{Ending, Transition};
    let mut out = Vec::new();
    let mut started: std::collections::HashMap<u64, f64> = std::collections::HashMap::new();
    let mut start_of = |id: u64| -> Result<Option<f64>, StoreError> {
        if let Some(at) = started.get(&id) {
            return Ok(Some(*at));
        }
        let at = store.run(id)?.map(|r| r.started_at.timestamp() as f64);
        if let Some(at) = at {
            started.insert(id, at);
        }
        Ok(at)
    };
    // The latest regression of each benchmark and suite.
    let mut newest: BTreeMap<(String, String), crate::model::verdict::Regression> = BTreeMap::new();
    for r in store.regression_log()? {
        let key = (r.benchmark.clone(), r.suite.clone());
        if newest.get(&key).is_none_or(|n| n.first_run < r.first_run) {
            newest.insert(key, r);
        }
    }
    for ((benchmark, suite), r) in newest {
        let labels = |event: &str| {
            vec![
                ("benchmark", benchmark.clone()),
                ("suite", suite.clone()),
                ("event", event.to_string()),
                ("severity", r.severity.as_str().to_string()),
            ]
        };
        if let Some(at) = start_of(r.first_run)? {
            out.extend(point(&catalog::REGRESSION_EVENT, labels("suspected"), at));
        }
        for run in &r.runs {
            let confirmed = store
                .verdict(*run, &benchmark)?
                .is_some_and(|v| v.transition == Some(Transition::Confirmed));
            if confirmed {
                if let Some(at) = start_of(*run)? {
                    out.extend(point(&catalog::REGRESSION_EVENT, labels("confirmed"), at));
                }
                break;
            }
        }
        if let (Some(Ending::Resolved), Some(run)) = (r.ended, r.ended_run) {
            if let Some(at) = start_of(run)? {
                out.extend(point(&catalog::REGRESSION_EVENT, labels("resolved"), at));
            }
        }
    }
    for (suite, result) in current {
        {
            let Some(verdict) = store.verdict(result.run_id, &result.benchmark)? else {
                continue;
            };
            if let Some(shift) = verdict.change_points.iter().max_by_key(|s| s.run_id) {
                if let Some(at) = start_of(shift.run_id)? {
                    out.extend(point(
                        &catalog::CHANGE_POINT,
                        vec![
                            ("benchmark", result.benchmark.clone()),
                            ("suite", suite.to_string()),
                            ("movement", shift.point.movement.as_str().to_string()),
                        ],
                        at,
                    ));
                }
            }
        }
    }
    let mut changes: BTreeMap<(String, &'static str), (f64, String)> = BTreeMap::new();
    for change in crate::detect::host_changes(store, None)? {
        let at = change.started_at.timestamp() as f64;
        if let Some(software) = &change.software {
            changes.insert((change.suite.clone(), "software"), (at, software.summary()));
        }
        if !change.hardware.is_empty() {
            changes.insert(
                (change.suite.clone(), "hardware"),
                (at, change.hardware.join(", ")),
            );
        }
    }
    for ((suite, kind), (at, summary)) in changes {
        out.extend(point(
            &catalog::ENVIRONMENT_CHANGE,
            vec![
                ("suite", suite),
                ("kind", kind.to_string()),
                ("summary", summary),
            ],
            at,
        ));
    }
    Ok(out)
}

/// Every point of the current state, in catalog order; the config-load series only for a
/// daemon (`config_load`).
pub(crate) fn collect(
    store: &Store,
    config_load: Option<ConfigLoad>,
) -> Result<Vec<Point>, StoreError> {
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

    let current = current_results(store, &runs)?;
    for (suite, result) in &current {
        let suite = &suite.as_str();
        let run_id = result.run_id;
        {
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
            let verdict = store.verdict(run_id, &result.benchmark)?;
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

    points.extend(annotations(store, &current)?);

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
        &catalog::BUILD_INFO,
        vec![
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("commit", crate::model::BUILD_COMMIT.to_string()),
            ("build_date", crate::model::BUILD_DATE.to_string()),
            ("rustc", crate::model::BUILD_RUSTC.to_string()),
        ],
        1.0,
    ));
    if let Some(load) = config_load {
        points.extend(point(
            &catalog::CONFIG_RELOAD_SUCCESSFUL,
            Vec::new(),
            if load.ok { 1.0 } else { 0.0 },
        ));
        points.extend(point(
            &catalog::CONFIG_RELOAD_SUCCESS_TIME,
            Vec::new(),
            load.last_success.timestamp_millis() as f64 / 1000.0,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::model::metric::MetricDef;
    use crate::model::options::BenchOptions;
    use crate::model::records::{SoftwareEnvironment, Trigger};
    use crate::runner::{self, BenchmarkPlan, RunContext, Silent, fingerprint};
    use crate::workload::CancelToken;
    use crate::workload::fake::{FakeClock, FakeStep, FakeWorkload};

    fn run(store: &Store, clock: &FakeClock, names: &[&str], trigger: Trigger) {
        let plans = names
            .iter()
            .map(|name| BenchmarkPlan {
                name: name.to_string(),
                kind: "fake".into(),
                config_hash: "h".into(),
                options: BenchOptions {
                    samples: 5,
                    warmup: Duration::ZERO,
                    min_time: Duration::from_millis(50),
                    time_budget: Duration::from_secs(5),
                    timeout: Duration::from_secs(60),
                    tolerance: 0.05,
                    major: 0.15,
                    critical: 0.3,
                    slo: Vec::new(),
                },
                workload: Box::new(FakeWorkload::new(
                    MetricDef::duration("op"),
                    clock.clone(),
                    vec![FakeStep::Take(Duration::from_micros(100))],
                )),
            })
            .collect();
        let ctx = RunContext {
            store,
            suite: "weekly".into(),
            quick: false,
            fingerprint: fingerprint::collect(),
            environment: SoftwareEnvironment::default(),
            host: "h".into(),
            clock: Arc::new(clock.clone()),
            cancel: CancelToken::new(),
            trigger,
            gate: None,
            confirms: None,
        };
        runner::run_suite(&ctx, plans, &mut Silent).unwrap();
    }

    fn exported_benchmarks(store: &Store) -> std::collections::BTreeSet<String> {
        collect(store, None)
            .unwrap()
            .into_iter()
            .filter(|p| p.metric.name == catalog::BENCHMARK_DURATION.name)
            .filter_map(|p| {
                p.attributes
                    .iter()
                    .find(|(k, _)| *k == "benchmark")
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }

    #[test]
    fn a_run_of_a_few_benchmarks_leaves_the_others_series_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let clock = FakeClock::new();
        run(&store, &clock, &["a", "b", "c"], Trigger::Scheduled);
        run(&store, &clock, &["b"], Trigger::Confirmation);
        run(&store, &clock, &["c"], Trigger::Manual);
        assert_eq!(
            exported_benchmarks(&store),
            ["a", "b", "c"].map(String::from).into()
        );
        // The next scheduled run defines the suite again: a benchmark it no longer has
        // stops being exported.
        run(&store, &clock, &["a", "b"], Trigger::Scheduled);
        assert_eq!(
            exported_benchmarks(&store),
            ["a", "b"].map(String::from).into()
        );
    }

    #[test]
    fn a_rejected_reload_is_exported_with_the_time_of_the_last_accepted_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let value = |points: &[Point], spec: &MetricSpec| {
            points
                .iter()
                .find(|p| p.metric.name == spec.name)
                .map(|p| p.value)
        };
        let one_shot = collect(&store, None).unwrap();
        assert_eq!(value(&one_shot, &catalog::CONFIG_RELOAD_SUCCESSFUL), None);
        let accepted = DateTime::parse_from_rfc3339("2026-12-01T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let rejected = ConfigLoad {
            ok: false,
            last_success: accepted,
        };
        let points = collect(&store, Some(rejected)).unwrap();
        assert_eq!(
            value(&points, &catalog::CONFIG_RELOAD_SUCCESSFUL),
            Some(0.0)
        );
        assert_eq!(
            value(&points, &catalog::CONFIG_RELOAD_SUCCESS_TIME),
            Some(accepted.timestamp() as f64)
        );
        let points = collect(
            &store,
            Some(ConfigLoad {
                ok: true,
                ..rejected
            }),
        )
        .unwrap();
        assert_eq!(
            value(&points, &catalog::CONFIG_RELOAD_SUCCESSFUL),
            Some(1.0)
        );
    }
}
