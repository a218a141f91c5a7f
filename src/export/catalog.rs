//! The metric and event catalog: the single source of every exported name. Dashboards and
//! alert rules use the Prometheus form of these names ([`prometheus_name`]), and the tests
//! fail when either names a series this table does not produce.
//!
//! Names follow OpenTelemetry: dot-separated, lowercase, no unit and no `total` inside the
//! name; the UCUM unit is set on the instrument. [`prometheus_name`] applies the
//! translation the OpenTelemetry Collector and Prometheus' OTLP receiver use by default, so
//! the scrape endpoint serves the very names a pushed series gets.

/// How a value behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    /// The latest value.
    Gauge,
    /// Cumulative and monotonic (cumulative temporality).
    Counter,
}

/// One exported metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    /// OpenTelemetry name.
    pub name: &'static str,
    pub instrument: Instrument,
    /// UCUM unit.
    pub unit: &'static str,
    pub description: &'static str,
    pub attributes: &'static [&'static str],
}

/// Statistics of one benchmark result, exported as the `statistic` attribute.
pub const STATISTICS: &[&str] = &[
    "median",
    "mean",
    "p95",
    "p99",
    "min",
    "max",
    "baseline_median",
    "baseline_low",
    "baseline_high",
];

const BENCH: &[&str] = &["benchmark", "suite", "statistic"];

