//! One self-contained HTML file per report, to attach to a ticket or open on a laptop with
//! no Grafana and no network: inline CSS and SVG, no script, no external URL (a
//! Content-Security-Policy that forbids loading anything says so to the browser too), dark
//! and light mode from the reader's setting, a print stylesheet, and a text alternative and
//! a "how to read" line for every chart.

use std::fmt::Write;

use super::charts::{self, Figure};
use super::format::{percent, range, value};
use super::review::{BenchmarkSeries, RegressionDetail, ReviewReport};
use super::svg::{self, SampleGroup, escape};
use super::{CompareReport, HistoryReport, RunReport};
use crate::model::metric::MetricDef;
use crate::model::records::BenchStatus;
use crate::model::verdict::{Outcome, RegressionState, Severity};

/// A report's HTML rendering, for [`super::render`].
pub trait Html {
    fn html(&self) -> String;
}

const PAGE_CSS: &str = "
:root { --bg: #ffffff; --fg: #1b1f24; --muted: #6e7781; --grid: #d8dee4; --panel: #f6f8fa;
  --accent: #0969da; --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; --env: #8250df; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8d96a0; --grid: #30363d; --panel: #161b22;
    --accent: #4493f8; --good: #3fb950; --warn: #d29922; --bad: #f85149; --env: #a371f7; }
}
body { background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; border-bottom: 1px solid var(--grid); padding-bottom: 4px; margin-top: 28px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.verdict { font-size: 16px; padding: 10px 14px; border-left: 5px solid var(--muted); background: var(--panel); }
.verdict.met { border-color: var(--good); } .verdict.at-risk { border-color: var(--warn); } .verdict.not-met { border-color: var(--bad); }
.score { font-size: 34px; font-weight: 700; } .grade { font-size: 20px; margin-left: 8px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; border-bottom: 1px solid var(--grid); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.worse { color: var(--bad); } .better { color: var(--good); } .muted { color: var(--muted); }
.how { color: var(--muted); font-size: 12px; margin: 2px 0 14px; max-width: 760px; }
pre, code { font: 12.5px ui-monospace, monospace; } pre { background: var(--panel); padding: 8px 10px; overflow-x: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px; }
.cell { background: var(--panel); padding: 6px 8px; border-left: 4px solid var(--muted); }
.cell.regression { border-color: var(--bad); } .cell.suspected { border-color: var(--warn); } .cell.improvement { border-color: var(--good); } .cell.ok { border-color: var(--accent); }
.cell .name { font-size: 12px; overflow-wrap: anywhere; } .cell .last { font-size: 11px; color: var(--muted); }
section.regression { border-top: 3px solid var(--bad); margin-top: 20px; } section.regression.suspected { border-color: var(--warn); }
svg { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
@media print {
  :root { --bg: #ffffff; --fg: #000000; --muted: #555555; --grid: #cccccc; --panel: #f4f4f4; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  section, figure, table, .cell { break-inside: avoid; }
  h2 { break-after: avoid; }
}
";

/// The whole page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"color-scheme\" content=\"light dark\">\n\
<meta name=\"generator\" content=\"perfwarden {version}\">\n\
<title>{title}</title>\n<style>{PAGE_CSS}{chart_css}</style>\n</head>\n<body>\n{body}\n\
<footer>Written by perfwarden {version} on {now} UTC. One file: no script, nothing loaded from elsewhere; prints to PDF as shown.</footer>\n</body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
        title = escape(title),
        chart_css = svg::CHART_CSS,
        now = chrono::Utc::now().format("%Y-%m-%d %H:%M"),
    )
}

fn figure(out: &mut String, figure: &Figure) {
    let _ = writeln!(
        out,
        "<figure>{}<figcaption class=\"how\">How to read this chart: {}</figcaption></figure>",
        figure.svg,
        escape(figure.how_to_read)
    );
}

/// A change from earlier runs, signed and said as worse, better or within noise (see
/// [`super::format::run_change`]), coloured.
fn change_html(
    change: &crate::detect::Change,
    direction: crate::model::metric::Direction,
) -> String {
    let (text, class) = super::format::run_change(change, direction);
    let class = if class == "same" { "muted" } else { class };
    format!("<span class=\"{class}\">{}</span>", escape(&text))
}

/// How much worse a verdict found it: "+9.5% worse".
fn worse_html(worse: f64) -> String {
    format!(
        "<span class=\"worse\">{}</span>",
        escape(&super::format::worse_change(worse))
    )
}

fn severity_word(s: Severity) -> &'static str {
    s.as_str()
}

/// "production readiness" from today's findings: not met with a confirmed major or
/// critical regression, a failing benchmark or a missed SLO; at risk with only suspected
/// or minor ones; not judged yet while no benchmark of any suite has a baseline; met
/// otherwise.
pub(crate) fn readiness(report: &ReviewReport) -> (&'static str, &'static str) {
    let open: Vec<_> = report
        .health
        .suites
        .iter()
        .flat_map(|s| &s.open_regressions)
        .collect();
    let blocking = open.iter().any(|r| {
        r.state == RegressionState::Confirmed
            && matches!(r.severity, Severity::Major | Severity::Critical)
    }) || report.slos.iter().any(|s| s.outcome.met == Some(false));
    let all_unjudged = report
        .health
        .suites
        .iter()
        .all(|s| !s.unjudged.is_empty() && s.unjudged.len() >= s.latest_run.benchmarks.len());
    if blocking {
        ("not-met", "not met")
    } else if !open.is_empty() {
        ("at-risk", "at risk")
    } else if all_unjudged {
        ("at-risk", "not judged yet (baselines still forming)")
    } else {
        ("met", "met")
    }
}

/// The one-line verdict: "2 open regressions, 1 critical confirmed since …; production
/// readiness: not met".
pub(crate) fn verdict_line(report: &ReviewReport) -> String {
    let open: Vec<_> = report
        .health
        .suites
        .iter()
        .flat_map(|s| &s.open_regressions)
        .collect();
    let mut parts = vec![match open.len() {
        0 => "no open regression".to_string(),
        1 => "1 open regression".to_string(),
        n => format!("{n} open regressions"),
    }];
    let worst = open
        .iter()
        .filter(|r| r.state == RegressionState::Confirmed)
        .max_by_key(|r| r.severity);
    if let Some(worst) = worst {
        let same = open
            .iter()
            .filter(|r| r.state == RegressionState::Confirmed && r.severity == worst.severity)
            .count();
        let since = report
            .benchmarks
            .iter()
            .find(|b| b.benchmark == worst.benchmark)
            .and_then(|b| b.points.iter().find(|p| p.run_id == worst.first_run))
            .map(|p| format!(" since {}", p.started_at.format("%Y-%m-%d %H:%M")))
            .unwrap_or_default();
        parts.push(format!(
            "{same} {} confirmed{since}",
            severity_word(worst.severity)
        ));
    }
    let missed = report
        .slos
        .iter()
        .filter(|s| s.outcome.met == Some(false))
        .count();
    if missed > 0 {
        parts.push(format!(
            "{missed} SLO{} missed",
            if missed == 1 { "" } else { "s" }
        ));
    }
    let (_, readiness) = readiness(report);
    format!(
        "{}; production readiness: {readiness}{}",
        parts.join(", "),
        if readiness == "met" {
            ""
        } else {
            " — see below"
        }
    )
}

fn metric_of<'a>(report: &'a ReviewReport, benchmark: &str) -> Option<&'a BenchmarkSeries> {
    report.benchmarks.iter().find(|b| b.benchmark == benchmark)
}

