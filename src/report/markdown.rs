//! Markdown to paste into a ticket or a pull request: the same sections as the HTML report
//! in the same order, tables instead of charts (a Unicode sparkline per benchmark), and the
//! next steps as commands in code blocks. GitHub-flavoured tables; `|` in values escaped.

use std::fmt::Write;

use super::format::{percent, range, sparkline, value};
use super::html::verdict_line;
use super::review::ReviewReport;
use super::{CompareReport, HistoryReport, RunReport};
use crate::model::metric::Direction;

/// A report's Markdown rendering, for [`super::render`].
pub trait Markdown {
    fn markdown(&self) -> String;
}

/// A table cell: pipes and line breaks would end the cell or the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

impl Markdown for ReviewReport {
    fn markdown(&self) -> String {
        let mut out = String::new();
        let host = self.host.clone().unwrap_or_else(|| "this host".into());
        let period = self.period_words();
        match &self.period {
            Some(p) => {
                let _ = writeln!(out, "# perfwarden review of {host} — the last {p}\n");
            }
            None => {
                let _ = writeln!(out, "# perfwarden report of {host}\n");
            }
        }
        let (Some(score), Some(grade)) = (self.health.host_score, self.health.host_grade) else {
            out.push_str("No runs are recorded yet, so there is nothing to report. Start one with `perfwarden run`.\n");
            return out;
        };
        let _ = writeln!(
            out,
            "**Health {score:.0}/100 (grade {grade})** — {}\n",
            verdict_line(self)
        );
        for suite in self.health.suites.iter().filter(|s| !s.unjudged.is_empty()) {
            let _ = writeln!(
                out,
                "Suite {}: {}.\n",
                suite.suite,
                super::unjudged_words(suite)
            );
        }
        let rows: Vec<Vec<String>> = self
            .health
            .suites
            .iter()
            .map(|s| {
                vec![
                    s.suite.clone(),
                    format!(
                        "{} · {} · {}",
                        s.latest_run.id,
                        s.latest_run.started_at.format("%Y-%m-%d %H:%M"),
                        s.latest_run.status.as_str()
                    ),
                    format!("{:.0} ({})", s.health.score, s.health.grade),
                    s.open_regressions.len().to_string(),
                ]
            })
            .collect();
        table(
            &mut out,
            &["suite", "latest run", "health", "open regressions"],
            &rows,
        );
        if !self.slos.is_empty() {
            let met = self
                .slos
                .iter()
                .filter(|s| s.outcome.met == Some(true))
                .count();
            let _ = writeln!(
                out,
                "**SLOs:** {met} met, {} missed\n",
                self.slos.len() - met
            );
            let rows: Vec<Vec<String>> = self
                .slos
                .iter()
                .map(|s| {
                    vec![
                        s.benchmark.clone(),
                        format!("`{}`", s.outcome.slo.expression),
                        s.outcome
                            .actual
                            .map(super::format::sig4)
                            .unwrap_or_else(|| "-".into()),
                        match s.outcome.met {
                            Some(true) => "✓ met",
                            Some(false) => "✗ missed",
                            None => "not measured",
                        }
                        .into(),
                    ]
                })
                .collect();
            table(&mut out, &["benchmark", "objective", "measured", ""], &rows);
        }
        if self.changes.is_empty() {
            let _ = writeln!(out, "Nothing changed on the host in {period}.\n");
        } else {
            let _ = writeln!(out, "**What changed on the host in {period}:**\n");
            for c in &self.changes {
                let what = c.describe();
                let _ = writeln!(
                    out,
                    "- run {} ({}, {}): {what}",
                    c.run_id,
                    c.suite,
                    c.started_at.format("%Y-%m-%d %H:%M")
                );
            }
            out.push('\n');
        }
        if !self.regression_details.is_empty() {
            out.push_str("## Open regressions\n\n");
            for d in &self.regression_details {
                let r = &d.regression;
                let _ = writeln!(
                    out,
                    "### {}: {} regression {}\n\n{}\n",
                    r.benchmark,
                    r.severity.as_str(),
                    r.state.as_str(),
                    r.explanation
                );
                let series = self.benchmarks.iter().find(|b| b.benchmark == r.benchmark);
                if let (Some(e), Some(series)) = (&d.evidence, series) {
                    let metric = &series.metric;
                    let mut rows = vec![
                        vec![
                            "change".into(),
                            format!(
                                "{}{}",
                                super::format::worse_change(e.worse_change),
                                match (e.worse_change_low, e.worse_change_high) {
                                    (Some(l), Some(h)) =>
                                        format!(" (95% interval {} to {})", percent(l), percent(h)),
                                    _ => String::new(),
                                }
                            ),
                        ],
                        vec![
                            "level".into(),
                            format!(
                                "{} → {}",
                                value(e.baseline_median, metric),
                                value(e.current_median, metric)
                            ),
                        ],
                        vec!["baseline runs".into(), e.baseline_runs.len().to_string()],
                        vec![
                            "effective tolerance".into(),
                            format!("{:.1}%", e.tolerance * 100.0),
                        ],
                    ];
                    if let Some(mdc) = e.minimum_detectable_change {
                        rows.push(vec![
                            "minimum detectable change".into(),
                            format!("{:.1}%", mdc * 100.0),
                        ]);
                    }
                    if let Some(cv) = e.run_to_run_cv {
                        rows.push(vec![
                            "run-to-run noise (CV)".into(),
                            format!("{:.1}%", cv * 100.0),
                        ]);
                    }
                    if let Some(p) = e.mann_whitney_p_adjusted.or(e.mann_whitney_p) {
                        rows.push(vec!["Mann-Whitney p (adjusted)".into(), format!("{p:.2e}")]);
                    }
                    if let Some(cause) = &r.cause {
                        rows.push(vec!["likely cause".into(), cause.clone()]);
                    }
                    let medians: Vec<f64> = series
                        .points
                        .iter()
                        .map(|p| p.median.unwrap_or(f64::NAN))
                        .collect();
                    rows.push(vec!["history".into(), format!("`{}`", sparkline(&medians))]);
                    table(&mut out, &["evidence", ""], &rows);
                }
                match &d.host_change {
                    Some(change) => {
                        out.push_str("What changed on the host at the run that opened it:\n\n");
                        if let Some(software) = &change.software {
                            for c in &software.changes {
                                let _ = writeln!(out, "- {}: `{}` → `{}`", c.field, c.before, c.after);
                            }
                        }
                        if change.hardware_changed() {
                            let _ = writeln!(out, "- hardware: {}", change.changed_fields.join(", "));
                        }
                        out.push('\n');
                    }
                    None => out.push_str("Nothing changed in the recorded software environment or hardware at the run that opened it.\n\n"),
                }
                out.push_str("Next steps:\n\n```sh\n");
                for step in &d.next_steps {
                    let _ = writeln!(out, "{step}");
                }
                out.push_str("```\n\n");
            }
        }
        if !self.benchmarks.is_empty() {
            out.push_str("## Every benchmark\n\n");
            let rows: Vec<Vec<String>> = self
                .benchmarks
                .iter()
                .map(|s| {
                    let medians: Vec<f64> = s
                        .points
                        .iter()
                        .map(|p| p.median.unwrap_or(f64::NAN))
                        .collect();
                    vec![
                        s.benchmark.clone(),
                        s.points
                            .iter()
                            .rev()
                            .find_map(|p| p.median)
                            .map(|v| value(v, &s.metric))
                            .unwrap_or_else(|| "-".into()),
                        s.standing().into(),
                        s.points.len().to_string(),
                        format!("`{}`", sparkline(&medians)),
                    ]
                })
                .collect();
            table(
                &mut out,
                &["benchmark", "latest median", "standing", "runs", "history"],
                &rows,
            );
        }
        let mut others = Vec::new();
        for suite in &self.health.suites {
            for v in &suite.improvements {
                others.push(format!("- {}: improved — {}", v.benchmark, v.explanation));
            }
            for d in &suite.drifts {
                others.push(format!(
                    "- {}: drifting {} by {} over {:.0} days ({} runs), Mann-Kendall p = {:.2e}",
                    d.benchmark,
                    d.trend.movement.as_str(),
                    percent(d.trend.relative_change_over_window),
                    d.days,
                    d.runs,
                    d.trend.p_value
                ));
            }
            for s in &suite.shifts {
                others.push(format!(
                    "- {}: level shift at run {} ({}, {})",
                    s.benchmark,
                    s.run_id,
                    percent(s.point.point.relative_change),
                    s.point.movement.as_str()
                ));
            }
            for n in &suite.too_noisy {
                others.push(format!(
                    "- {}: too noisy for its tolerance (detects changes from {:.1}%, tolerance {:.1}%)",
                    n.benchmark,
                    n.minimum_detectable_change * 100.0,
                    n.tolerance * 100.0
                ));
            }
        }
        if !others.is_empty() {
            let _ = writeln!(
                out,
                "## Improvements, drifts and level shifts\n\n{}\n",
                others.join("\n")
            );
        }
        if !self.health_over_time.is_empty() {
            let _ = writeln!(out, "## Health over {period}\n");
            for suite in &self.health.suites {
                let scores: Vec<f64> = self
                    .health_over_time
                    .iter()
                    .filter(|p| p.suite == suite.suite)
                    .map(|p| p.score)
                    .collect();
                let low = scores.iter().copied().fold(f64::INFINITY, f64::min);
                let _ = writeln!(
                    out,
                    "- suite {}: `{}` over {} runs, lowest {:.0}, now {:.0}",
                    suite.suite,
                    sparkline(&scores),
                    scores.len(),
                    low,
                    suite.health.score
                );
            }
            out.push('\n');
        }
        let _ = writeln!(out, "## Regressions opened and closed in {period}\n");
        if self.regression_log.is_empty() {
            out.push_str("None.\n\n");
        } else {
            let rows: Vec<Vec<String>> = self
                .regression_log
                .iter()
                .map(|r| {
                    vec![
                        r.benchmark.clone(),
                        r.severity.as_str().into(),
                        r.state.as_str().into(),
                        format!("{}–{}", r.first_run, r.last_run),
                        r.worse_change
                            .map(super::format::worse_change)
                            .unwrap_or_else(|| "fails".into()),
                        super::review::ending_words(r),
                        r.cause.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "benchmark",
                    "severity",
                    "state",
                    "runs",
                    "change",
                    "ended",
                    "likely cause",
                ],
                &rows,
            );
        }
        out.push_str("## Findings and next steps\n\n");
        for suite in &self.health.suites {
            let _ = writeln!(
                out,
                "**suite {} · {:.0}/100 (grade {})**\n",
                suite.suite, suite.health.score, suite.health.grade
            );
            if suite.health.deductions.is_empty() {
                out.push_str("- 100 points: no open regression, SLO miss or drift\n");
            }
            for d in &suite.health.deductions {
                let _ = writeln!(out, "- −{} {}: {}", d.points, d.benchmark, d.reason);
            }
            for r in &suite.recommendations {
                let who = if r.benchmark.is_empty() {
                    String::new()
                } else {
                    format!("**{}**: ", r.benchmark)
                };
                let _ = writeln!(out, "- {who}{} — next: {}", r.finding, r.next_step);
            }
            out.push('\n');
        }
        out
    }
}

impl Markdown for RunReport {
    fn markdown(&self) -> String {
        let run = &self.run;
        let mut out = format!(
            "# perfwarden run {} — suite {}\n\n{} on {} · {} · {} benchmarks{}\n\n",
            run.id,
            run.suite,
            run.started_at.format("%Y-%m-%d %H:%M UTC"),
            run.host,
            run.status.as_str(),
            self.results.len(),
            if run.quick {
                " · --quick (never part of a baseline)"
            } else {
                ""
            }
        );
        for note in self.environment_notes() {
            let _ = writeln!(out, "{note}\n");
        }
        if self.results.is_empty() {
            out.push_str("This run recorded no result.\n");
            return out;
        }
        let rows: Vec<Vec<String>> = self
            .results
            .iter()
            .map(|r| {
                let res = &r.result;
                let metric = &res.metric;
                let summary = res.summary.as_ref();
                vec![
                    res.benchmark.clone(),
                    summary
                        .map(|s| value(s.median, metric))
                        .unwrap_or_else(|| "-".into()),
                    summary
                        .and_then(|s| s.median_ci)
                        .map(|c| range(c.low, c.high, metric))
                        .unwrap_or_else(|| "-".into()),
                    r.change
                        .as_ref()
                        .map(|c| super::format::run_change(c, metric.direction).0)
                        .unwrap_or_else(|| "-".into()),
                    res.status.as_str().into(),
                    match &r.verdict {
                        Some(v) => v.explanation.clone(),
                        None => res.error.clone().unwrap_or_else(|| "-".into()),
                    },
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "benchmark",
                "median",
                "95% interval",
                "change",
                "status",
                "verdict",
            ],
            &rows,
        );
        out
    }
}

impl Markdown for CompareReport {
    fn markdown(&self) -> String {
        let (a, b) = (&self.run_a, &self.run_b);
        let mut out = format!(
            "# run {} → run {}\n\nrun {} ({}, {}) → run {} ({}, {})\n\n",
            a.id,
            b.id,
            a.id,
            a.suite,
            a.started_at.format("%Y-%m-%d %H:%M"),
            b.id,
            b.suite,
            b.started_at.format("%Y-%m-%d %H:%M")
        );
        if !self.same_fingerprint {
            out.push_str(
                "The runs were measured on different hardware: differences may come from it.\n\n",
            );
        }
        if self.rows.is_empty() {
            out.push_str("The runs have no benchmark in common.\n");
            return out;
        }
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                let fmt = |v: Option<f64>| match (v, &row.metric) {
                    (Some(v), Some(m)) => value(v, m),
                    (Some(v), None) => format!("{} {}", super::format::sig4(v), row.unit),
                    (None, _) => "-".into(),
                };
                let change = match (&row.change, row.same_config) {
                    (_, false) => "configuration differs".into(),
                    (None, true) => {
                        format!("- ({} / {})", row.status_a.as_str(), row.status_b.as_str())
                    }
                    (Some(c), true) => {
                        let direction = row.metric.as_ref().map(|m| m.direction);
                        format!(
                            "{}{}",
                            super::format::run_change(
                                c,
                                direction.unwrap_or(Direction::HigherIsBetter)
                            )
                            .0,
                            c.interval
                                .map(|i| format!(" [{} to {}]", percent(i.low), percent(i.high)))
                                .unwrap_or_default()
                        )
                    }
                };
                vec![
                    row.benchmark.clone(),
                    fmt(row.median_a),
                    fmt(row.median_b),
                    change,
                ]
            })
            .collect();
        table(
            &mut out,
            &["benchmark", "run A", "run B", "change [95% interval]"],
            &rows,
        );
        out
    }
}