pub(crate) const BENCHMARK_DURATION: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.duration",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Time per operation (or the time a command or load test measured) of a benchmark's latest run, by statistic; baseline_low/high bound the band within the effective tolerance of the baseline median",
    attributes: BENCH,
};
pub(crate) const BENCHMARK_THROUGHPUT: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.throughput",
    instrument: Instrument::Gauge,
    unit: "{operation}/s",
    description: "Operations per second of a throughput benchmark's latest run, by statistic",
    attributes: BENCH,
};
pub(crate) const BENCHMARK_BANDWIDTH: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.bandwidth",
    instrument: Instrument::Gauge,
    unit: "By/s",
    description: "Bytes per second of a bandwidth benchmark's latest run, by statistic",
    attributes: BENCH,
};
pub(crate) const BENCHMARK_MEMORY: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.memory",
    instrument: Instrument::Gauge,
    unit: "By",
    description: "Resident memory of a watched process (process.memory) in the latest run, by statistic of its readings",
    attributes: BENCH,
};
pub(crate) const BENCHMARK_RATIO: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.ratio",
    instrument: Instrument::Gauge,
    unit: "1",
    description: "Dimensionless primary value of the latest run (cpu.parallel scaling efficiency, load.mixed slowdown), by statistic",
    attributes: BENCH,
};
pub(crate) const BENCHMARK_CHANGE: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.change",
    instrument: Instrument::Gauge,
    unit: "1",
    description: "Relative change of the latest run's median against the baseline, positive = worse",
    attributes: &["benchmark", "suite"],
};
pub(crate) const BENCHMARK_NOISE: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.noise",
    instrument: Instrument::Gauge,
    unit: "1",
    description: "Run-to-run coefficient of variation of the baseline runs' medians",
    attributes: &["benchmark", "suite"],
};
pub(crate) const BENCHMARK_DETECTABLE_CHANGE: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.detectable_change",
    instrument: Instrument::Gauge,
    unit: "1",
    description: "Smallest sustained change one run can flag at the baseline's noise; above the configured tolerance the benchmark is too noisy for it",
    attributes: &["benchmark", "suite"],
};
pub(crate) const BENCHMARK_ERROR_RATIO: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.error_ratio",
    instrument: Instrument::Gauge,
    unit: "1",
    description: "Share of failed operations in the latest run (load tests, Redis, commands), by failure class; class=\"all\" is every failure",
    attributes: &["benchmark", "suite", "class"],
};
/// Per-operation latency quantiles, exported as the `statistic` attribute.
pub const LATENCY_STATISTICS: &[&str] = &["p50", "p90", "p95", "p99", "p999", "max"];
pub(crate) const BENCHMARK_LATENCY: MetricSpec = MetricSpec {
    name: "perfwarden.benchmark.latency",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Per-operation latency of the latest run (HDR histogram over all measured operations: requests, cache operations, file operations), by quantile",
    attributes: BENCH,
};
pub(crate) const REGRESSION_ACTIVE: MetricSpec = MetricSpec {
    name: "perfwarden.regression.active",
    instrument: Instrument::Gauge,
    unit: "{regression}",
    description: "1 while a regression is open, by severity and state",
    attributes: &["benchmark", "suite", "severity", "state"],
};
pub(crate) const REGRESSION_EVENT: MetricSpec = MetricSpec {
    name: "perfwarden.regression.event.timestamp",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Unix time of the run at which each benchmark's latest regression was suspected, confirmed or resolved (event); for Grafana annotations with the series value as the time",
    attributes: &["benchmark", "suite", "event", "severity"],
};
pub(crate) const CHANGE_POINT: MetricSpec = MetricSpec {
    name: "perfwarden.change_point.timestamp",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Unix time of the run that starts the latest level shift in each benchmark's history, by movement (worse or better); for Grafana annotations",
    attributes: &["benchmark", "suite", "movement"],
};
pub(crate) const ENVIRONMENT_CHANGE: MetricSpec = MetricSpec {
    name: "perfwarden.environment.change.timestamp",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Unix time of the first run after each suite's latest software (kind=software) or hardware (kind=hardware) change, with what changed (summary); for Grafana annotations",
    attributes: &["suite", "kind", "summary"],
};
pub(crate) const HEALTH_SCORE: MetricSpec = MetricSpec {
    name: "perfwarden.health.score",
    instrument: Instrument::Gauge,
    unit: "{score}",
    description: "Health score 0-100 of each suite, and of the host (no suite attribute)",
    attributes: &["suite"],
};
pub(crate) const SUITE_RUNS: MetricSpec = MetricSpec {
    name: "perfwarden.suite.runs",
    instrument: Instrument::Counter,
    unit: "{run}",
    description: "Runs of each suite that ended, by outcome, since the database was created",
    attributes: &["suite", "outcome"],
};
pub(crate) const SUITE_DURATION: MetricSpec = MetricSpec {
    name: "perfwarden.suite.duration",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Wall time of each suite's latest finished run",
    attributes: &["suite"],
};
pub(crate) const SUITE_LAST_SUCCESS: MetricSpec = MetricSpec {
    name: "perfwarden.suite.last_success.timestamp",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Unix time at which each suite last finished a full run successfully",
    attributes: &["suite"],
};
pub(crate) const BUILD_INFO: MetricSpec = MetricSpec {
    name: "perfwarden.build.info",
    instrument: Instrument::Gauge,
    unit: "{build}",
    description: "Always 1, with the agent's version, the commit it was built from, the build date and the compiler, so a fleet's versions can be counted",
    attributes: &["version", "commit", "build_date", "rustc"],
};
pub(crate) const CONFIG_RELOAD_SUCCESSFUL: MetricSpec = MetricSpec {
    name: "perfwarden.config.last_reload.successful",
    instrument: Instrument::Gauge,
    unit: "{status}",
    description: "1 when the daemon's last config load (at start or on SIGHUP) was accepted; 0 when a reload was rejected and the previous config keeps running",
    attributes: &[],
};
pub(crate) const CONFIG_RELOAD_SUCCESS_TIME: MetricSpec = MetricSpec {
    name: "perfwarden.config.last_reload.success.timestamp",
    instrument: Instrument::Gauge,
    unit: "s",
    description: "Unix time of the daemon's last accepted config load (its start, or the last SIGHUP it accepted)",
    attributes: &[],
};
pub(crate) const EXPORT_BACKLOG: MetricSpec = MetricSpec {
    name: "perfwarden.export.backlog",
    instrument: Instrument::Gauge,
    unit: "{event}",
    description: "Alert events written to the outbox and not yet accepted by the collector",
    attributes: &[],
};