fn regression_section(out: &mut String, report: &ReviewReport, d: &RegressionDetail) {
    let r = &d.regression;
    let series = metric_of(report, &r.benchmark);
    let _ = writeln!(
        out,
        "<section class=\"regression {}\"><h3>{}: {} regression {}</h3><p>{}</p>",
        r.state.as_str(),
        escape(&r.benchmark),
        severity_word(r.severity),
        r.state.as_str(),
        escape(&r.explanation)
    );
    if let Some(series) = series {
        figure(out, &charts::benchmark_chart(series));
        let metric = &series.metric;
        if !d.before_samples.is_empty() || !d.after_samples.is_empty() {
            let label = |v: f64| value(v, metric);
            let before = format!("run {}", d.last_good_run.unwrap_or_default());
            let after = format!("run {}", d.latest_run);
            let svg = svg::distributions(
                &format!("{} — samples before and after", r.benchmark),
                &format!(
                    "{} samples of the last good run ({before}) and {} of the latest ({after})",
                    d.before_samples.len(),
                    d.after_samples.len()
                ),
                &[
                    SampleGroup {
                        name: format!("before · {before}"),
                        class: "before",
                        samples: &d.before_samples,
                    },
                    SampleGroup {
                        name: format!("after · {after}"),
                        class: "after",
                        samples: &d.after_samples,
                    },
                ],
                &label,
            );
            figure(
                out,
                &Figure {
                    svg,
                    how_to_read: "Every sample of the last good run (blue) and of the latest run (red) on one axis, with a box from the first to the third quartile, the median as a bar and whiskers to the 5th and 95th percentiles. Boxes apart: the whole distribution moved; overlapping boxes with a longer tail: only some operations got slower.",
                },
            );
        }
        evidence_table(out, d, metric);
    }
    if let Some(change) = &d.host_change {
        out.push_str("<h3>What changed on the host</h3><ul>");
        if let Some(software) = &change.software {
            for c in &software.changes {
                let _ = write!(
                    out,
                    "<li>{}: <code>{}</code> → <code>{}</code></li>",
                    escape(&c.field),
                    escape(&c.before),
                    escape(&c.after)
                );
            }
        }
        if change.hardware_changed() {
            let _ = write!(
                out,
                "<li>hardware: {}</li>",
                escape(&change.changed_fields.join(", "))
            );
        }
        out.push_str("</ul>");
    } else {
        out.push_str("<p class=\"muted\">Nothing changed in the recorded software environment or hardware at the run that opened it.</p>");
    }
    out.push_str("<h3>Next steps</h3><pre>");
    for step in &d.next_steps {
        let _ = writeln!(out, "{}", escape(step));
    }
    out.push_str("</pre></section>\n");
}