impl Markdown for HistoryReport {
    fn markdown(&self) -> String {
        let mut out = format!("# history of {}\n\n", self.benchmark);
        let Some(series) = self.series.as_ref().filter(|s| !s.points.is_empty()) else {
            out.push_str("No results for this benchmark in this period.\n");
            return out;
        };
        let medians: Vec<f64> = series
            .points
            .iter()
            .map(|p| p.median.unwrap_or(f64::NAN))
            .collect();
        let _ = writeln!(
            out,
            "Median per run, {} ({}): `{}`\n",
            series.unit,
            match series.metric.direction {
                Direction::LowerIsBetter => "lower is better",
                Direction::HigherIsBetter => "higher is better",
            },
            sparkline(&medians)
        );
        let rows: Vec<Vec<String>> = series
            .points
            .iter()
            .map(|p| {
                vec![
                    p.run_id.to_string(),
                    p.started_at.format("%Y-%m-%d %H:%M").to_string(),
                    p.median
                        .map(|v| value(v, &series.metric))
                        .unwrap_or_else(|| "-".into()),
                    p.median_ci_low
                        .zip(p.median_ci_high)
                        .map(|(l, h)| range(l, h, &series.metric))
                        .unwrap_or_else(|| "-".into()),
                    p.status.as_str().into(),
                    p.outcome.map(|o| o.as_str()).unwrap_or("-").into(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "run",
                "started (UTC)",
                "median",
                "95% interval",
                "status",
                "verdict",
            ],
            &rows,
        );
        out
    }
}