/// Every metric, in catalog order.
pub const METRICS: &[MetricSpec] = &[
    BENCHMARK_DURATION,
    BENCHMARK_THROUGHPUT,
    BENCHMARK_BANDWIDTH,
    BENCHMARK_MEMORY,
    BENCHMARK_RATIO,
    BENCHMARK_CHANGE,
    BENCHMARK_NOISE,
    BENCHMARK_DETECTABLE_CHANGE,
    BENCHMARK_ERROR_RATIO,
    BENCHMARK_LATENCY,
    REGRESSION_ACTIVE,
    REGRESSION_EVENT,
    CHANGE_POINT,
    ENVIRONMENT_CHANGE,
    HEALTH_SCORE,
    SUITE_RUNS,
    SUITE_DURATION,
    SUITE_LAST_SUCCESS,
    BUILD_INFO,
    CONFIG_RELOAD_SUCCESSFUL,
    CONFIG_RELOAD_SUCCESS_TIME,
    EXPORT_BACKLOG,
];

/// Log events (OTLP log records), by event name.
pub const EVENTS: &[(&str, &str)] = &[
    (
        "perfwarden.regression",
        "a regression is confirmed, escalates or resolves",
    ),
    (
        "perfwarden.environment.changed",
        "the software changed (kind=software: measured against the old baselines) or the hardware did (kind=hardware: a new baseline lineage)",
    ),
    ("perfwarden.suite.finished", "a suite run ends"),
];

/// The Prometheus name of `spec`, as the Collector's and Prometheus' OTLP translation
/// builds it: dots become `_`, the unit's suffix is appended unless the name already ends
/// in it, `1` becomes `_ratio` on gauges, a bare `{annotation}` adds nothing, and counters
/// end in `_total`.
pub fn prometheus_name(spec: &MetricSpec) -> String {
    let mut name = spec.name.replace('.', "_");
    let suffix = unit_suffix(spec.unit, spec.instrument);
    if let Some(suffix) = suffix {
        if !name.ends_with(&format!("_{suffix}")) && !name.contains(&format!("_{suffix}_")) {
            name.push('_');
            name.push_str(&suffix);
        }
    }
    if spec.instrument == Instrument::Counter && !name.ends_with("_total") {
        name.push_str("_total");
    }
    name
}

/// The name part a UCUM unit adds; `None` when it adds nothing.
fn unit_suffix(unit: &str, instrument: Instrument) -> Option<String> {
    if unit == "1" {
        return (instrument == Instrument::Gauge).then(|| "ratio".to_string());
    }
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main, Some(per)),
        None => (unit, None),
    };
    let word = |u: &str| -> Option<&'static str> {
        match u {
            "s" => Some("seconds"),
            "ms" => Some("milliseconds"),
            "By" => Some("bytes"),
            "KiBy" => Some("kibibytes"),
            "MiBy" => Some("mebibytes"),
            "%" => Some("percent"),
            _ => None,
        }
    };
    let per_word = |u: &str| -> Option<&'static str> {
        match u {
            "s" => Some("second"),
            "m" => Some("minute"),
            "h" => Some("hour"),
            "d" => Some("day"),
            _ => None,
        }
    };
    // `{annotation}` alone (or before a `/`) names no unit.
    let main = (!main.starts_with('{')).then(|| word(main)).flatten();
    let per = per.and_then(per_word);
    match (main, per) {
        (Some(m), Some(p)) => Some(format!("{m}_per_{p}")),
        (Some(m), None) => Some(m.to_string()),
        (None, Some(p)) => Some(format!("per_{p}")),
        (None, None) => None,
    }
}