fn evidence_table(out: &mut String, d: &RegressionDetail, metric: &MetricDef) {
    let Some(e) = &d.evidence else { return };
    out.push_str("<table><caption class=\"muted\">Evidence of the latest run</caption>");
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), v);
    };
    row(
        "change",
        format!(
            "{}{}",
            worse_html(e.worse_change),
            match (e.worse_change_low, e.worse_change_high) {
                (Some(l), Some(h)) => format!(" (95% interval {} to {})", percent(l), percent(h)),
                _ => String::new(),
            }
        ),
    );
    row(
        "level",
        format!(
            "{} → {}",
            escape(&value(e.baseline_median, metric)),
            escape(&value(e.current_median, metric))
        ),
    );
    row(
        "baseline",
        format!("{} runs ({:?})", e.baseline_runs.len(), e.baseline_runs),
    );
    if let Some(p) = e.mann_whitney_p_adjusted.or(e.mann_whitney_p) {
        row("Mann-Whitney p (adjusted)", format!("{p:.2e}"));
    }
    row(
        "effective tolerance",
        format!("{:.1}%", e.tolerance * 100.0),
    );
    if let Some(mdc) = e.minimum_detectable_change {
        row("minimum detectable change", format!("{:.1}%", mdc * 100.0));
    }
    if let Some(cv) = e.run_to_run_cv {
        row("run-to-run noise (CV)", format!("{:.1}%", cv * 100.0));
    }
    if let Some(cause) = &d.regression.cause {
        row("likely cause", escape(cause));
    }
    out.push_str("</table>");
}

