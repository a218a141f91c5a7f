//! The report's charts, from its data: a benchmark's run medians with its verdicts around
//! them, a load test's latency and errors, a suite's health score, and the sparklines of
//! the one-page grid. [`svg`](super::svg) draws; this file decides what is drawn and says
//! how to read it.

use super::format::{percent, value};
use super::review::{BenchmarkSeries, HealthPoint};
use super::svg::{self, Band, Line, Marker, Rule, TimeChart, TimePoint};
use crate::model::records::BenchStatus;
use crate::model::verdict::Transition;

/// A chart with the one line under it that says how to read it.
pub(crate) struct Figure {
    pub svg: String,
    pub how_to_read: &'static str,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;

fn seconds(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp() as f64
}

/// The step chart of a benchmark's run medians: each run's 95% interval, the baseline band
/// (level ± effective tolerance), change points, suspected / confirmed / resolved markers,
/// software changes and new lineages as vertical rules, confirmation runs as hollow dots.
pub(crate) fn benchmark_chart(series: &BenchmarkSeries) -> Figure {
    let metric = &series.metric;
    let mut points = Vec::new();
    let mut markers = Vec::new();
    let mut rules = Vec::new();
    let mut previous: Option<&super::review::SeriesPoint> = None;
    for p in &series.points {
        let x = seconds(p.started_at);
        if let Some(before) = previous {
            if before.fingerprint != p.fingerprint || before.config_hash != p.config_hash {
                rules.push(Rule {
                    x,
                    class: "lineage",
                    label: format!(
                        "run {}: {} changed — a new baseline starts",
                        p.run_id,
                        if before.fingerprint != p.fingerprint {
                            "hardware"
                        } else {
                            "the benchmark's configuration"
                        }
                    ),
                });
            }
        }
        if let Some(change) = &p.environment_change {
            rules.push(Rule {
                x,
                class: "environment",
                label: format!("run {}: {change}", p.run_id),
            });
        }
        previous = Some(p);
        let Some(median) = p.median else {
            continue;
        };
        let class = if p.status != BenchStatus::Ok {
            "failed"
        } else if p.confirmation {
            "confirmation"
        } else if p.quick {
            "quick"
        } else if p.busy_host {
            "busy"
        } else {
            ""
        };
        let marker = match p.transition {
            Some(Transition::Opened) => Some("suspected"),
            Some(Transition::Confirmed | Transition::Escalated) => Some("confirmed"),
            Some(Transition::Resolved | Transition::EnvironmentChanged) => Some("resolved"),
            _ => None,
        };
        if let Some(class) = marker {
            markers.push(Marker {
                x,
                y: p.median_ci_high.unwrap_or(median).max(median),
                class,
                label: format!(
                    "run {}: regression {}",
                    p.run_id,
                    match p.transition {
                        Some(Transition::Opened) => "suspected",
                        Some(Transition::Confirmed) => "confirmed",
                        Some(Transition::Escalated) => "escalated",
                        Some(Transition::EnvironmentChanged) => "closed by a hardware change",
                        _ => "resolved",
                    }
                ),
            });
        }
        let interval = p.median_ci_low.zip(p.median_ci_high);
        points.push(TimePoint {
            x,
            y: median,
            interval,
            class,
            label: format!(
                "run {} · {} · {}{}{}",
                p.run_id,
                p.started_at.format("%Y-%m-%d %H:%M"),
                value(median, metric),
                interval
                    .map(|(l, h)| format!(" [{}]", super::format::range(l, h, metric)))
                    .unwrap_or_default(),
                match class {
                    "confirmation" => " · confirmation run",
                    "quick" => " · --quick",
                    "busy" => " · busy host",
                    "failed" => " · failed",
                    _ => "",
                }
            ),
            keep: marker.is_some() || !class.is_empty(),
        });
    }
    for shift in &series.change_points {
        if let Some(p) = series.points.iter().find(|p| p.run_id == shift.run_id) {
            rules.push(Rule {
                x: seconds(p.started_at),
                class: "change-point",
                label: format!(
                    "change point at run {}: {} ({})",
                    shift.run_id,
                    percent(shift.point.point.relative_change),
                    shift.point.movement.as_str()
                ),
            });
        }
    }
    let mut bands = Vec::new();
    if let Some(baseline) = &series.baseline {
        let times: Vec<f64> = series
            .points
            .iter()
            .filter(|p| baseline.runs.contains(&p.run_id))
            .map(|p| seconds(p.started_at))
            .collect();
        let last = series.points.last().map(|p| seconds(p.started_at));
        if let (Some(from), Some(to)) = (times.iter().copied().reduce(f64::min), last) {
            let half = baseline.level.abs() * baseline.tolerance;
            bands.push(Band {
                from,
                to,
                level: baseline.level,
                low: baseline.level - half,
                high: baseline.level + half,
                label: format!(
                    "baseline {} ± {:.1}% over {} runs",
                    value(baseline.level, metric),
                    baseline.tolerance * 100.0,
                    baseline.runs.len()
                ),
            });
        }
    }
    let label = |v: f64| value(v, metric);
    let direction = match metric.direction {
        crate::model::metric::Direction::LowerIsBetter => "lower is better",
        crate::model::metric::Direction::HigherIsBetter => "higher is better",
    };
    let description = format!(
        "{} run medians of {} in {} ({direction}), {} markers, {} vertical rules{}",
        points.len(),
        series.benchmark,
        series.unit,
        markers.len(),
        rules.len(),
        series
            .baseline
            .as_ref()
            .map(|b| format!(
                ", baseline {} ± {:.1}%",
                value(b.level, metric),
                b.tolerance * 100.0
            ))
            .unwrap_or_default()
    );
    let chart = TimeChart {
        title: format!("{} — median per run ({})", series.benchmark, series.unit),
        description,
        lines: vec![Line {
            class: "",
            name: format!("{} median per run", series.benchmark),
            steps: true,
            dots: true,
            points,
        }],
        bands,
        rules,
        markers,
        value_label: &label,
        width: WIDTH,
        height: HEIGHT,
    };
    Figure {
        svg: chart.render(),
        how_to_read: "Each dot is one run's median with its 95% interval; the line holds a level until the next run. The green band is the baseline ± the tolerance the latest verdict used: dots outside it on the worse side are regressions. Triangles mark a regression suspected (amber), confirmed (red) and resolved (green); purple dotted rules are software changes, grey rules a new baseline (hardware or configuration), red dashed rules change points; hollow dots are confirmation re-runs, grey dots --quick or busy-host runs.",
    }
}

/// A load test's latency quantiles (p50, p90, p99) per run.
pub(crate) fn latency_chart(series: &BenchmarkSeries) -> Option<Figure> {
    let quantile =
        |class: &'static str,
         name: &str,
         pick: fn(&crate::model::metric::LatencySummary) -> f64| Line {
            class,
            name: format!("{} latency {name}", series.benchmark),
            steps: false,
            dots: false,
            points: series
                .points
                .iter()
                .filter_map(|p| {
                    let l = p.latency.as_ref()?;
                    Some(TimePoint {
                        x: seconds(p.started_at),
                        y: pick(l),
                        interval: None,
                        class: "",
                        label: String::new(),
                        keep: false,
                    })
                })
                .collect(),
        };
    let lines = vec![
        quantile("", "p50", |l| l.p50),
        quantile("p90", "p90", |l| l.p90),
        quantile("p99", "p99", |l| l.p99),
    ];
    if lines[0].points.is_empty() {
        return None;
    }
    let label = |v: f64| super::format::seconds(v);
    let chart = TimeChart {
        title: format!("{} — latency p50, p90, p99 per run", series.benchmark),
        description: format!(
            "latency quantiles of {} over {} runs",
            series.benchmark,
            lines[0].points.len()
        ),
        lines,
        bands: Vec::new(),
        rules: Vec::new(),
        markers: Vec::new(),
        value_label: &label,
        width: WIDTH,
        height: 200.0,
    };
    Some(Figure {
        svg: chart.render(),
        how_to_read: "Three lines per run: the median request (blue), the 90th (amber) and the 99th percentile (red). A p99 that rises while p50 holds points at queueing or pauses, not at slower work.",
    })
}

/// A load test's failed share of requests per run.
pub(crate) fn error_chart(series: &BenchmarkSeries) -> Option<Figure> {
    let points: Vec<TimePoint> = series
        .points
        .iter()
        .filter_map(|p| {
            Some(TimePoint {
                x: seconds(p.started_at),
                y: p.error_ratio?,
                interval: None,
                class: "",
                label: format!("run {}: {:.3}% failed", p.run_id, p.error_ratio? * 100.0),
                keep: false,
            })
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let label = |v: f64| format!("{:.2}%", v * 100.0);
    let chart = TimeChart {
        title: format!("{} — error ratio per run", series.benchmark),
        description: format!("failed share of requests of {} per run", series.benchmark),
        lines: vec![Line {
            class: "p99",
            name: "error ratio".into(),
            steps: true,
            dots: true,
            points,
        }],
        bands: Vec::new(),
        rules: Vec::new(),
        markers: Vec::new(),
        value_label: &label,
        width: WIDTH,
        height: 160.0,
    };
    Some(Figure {
        svg: chart.render(),
        how_to_read: "The share of requests that failed (connect, timeout, status or body errors) in each run; any step above zero deserves `perfwarden show` of that run.",
    })
}

/// A suite's health score after each run.
pub(crate) fn health_chart(suite: &str, points: &[&HealthPoint]) -> Figure {
    let line = Line {
        class: "",
        name: format!("health of suite {suite}"),
        steps: true,
        dots: true,
        points: points
            .iter()
            .map(|p| TimePoint {
                x: seconds(p.started_at),
                y: p.score,
                interval: None,
                class: "",
                label: format!(
                    "run {} · {} · {:.0}/100 ({})",
                    p.run_id,
                    p.started_at.format("%Y-%m-%d"),
                    p.score,
                    p.grade
                ),
                keep: false,
            })
            .collect(),
    };
    let label = |v: f64| format!("{v:.0}");
    let chart = TimeChart {
        title: format!("suite {suite} — health score per run"),
        description: format!(
            "health score of suite {suite} after each of {} runs",
            points.len()
        ),
        lines: vec![line],
        bands: vec![Band {
            from: points.first().map_or(0.0, |p| seconds(p.started_at)),
            to: points.last().map_or(0.0, |p| seconds(p.started_at)),
            level: 95.0,
            low: 90.0,
            high: 100.0,
            label: "grade A (90–100)".into(),
        }],
        rules: Vec::new(),
        markers: Vec::new(),
        value_label: &label,
        width: WIDTH,
        height: 180.0,
    };
    Figure {
        svg: chart.render(),
        how_to_read: "The suite's 0–100 score after each run, computed as `perfwarden report` computes it today (the green band is grade A). A drop is an open regression, an SLO miss, a drift or a failing benchmark; the score comes back when it closes.",
    }
}

/// The one-page grid's sparkline of a benchmark, coloured by how it stands.
pub(crate) fn sparkline(series: &BenchmarkSeries) -> String {
    let values: Vec<f64> = series
        .points
        .iter()
        .map(|p| p.median.unwrap_or(f64::NAN))
        .collect();
    svg::sparkline(
        &values,
        series.standing(),
        &format!(
            "{}: {} runs, {}",
            series.benchmark,
            values.len(),
            series.standing()
        ),
    )
}