/// The spec with this OpenTelemetry name.
pub fn metric(name: &str) -> Option<&'static MetricSpec> {
    METRICS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden list: the Prometheus form of every catalog name. A change here changes what
    /// dashboards and alert rules must query.
    #[test]
    fn every_name_has_its_prometheus_form() {
        let names: Vec<(&str, String)> = METRICS
            .iter()
            .map(|m| (m.name, prometheus_name(m)))
            .collect();
        let expected = [
            (
                "perfwarden.benchmark.duration",
                "perfwarden_benchmark_duration_seconds",
            ),
            (
                "perfwarden.benchmark.throughput",
                "perfwarden_benchmark_throughput_per_second",
            ),
            (
                "perfwarden.benchmark.bandwidth",
                "perfwarden_benchmark_bandwidth_bytes_per_second",
            ),
            (
                "perfwarden.benchmark.memory",
                "perfwarden_benchmark_memory_bytes",
            ),
            ("perfwarden.benchmark.ratio", "perfwarden_benchmark_ratio"),
            (
                "perfwarden.benchmark.change",
                "perfwarden_benchmark_change_ratio",
            ),
            (
                "perfwarden.benchmark.noise",
                "perfwarden_benchmark_noise_ratio",
            ),
            (
                "perfwarden.benchmark.detectable_change",
                "perfwarden_benchmark_detectable_change_ratio",
            ),
            (
                "perfwarden.benchmark.error_ratio",
                "perfwarden_benchmark_error_ratio",
            ),
            (
                "perfwarden.benchmark.latency",
                "perfwarden_benchmark_latency_seconds",
            ),
            (
                "perfwarden.regression.active",
                "perfwarden_regression_active",
            ),
            (
                "perfwarden.regression.event.timestamp",
                "perfwarden_regression_event_timestamp_seconds",
            ),
            (
                "perfwarden.change_point.timestamp",
                "perfwarden_change_point_timestamp_seconds",
            ),
            (
                "perfwarden.environment.change.timestamp",
                "perfwarden_environment_change_timestamp_seconds",
            ),
            ("perfwarden.health.score", "perfwarden_health_score"),
            ("perfwarden.suite.runs", "perfwarden_suite_runs_total"),
            (
                "perfwarden.suite.duration",
                "perfwarden_suite_duration_seconds",
            ),
            (
                "perfwarden.suite.last_success.timestamp",
                "perfwarden_suite_last_success_timestamp_seconds",
            ),
            ("perfwarden.build.info", "perfwarden_build_info"),
            (
                "perfwarden.config.last_reload.successful",
                "perfwarden_config_last_reload_successful",
            ),
            (
                "perfwarden.config.last_reload.success.timestamp",
                "perfwarden_config_last_reload_success_timestamp_seconds",
            ),
            ("perfwarden.export.backlog", "perfwarden_export_backlog"),
        ];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(a, b)| (*a, b.to_string())).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn names_follow_the_opentelemetry_conventions() {
        for m in METRICS {
            assert!(m.name.starts_with("perfwarden."), "{}", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{}",
                m.name
            );
            assert!(!m.name.contains("total"), "{}", m.name);
            assert!(!m.description.is_empty());
            assert!(metric(m.name).is_some());
        }
        let mut unique: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), METRICS.len());
    }

    #[test]
    fn unit_translation_rules() {
        let gauge = Instrument::Gauge;
        assert_eq!(unit_suffix("s", gauge).as_deref(), Some("seconds"));
        assert_eq!(
            unit_suffix("By/s", gauge).as_deref(),
            Some("bytes_per_second")
        );
        assert_eq!(
            unit_suffix("{operation}/s", gauge).as_deref(),
            Some("per_second")
        );
        assert_eq!(unit_suffix("{run}", gauge), None);
        assert_eq!(unit_suffix("1", gauge).as_deref(), Some("ratio"));
        assert_eq!(unit_suffix("1", Instrument::Counter), None);
    }
}

#[cfg(test)]
mod glossary {
    use super::*;

    #[test]
    fn the_metrics_doc_lists_every_metric() {
        let readme = include_str!("../../docs/metrics.md");
        for m in METRICS {
            let row = format!("| `{}` | `{}` | `{}` |", m.name, m.unit, prometheus_name(m));
            assert!(readme.contains(&row), "docs/metrics.md lacks the row {row}");
        }
        for (event, _) in EVENTS {
            let row = format!("| `{event}` |");
            assert!(
                readme.contains(&row),
                "docs/metrics.md lacks the event row {row}"
            );
        }
    }
}