impl Html for ReviewReport {
    fn html(&self) -> String {
        let mut b = String::new();
        let host = self.host.clone().unwrap_or_else(|| "this host".into());
        let title = match &self.period {
            Some(p) => format!("perfwarden review of {host} — the last {p}"),
            None => format!("perfwarden report of {host}"),
        };
        let _ = writeln!(b, "<header><h1>{}</h1></header>", escape(&title));
        let (Some(score), Some(grade)) = (self.health.host_score, self.health.host_grade) else {
            b.push_str("<p class=\"verdict\">No runs are recorded yet, so there is nothing to report. Start one with <code>perfwarden run</code>.</p>");
            return page(&title, &b);
        };
        // Executive summary.
        let (class, _) = readiness(self);
        let _ = write!(
            b,
            "<section><h2>Summary</h2><p><span class=\"score\">{score:.0}/100</span><span class=\"grade\">grade {grade}</span></p><p class=\"verdict {class}\">{}</p>",
            escape(&verdict_line(self))
        );
        for suite in self.health.suites.iter().filter(|s| !s.unjudged.is_empty()) {
            let _ = write!(
                b,
                "<p class=\"muted\">Suite {}: {}.</p>",
                escape(&suite.suite),
                escape(&super::unjudged_words(suite))
            );
        }
        b.push_str("<table><tr><th>suite</th><th>latest run</th><th>health</th><th>open regressions</th></tr>");
        for s in &self.health.suites {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{} · {} · {}</td><td class=\"num\">{:.0} ({})</td><td class=\"num\">{}</td></tr>",
                escape(&s.suite),
                s.latest_run.id,
                s.latest_run.started_at.format("%Y-%m-%d %H:%M"),
                s.latest_run.status.as_str(),
                s.health.score,
                s.health.grade,
                s.open_regressions.len()
            );
        }
        b.push_str("</table>");
        if !self.slos.is_empty() {
            let met = self
                .slos
                .iter()
                .filter(|s| s.outcome.met == Some(true))
                .count();
            let _ = write!(
                b,
                "<h3>SLOs: {met} met, {} missed</h3><table><tr><th>benchmark</th><th>objective</th><th>measured</th><th></th></tr>",
                self.slos.len() - met
            );
            for s in &self.slos {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"{}\">{}</td></tr>",
                    escape(&s.benchmark),
                    escape(&s.outcome.slo.expression),
                    s.outcome
                        .actual
                        .map(super::format::sig4)
                        .unwrap_or_else(|| "-".into()),
                    match s.outcome.met {
                        Some(true) => "better",
                        Some(false) => "worse",
                        None => "muted",
                    },
                    match s.outcome.met {
                        Some(true) => "met",
                        Some(false) => "missed",
                        None => "not measured",
                    }
                );
            }
            b.push_str("</table>");
        }
        let period = self.period_words();
        if self.changes.is_empty() {
            let _ = write!(
                b,
                "<p class=\"muted\">Nothing changed on the host in {period}.</p>"
            );
        } else {
            let _ = write!(b, "<h3>What changed on the host in {period}</h3><ul>");
            for c in &self.changes {
                let what = c.describe();
                let _ = write!(
                    b,
                    "<li>run {} ({}, {}): {}</li>",
                    c.run_id,
                    escape(&c.suite),
                    c.started_at.format("%Y-%m-%d %H:%M"),
                    escape(&what)
                );
            }
            b.push_str("</ul>");
        }
        b.push_str("</section>\n");
        // Open regressions.
        if !self.regression_details.is_empty() {
            b.push_str("<section><h2>Open regressions</h2>");
            for d in &self.regression_details {
                regression_section(&mut b, self, d);
            }
            b.push_str("</section>\n");
        }
        // The one-page grid.
        if !self.benchmarks.is_empty() {
            b.push_str("<section><h2>Every benchmark</h2><div class=\"grid\">");
            for s in &self.benchmarks {
                let last = s
                    .points
                    .iter()
                    .rev()
                    .find_map(|p| p.median)
                    .map(|v| value(v, &s.metric))
                    .unwrap_or_else(|| "-".into());
                let _ = write!(
                    b,
                    "<div class=\"cell {}\"><div class=\"name\">{}</div>{}<div class=\"last\">{} · {}</div></div>",
                    s.standing(),
                    escape(&s.benchmark),
                    charts::sparkline(s),
                    escape(&last),
                    s.standing()
                );
            }
            b.push_str("</div><p class=\"how\">How to read this grid: one sparkline of run medians per benchmark over the period, its border red for a confirmed regression or a failing benchmark, amber for a suspected one, green for an improvement, blue when within tolerance, grey while its baseline is forming.</p></section>\n");
        }
        // Load tests.
        let load: Vec<&BenchmarkSeries> = self
            .benchmarks
            .iter()
            .filter(|s| s.is_load_test())
            .collect();
        if !load.is_empty() {
            b.push_str("<section><h2>Load tests</h2>");
            for s in load {
                let _ = write!(b, "<h3>{}</h3>", escape(&s.benchmark));
                figure(&mut b, &charts::benchmark_chart(s));
                if let Some(f) = charts::latency_chart(s) {
                    figure(&mut b, &f);
                }
                if let Some(f) = charts::error_chart(s) {
                    figure(&mut b, &f);
                }
            }
            b.push_str("</section>\n");
        }
        // Improvements, drifts and level shifts: what each benchmark did, then its chart
        // once (benchmarks with an open regression have theirs above).
        let mut findings: Vec<(String, Vec<String>)> = Vec::new();
        let mut note =
            |benchmark: &str, line: String| match findings.iter_mut().find(|(b, _)| b == benchmark)
            {
                Some((_, lines)) => lines.push(line),
                None => findings.push((benchmark.to_string(), vec![line])),
            };
        for suite in &self.health.suites {
            for v in &suite.improvements {
                note(&v.benchmark, format!("improved: {}", v.explanation));
            }
            for d in &suite.drifts {
                note(
                    &d.benchmark,
                    format!(
                        "drifting {} by {} over {:.0} days ({} runs); Mann-Kendall p = {:.2e} with the Theil–Sen slope. Slow drifts escape run-to-run verdicts.",
                        d.trend.movement.as_str(),
                        percent(d.trend.relative_change_over_window),
                        d.days,
                        d.runs,
                        d.trend.p_value
                    ),
                );
            }
            for shift in &suite.shifts {
                note(
                    &shift.benchmark,
                    format!(
                        "level shift at run {}: {} ({})",
                        shift.run_id,
                        percent(shift.point.point.relative_change),
                        shift.point.movement.as_str()
                    ),
                );
            }
            for n in &suite.too_noisy {
                note(
                    &n.benchmark,
                    format!(
                        "too noisy for its tolerance: a run detects changes from {:.1}%, the tolerance is {:.1}% (raise samples or min_time, or the tolerance)",
                        n.minimum_detectable_change * 100.0,
                        n.tolerance * 100.0
                    ),
                );
            }
        }
        let mut others = String::new();
        for (benchmark, lines) in &findings {
            let _ = write!(others, "<h3>{}</h3><ul>", escape(benchmark));
            for line in lines {
                let _ = write!(others, "<li>{}</li>", escape(line));
            }
            others.push_str("</ul>");
            let charted = self
                .regression_details
                .iter()
                .any(|d| &d.regression.benchmark == benchmark);
            match metric_of(self, benchmark) {
                Some(s) if !charted => figure(&mut others, &charts::benchmark_chart(s)),
                _ => others.push_str(
                    "<p class=\"muted\">Its chart is with its open regression above.</p>",
                ),
            }
        }
        if !others.is_empty() {
            let _ = writeln!(
                b,
                "<section><h2>Improvements, drifts and level shifts</h2>{others}</section>"
            );
        }
        // The review of the period.
        if !self.health_over_time.is_empty() {
            let _ = write!(b, "<section><h2>Health over {period}</h2>");
            for suite in &self.health.suites {
                let points: Vec<_> = self
                    .health_over_time
                    .iter()
                    .filter(|p| p.suite == suite.suite)
                    .collect();
                if !points.is_empty() {
                    figure(&mut b, &charts::health_chart(&suite.suite, &points));
                }
            }
            b.push_str("</section>\n");
        }
        let _ = write!(
            b,
            "<section><h2>Regressions opened and closed in {period}</h2>"
        );
        if self.regression_log.is_empty() {
            b.push_str("<p class=\"muted\">None.</p>");
        } else {
            b.push_str("<table><tr><th>benchmark</th><th>severity</th><th>state</th><th>runs</th><th>change</th><th>ended</th><th>likely cause</th></tr>");
            for r in &self.regression_log {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&r.benchmark),
                    r.severity.as_str(),
                    r.state.as_str(),
                    r.first_run,
                    r.last_run,
                    r.worse_change
                        .map(worse_html)
                        .unwrap_or_else(|| "fails".into()),
                    super::review::ending_words(r),
                    escape(r.cause.as_deref().unwrap_or("-"))
                );
            }
            b.push_str("</table>");
        }
        b.push_str("</section>\n");
        // Health findings, as the text report lists them.
        b.push_str("<section><h2>Findings and next steps</h2>");
        for suite in &self.health.suites {
            let _ = write!(
                b,
                "<h3>suite {} · {:.0}/100 (grade {})</h3><ul>",
                escape(&suite.suite),
                suite.health.score,
                suite.health.grade
            );
            if suite.health.deductions.is_empty() {
                b.push_str("<li>100 points: no open regression, SLO miss or drift</li>");
            }
            for d in &suite.health.deductions {
                let _ = write!(
                    b,
                    "<li>−{} {}: {}</li>",
                    d.points,
                    escape(&d.benchmark),
                    escape(&d.reason)
                );
            }
            b.push_str("</ul>");
            for r in &suite.recommendations {
                let _ = write!(
                    b,
                    "<p>{}{}<br><span class=\"muted\">next:</span> {}</p>",
                    if r.benchmark.is_empty() {
                        String::new()
                    } else {
                        format!("<strong>{}</strong>: ", escape(&r.benchmark))
                    },
                    escape(&r.finding),
                    escape(&r.next_step)
                );
            }
        }
        b.push_str("</section>");
        page(&title, &b)
    }
}

fn verdict_cell(outcome: Option<Outcome>, explanation: &str) -> String {
    let class = match outcome {
        Some(Outcome::Regression | Outcome::Failing) => "worse",
        Some(Outcome::Improvement) => "better",
        _ => "muted",
    };
    format!("<td class=\"{class}\">{}</td>", escape(explanation))
}

impl Html for RunReport {
    fn html(&self) -> String {
        let run = &self.run;
        let title = format!("perfwarden run {} — suite {}", run.id, run.suite);
        let mut b = format!(
            "<header><h1>{}</h1><p>{} on {} · {} · {} benchmarks{}</p></header>",
            escape(&title),
            run.started_at.format("%Y-%m-%d %H:%M UTC"),
            escape(&run.host),
            run.status.as_str(),
            self.results.len(),
            if run.quick {
                " · --quick (never part of a baseline)"
            } else {
                ""
            }
        );
        for note in self.environment_notes() {
            let _ = write!(b, "<p class=\"verdict at-risk\">{}</p>", escape(&note));
        }
        if self.results.is_empty() {
            b.push_str("<p class=\"verdict\">This run recorded no result.</p>");
            return page(&title, &b);
        }
        b.push_str("<table><tr><th>benchmark</th><th>median</th><th>95% interval</th><th>change</th><th>status</th><th>verdict</th></tr>");
        for r in &self.results {
            let res = &r.result;
            let metric = &res.metric;
            let summary = res.summary.as_ref();
            let change = r
                .change
                .as_ref()
                .map(|c| change_html(c, metric.direction))
                .unwrap_or_else(|| "-".into());
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td>{}</tr>",
                escape(&res.benchmark),
                summary
                    .map(|s| escape(&value(s.median, metric)))
                    .unwrap_or_else(|| "-".into()),
                summary
                    .and_then(|s| s.median_ci)
                    .map(|c| escape(&range(c.low, c.high, metric)))
                    .unwrap_or_else(|| "-".into()),
                change,
                if res.status == BenchStatus::Ok {
                    ""
                } else {
                    "worse"
                },
                res.status.as_str(),
                match &r.verdict {
                    Some(v) => verdict_cell(Some(v.outcome), &v.explanation),
                    None => verdict_cell(None, res.error.as_deref().unwrap_or("-")),
                }
            );
        }
        b.push_str("</table><p class=\"how\">Change is the median against the benchmark's previous comparable runs, said as worse or better in the metric's own direction.</p>");
        page(&title, &b)
    }
}

impl Html for CompareReport {
    fn html(&self) -> String {
        let (a, bb) = (&self.run_a, &self.run_b);
        let title = format!("perfwarden: run {} → run {}", a.id, bb.id);
        let mut b = format!(
            "<header><h1>{}</h1><p>run {} ({}, {}) → run {} ({}, {})</p></header>",
            escape(&title),
            a.id,
            escape(&a.suite),
            a.started_at.format("%Y-%m-%d %H:%M"),
            bb.id,
            escape(&bb.suite),
            bb.started_at.format("%Y-%m-%d %H:%M")
        );
        if !self.same_fingerprint {
            b.push_str("<p class=\"verdict at-risk\">The runs were measured on different hardware: differences may come from it.</p>");
        }
        if self.rows.is_empty() {
            b.push_str("<p class=\"verdict\">The runs have no benchmark in common.</p>");
            return page(&title, &b);
        }
        b.push_str("<table><tr><th>benchmark</th><th>run A</th><th>run B</th><th>change [95% interval]</th></tr>");
        for row in &self.rows {
            let metric = row.metric.as_ref();
            let fmt = |v: Option<f64>| match (v, metric) {
                (Some(v), Some(m)) => escape(&value(v, m)),
                (Some(v), None) => format!("{} {}", super::format::sig4(v), escape(&row.unit)),
                (None, _) => "-".into(),
            };
            let change = match (&row.change, row.same_config) {
                (_, false) => "configuration differs".into(),
                (None, true) => {
                    format!("- ({} / {})", row.status_a.as_str(), row.status_b.as_str())
                }
                (Some(c), true) => {
                    let direction = metric
                        .map(|m| m.direction)
                        .unwrap_or(crate::model::metric::Direction::HigherIsBetter);
                    format!(
                        "{}{}",
                        change_html(c, direction),
                        c.interval
                            .map(|i| format!(" [{} to {}]", percent(i.low), percent(i.high)))
                            .unwrap_or_default()
                    )
                }
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&row.benchmark),
                fmt(row.median_a),
                fmt(row.median_b),
                change
            );
        }
        b.push_str("</table><p class=\"how\">The interval is a 95% bootstrap interval of the change of the median from run A to run B (signed in the metric's units: a rise in throughput is better, a rise in time is worse).</p>");
        page(&title, &b)
    }
}

impl Html for HistoryReport {
    fn html(&self) -> String {
        let title = format!("perfwarden history of {}", self.benchmark);
        let mut b = format!("<header><h1>{}</h1></header>", escape(&title));
        let Some(series) = self.series.as_ref().filter(|s| !s.points.is_empty()) else {
            b.push_str("<p class=\"verdict\">No results for this benchmark in this period.</p>");
            return page(&title, &b);
        };
        figure(&mut b, &charts::benchmark_chart(series));
        if let Some(f) = charts::latency_chart(series) {
            figure(&mut b, &f);
        }
        b.push_str("<table><tr><th>run</th><th>started (UTC)</th><th>median</th><th>95% interval</th><th>status</th><th>verdict</th></tr>");
        for p in &series.points {
            let _ = write!(
                b,
                "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                p.run_id,
                p.started_at.format("%Y-%m-%d %H:%M"),
                p.median
                    .map(|v| escape(&value(v, &series.metric)))
                    .unwrap_or_else(|| "-".into()),
                p.median_ci_low
                    .zip(p.median_ci_high)
                    .map(|(l, h)| escape(&range(l, h, &series.metric)))
                    .unwrap_or_else(|| "-".into()),
                p.status.as_str(),
                p.outcome.map(|o| o.as_str()).unwrap_or("-")
            );
        }
        b.push_str("</table>");
        page(&title, &b)
    }
}
