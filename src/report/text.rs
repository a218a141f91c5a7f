//! Aligned text tables for people. Colour (worse red, better green, failures red) only
//! when stdout is a terminal and `NO_COLOR` is unset.

use comfy_table::{Cell, CellAlignment, Color, Table, presets};

use super::Style;
use super::format::{percent, sparkline, value};

use super::{
    AnalysisReport, BaselineReport, ChangesReport, CheckReport, CompareReport, FingerprintReport,
    HistoryReport, ListReport, RegressionsReport, ReviewReport, RunReport, RunsReport,
};
use crate::detect::baseline::NextVerdict;
use crate::detect::health::HealthReport;
use crate::detect::{Assessment, Change};
use crate::model::archive::{DatabaseCheck, ImportSummary};
use crate::model::history::Movement;
use crate::model::metric::Direction;
use crate::model::records::GateOutcome;
use crate::model::records::RunRecord;
use crate::model::records::Trigger;
use crate::model::records::{BenchStatus, RunStatus};
use crate::model::status::StatusReport;
use crate::model::verdict::Transition;
use crate::model::verdict::{Outcome, RegressionState, Verdict};

/// A report's text rendering, for [`super::render`].
pub trait Text {
    fn text(&self, style: Style) -> String;
}

macro_rules! text_renderings {
    ($($report:ty => $render:ident;)*) => {$(
        impl Text for $report {
            fn text(&self, style: Style) -> String {
                $render(self, style)
            }
        }
    )*};
}

text_renderings! {
    ListReport => list;
    DatabaseCheck => database_check;
    ImportSummary => import_summary;
    RunReport => run_report;
    RunsReport => runs;
    ChangesReport => changes;
    HistoryReport => history;
    CompareReport => compare;
    FingerprintReport => fingerprint;
    CheckReport => check;
    AnalysisReport => analysis;
    RegressionsReport => regressions;
    BaselineReport => baselines;
    ReviewReport => review;
    StatusReport => status;
}

fn table(style: Style, header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if style.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table.set_header(header.iter().map(Cell::new));
    table
}

/// The table of `header` and `rows`, fitted to the terminal's width: the columns of
/// `droppable` are left out in that order until it fits (a note says which, and that
/// `--wide` shows them); if it still does not fit, cells wrap. `right` are right-aligned.
fn fitted(
    style: Style,
    header: &[&str],
    rows: Vec<Vec<Cell>>,
    droppable: &[usize],
    right: &[usize],
) -> String {
    let build = |dropped: &[usize]| {
        let kept: Vec<usize> = (0..header.len()).filter(|c| !dropped.contains(c)).collect();
        let names: Vec<&str> = kept.iter().map(|c| header[*c]).collect();
        let mut t = table(style, &names);
        for row in &rows {
            t.add_row(kept.iter().map(|c| row[*c].clone()).collect::<Vec<_>>());
        }
        let aligned: Vec<usize> = kept
            .iter()
            .enumerate()
            .filter(|(_, c)| right.contains(c))
            .map(|(i, _)| i)
            .collect();
        right_align(&mut t, &aligned);
        t
    };
    let width = |text: &str| text.lines().map(console_width).max().unwrap_or(0);
    let Some(limit) = style.width else {
        return build(&[]).to_string();
    };
    let mut dropped = Vec::new();
    let mut text = build(&dropped).to_string();
    for column in droppable {
        if width(&text) <= limit {
            break;
        }
        dropped.push(*column);
        text = build(&dropped).to_string();
    }
    if width(&text) > limit {
        let mut t = build(&dropped);
        t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
        t.set_width(limit.min(u16::MAX as usize) as u16);
        text = t.to_string();
    }
    if !dropped.is_empty() {
        let names: Vec<&str> = dropped.iter().map(|c| header[*c]).collect();
        text.push_str(&format!(
            "\n({} left out to fit the terminal; --wide shows every column)",
            names.join(", ")
        ));
    }
    text
}

/// Printed width of a line: characters, without ANSI colour sequences.
fn console_width(line: &str) -> usize {
    let mut width = 0;
    let mut escape = false;
    for c in line.chars() {
        match (escape, c) {
            (false, '\u{1b}') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// Appends `title:` and the lines, when there are any.
fn section(out: &mut String, title: &str, lines: &[String]) {
    if !lines.is_empty() {
        out.push_str(&format!("\n{title}:\n"));
        out.push_str(&lines.join("\n"));
        out.push('\n');
    }
}

fn right_align(table: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(column) = table.column_mut(c) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn colored(style: Style, text: String, color: Color) -> Cell {
    if style.color {
        Cell::new(text).fg(color)
    } else {
        Cell::new(text)
    }
}

fn change_cell(style: Style, change: Option<&Change>) -> Cell {
    let Some(change) = change else {
        return Cell::new("(first run)");
    };
    let interval = change
        .interval
        .map(|ci| format!(" [{}, {}]", percent(ci.low), percent(ci.high)))
        .unwrap_or_default();
    let text = format!("{}{interval}", percent(change.relative));
    match change.assessment {
        Assessment::Worse => colored(style, format!("{text} worse"), Color::Red),
        Assessment::Better => colored(style, format!("{text} better"), Color::Green),
        Assessment::Unchanged => Cell::new(format!("{text} ~")),
    }
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict.outcome {
        Outcome::Regression => format!(
            "{} regression ({})",
            verdict.severity.map(|s| s.as_str()).unwrap_or("?"),
            match verdict.state {
                Some(RegressionState::Confirmed) => "confirmed",
                _ => "suspected",
            }
        ),
        Outcome::Improvement => "improvement".into(),
        Outcome::NoChange => match verdict.transition {
            Some(Transition::Resolved) => "ok (resolved)".into(),
            _ if verdict.state.is_some() => "ok (regression still open)".into(),
            _ => "ok".into(),
        },
        Outcome::InsufficientBaseline => format!(
            "baseline {}/{}",
            verdict
                .evidence
                .as_ref()
                .map(|e| e.baseline_runs.len())
                .unwrap_or(0),
            crate::detect::baseline::MIN_BASELINE_RUNS
        ),
        Outcome::NewEpoch => "new hardware".into(),
        Outcome::NotEvaluated => "-".into(),
        Outcome::Failing => "failing (never succeeded)".into(),
    }
}

fn verdict_cell(style: Style, verdict: Option<&Verdict>) -> Cell {
    let Some(verdict) = verdict else {
        return Cell::new("-");
    };
    let text = verdict_text(verdict);
    match verdict.outcome {
        Outcome::Regression => colored(style, text, Color::Red),
        Outcome::Improvement => colored(style, text, Color::Green),
        _ => Cell::new(text),
    }
}

fn status_cell(style: Style, status: BenchStatus) -> Cell {
    match status {
        BenchStatus::Ok => Cell::new("ok"),
        other => colored(style, other.as_str().to_string(), Color::Red),
    }
}

/// How the run was started and what the quiet-host gate found, when the daemon started it.
fn gate_line(run: &RunRecord) -> Option<String> {
    use GateOutcome;
    let trigger = run.trigger?;
    let mut line = format!("started by: {}", trigger.as_str().replace('_', "-"));
    if let Some(gate) = &run.gate {
        let postponed = if gate.postponed_secs >= 1.0 {
            format!(
                ", postponed {}",
                humantime::format_duration(std::time::Duration::from_secs(
                    gate.postponed_secs as u64
                ))
            )
        } else {
            String::new()
        };
        let reasons = if gate.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", gate.reasons.join(", "))
        };
        line.push_str(&match gate.outcome {
            GateOutcome::Quiet => format!(" · quiet-host gate: quiet{postponed}{reasons}"),
            GateOutcome::Noisy => format!(
                " · NOISY: the host stayed busy{postponed}{reasons}; results may reflect the load"
            ),
            GateOutcome::Skipped => format!(" · skipped: the host stayed busy{postponed}{reasons}"),
        });
    }
    if trigger == Trigger::Manual && run.gate.is_none() {
        return None;
    }
    line.push('\n');
    Some(line)
}

pub(crate) fn run_report(report: &RunReport, style: Style) -> String {
    let run = &report.run;
    let mut out = String::new();
    out.push_str(&format!(
        "run {} · suite {} · {}{}{} · host {} · fingerprint {}\n",
        run.id,
        run.suite,
        run.status.as_str(),
        if run.quick { " (quick)" } else { "" },
        run.confirms
            .map(|c| format!(" · confirmation run for run {c}"))
            .unwrap_or_default(),
        run.host,
        run.fingerprint
    ));
    out.push_str(&format!(
        "started {}{}\n",
        run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        run.duration_secs()
            .map(|d| format!(" · took {d:.1} s"))
            .unwrap_or_default()
    ));
    if let Some(snapshot) = &report.snapshot {
        let mem = |b: u64| b as f64 / (1024.0 * 1024.0 * 1024.0);
        out.push_str(&format!(
            "host during run: load {:.2} {:.2} {:.2} at start{} · memory available {:.1}/{:.1} GiB\n",
            snapshot.start.load_1,
            snapshot.start.load_5,
            snapshot.start.load_15,
            snapshot
                .cpu_busy_percent
                .map(|c| format!(" · CPU busy {c:.0}%"))
                .unwrap_or_default(),
            mem(snapshot.start.memory_available_bytes),
            mem(snapshot.start.memory_total_bytes),
        ));
    }
    if let Some(env) = &report.environment_change {
        if let Some(software) = &env.software {
            out.push_str(&format!(
                "NOTE: software changed since run {}: {}. Judged against the baselines from before the change.\n",
                env.previous_run,
                software.summary()
            ));
        }
        if env.hardware_changed() {
            out.push_str(&format!(
                "NOTE: hardware changed since run {} ({} → {}; changed: {}). A new baseline lineage starts; levels on the old hardware are shown, not judged.\n",
                env.previous_run,
                env.previous_fingerprint,
                env.fingerprint,
                if env.changed_fields.is_empty() {
                    "unknown".to_string()
                } else {
                    env.changed_fields.join(", ")
                }
            ));
        }
    }
    if let Some(line) = gate_line(run) {
        out.push_str(&line);
    }
    if let Some(note) = &run.note {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push('\n');

    let header = [
        "benchmark",
        "median",
        "95% CI",
        "CV",
        "p95 / p99",
        "outliers",
        "n",
        "vs previous",
        "verdict",
        "status",
    ];
    let mut rows = Vec::new();
    for view in &report.results {
        let r = &view.result;
        let metric = &r.metric;
        let (median, ci, cv, tails, outliers, n) = match &r.summary {
            Some(s) => {
                let ci = s
                    .median_ci
                    .map(|ci| super::format::range(ci.low, ci.high, metric))
                    .unwrap_or_else(|| "-".into());
                // Tail percentiles mean something for latencies: per-operation latency when
                // the workload records it, else the samples' tail for duration metrics
                // (for throughput, the *low* tail is the bad one and p95/p99 would mislead).
                let tails = match (&r.latency, metric.direction) {
                    (Some(l), _) => format!(
                        "op {} / {}",
                        super::format::seconds(l.p95),
                        super::format::seconds(l.p99)
                    ),
                    (None, Direction::LowerIsBetter) => {
                        format!("{} / {}", value(s.p95, metric), value(s.p99, metric))
                    }
                    (None, Direction::HigherIsBetter) => "-".into(),
                };
                (
                    value(s.median, metric),
                    ci,
                    format!("{:.1}%", s.cv * 100.0),
                    tails,
                    format!("{}", s.outliers_low + s.outliers_high),
                    format!("{}", s.count),
                )
            }
            None => (
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "0".into(),
            ),
        };
        rows.push(vec![
            Cell::new(&r.benchmark),
            Cell::new(median),
            Cell::new(ci),
            Cell::new(cv),
            Cell::new(tails),
            Cell::new(outliers),
            Cell::new(n),
            change_cell(style, view.change.as_ref()),
            verdict_cell(style, view.verdict.as_ref()),
            status_cell(style, r.status),
        ]);
    }
    // On a narrow terminal the least needed columns go first: outliers, n, the tails, the
    // CV, then the interval of the median (the change keeps its own).
    out.push_str(&fitted(
        style,
        &header,
        rows,
        &[5, 6, 4, 3, 2],
        &[1, 3, 5, 6],
    ));
    out.push('\n');

    let levels: Vec<String> = report
        .results
        .iter()
        .filter_map(|v| {
            let l = v.previous_hardware.as_ref()?;
            Some(format!(
                "  {}: {} → {} ({:+.1}%: {}; median of runs {})\n",
                v.result.benchmark,
                value(l.before_median, &v.result.metric),
                value(l.after_median, &v.result.metric),
                l.relative * 100.0,
                match (v.result.metric.direction, l.relative > 0.0) {
                    (_, _) if l.relative == 0.0 => "the same",
                    (Direction::HigherIsBetter, true) | (Direction::LowerIsBetter, false) => {
                        "better"
                    }
                    _ => "worse",
                },
                l.previous_runs
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
        .collect();
    if let (false, Some(env)) = (levels.is_empty(), &report.environment_change) {
        out.push_str(&format!(
            "Levels on the previous hardware ({}) and on this one, for information (not a verdict):\n",
            env.previous_fingerprint
        ));
        for line in levels {
            out.push_str(&line);
        }
        out.push('\n');
    }

    let problems: Vec<String> = report
        .results
        .iter()
        .filter_map(|v| {
            let r = &v.result;
            let mut notes = Vec::new();
            if let Some(e) = &r.error {
                notes.push(e.clone());
            }
            if r.budget_exhausted {
                notes.push(format!(
                    "time budget reached after {} samples (wanted {}); raise time_budget for tighter intervals",
                    r.summary.as_ref().map(|s| s.count).unwrap_or(0),
                    r.options.samples
                ));
            }
            (!notes.is_empty()).then(|| format!("  {}: {}", r.benchmark, notes.join("; ")))
        })
        .collect();
    section(&mut out, "problems", &problems);
    let findings: Vec<String> = report
        .results
        .iter()
        .filter_map(|v| {
            let verdict = v.verdict.as_ref()?;
            matches!(
                verdict.outcome,
                Outcome::Regression | Outcome::Improvement | Outcome::NewEpoch | Outcome::Failing
            )
            .then(|| format!("  {}: {}", v.result.benchmark, verdict.explanation))
        })
        .collect();
    let history_findings: Vec<String> = report
        .results
        .iter()
        .filter_map(|v| Some((v, v.verdict.as_ref()?)))
        .flat_map(|(v, verdict)| {
            let shifts = verdict
                .change_points
                .iter()
                .filter(|s| s.recent)
                .map(move |s| {
                    format!(
                        "  {}: level shift at run {}: {} {} (p = {:.1e}{})",
                        v.result.benchmark,
                        s.run_id,
                        percent(s.point.point.relative_change),
                        s.point.movement.as_str(),
                        s.point.point.p_value,
                        if s.point.point.confirmed_by_binseg {
                            ", binary segmentation agrees"
                        } else {
                            ""
                        }
                    )
                });
            let drift = verdict.drift.iter().filter(|t| t.drift).map(move |t| {
                // A watched process whose memory keeps rising across runs is leaking.
                let leak = v.result.kind == "process.memory" && t.movement == Movement::Worse;
                format!(
                    "  {}: {}drifting {} by {} {} (Mann-Kendall p = {:.1e})",
                    v.result.benchmark,
                    if leak {
                        "MEMORY LEAK: resident memory "
                    } else {
                        ""
                    },
                    t.movement.as_str(),
                    percent(t.relative_change_over_window),
                    verdict
                        .drift_window
                        .map_or_else(|| "over the trend window".into(), |w| w.describe()),
                    t.p_value
                )
            });
            shifts.chain(drift).collect::<Vec<_>>()
        })
        .collect();
    section(&mut out, "history", &history_findings);
    section(&mut out, "findings", &findings);
    let violations: Vec<String> = report
        .results
        .iter()
        .filter_map(|v| Some((v, v.verdict.as_ref()?)))
        .flat_map(|(v, verdict)| {
            verdict
                .slo
                .iter()
                .filter(|o| o.met == Some(false))
                .map(move |o| {
                    format!(
                        "  {}: `{}` not met (actual {})",
                        v.result.benchmark,
                        o.slo.expression,
                        o.actual
                            .map(super::format::sig4)
                            .unwrap_or_else(|| "-".into())
                    )
                })
        })
        .collect();
    section(&mut out, "SLO violations", &violations);
    let missing: Vec<&String> = run
        .benchmarks
        .iter()
        .filter(|b| !report.results.iter().any(|r| &r.result.benchmark == *b))
        .collect();
    if !missing.is_empty() && run.status != RunStatus::Running {
        out.push_str(&format!(
            "\nnot run: {}\n",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

pub(crate) fn runs(report: &RunsReport, style: Style) -> String {
    if report.runs.is_empty() {
        return "no runs recorded yet; start one with `perfwarden run`\n".into();
    }
    let mut t = table(
        style,
        &[
            "run",
            "suite",
            "started (UTC)",
            "duration",
            "status",
            "benchmarks",
            "fingerprint",
        ],
    );
    for run in &report.runs {
        let status = match run.status {
            RunStatus::Success => Cell::new("success"),
            RunStatus::Running => Cell::new("running"),
            other => colored(style, other.as_str().to_string(), Color::Red),
        };
        t.add_row(vec![
            Cell::new(run.id),
            Cell::new(format!(
                "{}{}{}{}",
                run.suite,
                if run.quick { " (quick)" } else { "" },
                match run.gate.as_ref().map(|g| g.outcome) {
                    Some(GateOutcome::Noisy) => " (noisy host)",
                    _ => "",
                },
                run.confirms
                    .map(|c| format!(" (confirms {c})"))
                    .unwrap_or_default()
            )),
            Cell::new(run.started_at.format("%Y-%m-%d %H:%M:%S")),
            Cell::new(
                run.duration_secs()
                    .map(|d| format!("{d:.1} s"))
                    .unwrap_or_else(|| "-".into()),
            ),
            status,
            Cell::new(run.benchmarks.len()),
            Cell::new(&run.fingerprint),
        ]);
    }
    right_align(&mut t, &[0, 3, 5]);
    format!("{t}\n")
}

pub(crate) fn history(report: &HistoryReport, style: Style) -> String {
    if report.points.is_empty() {
        return format!(
            "no results for benchmark \"{}\" in this period\n",
            report.benchmark
        );
    }
    let unit = report.unit.clone().unwrap_or_default();
    let mut out = format!(
        "{} — median per run, {} ({})\n",
        report.benchmark,
        unit,
        match report.direction {
            Some(Direction::LowerIsBetter) => "lower is better",
            _ => "higher is better",
        }
    );
    if style.terminal {
        let medians: Vec<f64> = report
            .points
            .iter()
            .map(|p| p.median.unwrap_or(f64::NAN))
            .collect();
        out.push_str(&format!("trend: {}\n", sparkline(&medians)));
    }
    out.push('\n');
    let mut t = table(
        style,
        &[
            "run",
            "started (UTC)",
            "median",
            "95% CI",
            "CV",
            "status",
            "config",
            "fingerprint",
        ],
    );
    for p in &report.points {
        let fmt = |v: Option<f64>| match (v, &report.metric) {
            (Some(v), Some(metric)) => value(v, metric),
            (Some(v), None) => super::format::sig4(v),
            (None, _) => "-".into(),
        };
        t.add_row(vec![
            Cell::new(format!("{}{}", p.run_id, if p.quick { " q" } else { "" })),
            Cell::new(p.started_at.format("%Y-%m-%d %H:%M")),
            Cell::new(fmt(p.median)),
            Cell::new(match (p.median_ci_low, p.median_ci_high, &report.metric) {
                (Some(l), Some(h), Some(metric)) => super::format::range(l, h, metric),
                _ => "-".into(),
            }),
            Cell::new(
                p.cv.map(|c| format!("{:.1}%", c * 100.0))
                    .unwrap_or_else(|| "-".into()),
            ),
            status_cell(style, p.status),
            Cell::new(&p.config_hash),
            Cell::new(&p.fingerprint),
        ]);
    }
    right_align(&mut t, &[0, 2, 4]);
    out.push_str(&format!("{t}\n"));
    out
}

pub(crate) fn compare(report: &CompareReport, style: Style) -> String {
    let mut out = format!(
        "run {} ({}, {}) → run {} ({}, {})\n",
        report.run_a.id,
        report.run_a.suite,
        report.run_a.started_at.format("%Y-%m-%d %H:%M"),
        report.run_b.id,
        report.run_b.suite,
        report.run_b.started_at.format("%Y-%m-%d %H:%M"),
    );
    if !report.same_fingerprint {
        out.push_str(&format!(
            "NOTE: the runs have different environment fingerprints ({} vs {}); differences may come from the environment.\n",
            report.run_a.fingerprint, report.run_b.fingerprint
        ));
    }
    out.push('\n');
    if report.rows.is_empty() {
        out.push_str("the runs have no benchmark in common\n");
        return out;
    }
    let mut t = table(
        style,
        &[
            "benchmark",
            "run A median",
            "run B median",
            "change [95% CI]",
        ],
    );
    for row in &report.rows {
        let fmt = |v: Option<f64>| match (v, &row.metric) {
            (Some(v), Some(metric)) => value(v, metric),
            (Some(v), None) => format!("{} {}", super::format::sig4(v), row.unit),
            (None, _) => "-".into(),
        };
        let change = if row.same_config {
            change_cell(style, row.change.as_ref())
        } else {
            Cell::new("config differs")
        };
        let change = if row.change.is_none() && row.same_config {
            Cell::new(format!(
                "- ({} / {})",
                row.status_a.as_str(),
                row.status_b.as_str()
            ))
        } else {
            change
        };
        t.add_row(vec![
            Cell::new(&row.benchmark),
            Cell::new(fmt(row.median_a)),
            Cell::new(fmt(row.median_b)),
            change,
        ]);
    }
    right_align(&mut t, &[1, 2]);
    out.push_str(&format!("{t}\n"));
    out
}

/// Plain text: no colour or sparklines, so `_style` does not apply.
pub(crate) fn changes(report: &ChangesReport, _style: Style) -> String {
    let period = report
        .since
        .as_deref()
        .map(|s| format!(" in the last {s}"))
        .unwrap_or_default();
    if report.changes.is_empty() {
        return format!("no change of the host's hardware or software between runs{period}\n");
    }
    let mut out = format!(
        "{} change(s) of the host between runs{period}, oldest first:\n",
        report.changes.len()
    );
    for change in &report.changes {
        let mut what = Vec::new();
        if let Some(software) = &change.software {
            what.push(software.summary());
        }
        if !change.hardware.is_empty() {
            what.push(format!(
                "hardware: {} changed (a new baseline lineage)",
                change.hardware.join(", ")
            ));
        }
        out.push_str(&format!(
            "  {}  run {} ({}, since run {})  {}\n",
            change.started_at.format("%Y-%m-%d %H:%M UTC"),
            change.run_id,
            change.suite,
            change
                .software
                .as_ref()
                .map_or(change.run_id.saturating_sub(1), |s| s.since_run),
            what.join("; ")
        ));
    }
    out
}

/// Plain text: no colour or sparklines, so `_style` does not apply.
pub(crate) fn fingerprint(report: &FingerprintReport, _style: Style) -> String {
    let f = &report.fingerprint;
    let e = &report.environment;
    let known = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let mut out = format!(
        "hardware {} (the baseline lineage)\n  cpu_model              {}\n  physical_cores         {}\n  logical_cores          {}\n  memory_total_mib       {}\n  arch                   {}\n  virtualization         {}\n",
        report.hash,
        f.cpu_model,
        f.physical_cores,
        f.logical_cores,
        f.memory_total_mib,
        f.arch,
        f.virtualization,
    );
    out.push_str(&format!(
        "software {} (recorded with each run; a change is measured, not a new baseline)\n",
        report.environment_hash
    ));
    let mut line = |name: &str, value: String| {
        out.push_str(&format!("  {name:<22} {value}\n"));
    };
    line("kernel", known(&e.kernel));
    line("kernel_cmdline", known(&e.kernel_cmdline));
    line("os", format!("{} {}", known(&e.os), known(&e.os_version)));
    line("microcode", known(&e.microcode));
    match &e.mitigations {
        Some(m) => {
            for (name, value) in m {
                line(&format!("mitigations.{name}"), value.clone());
            }
        }
        None => line("mitigations", "unknown".into()),
    }
    line("smt", known(&e.smt));
    line("governor", known(&e.governor));
    line("transparent_hugepages", known(&e.transparent_hugepages));
    for (name, value) in &e.sysctls {
        line(&format!("sysctl.{name}"), value.clone());
    }
    line("libc", known(&e.libc));
    line("agent_version", known(&e.agent_version));
    for (name, state) in &e.packages {
        line(
            &format!("package.{name}"),
            match state {
                crate::model::records::PackageState::Installed(v) => v.clone(),
                crate::model::records::PackageState::Absent => "absent (not installed)".into(),
                crate::model::records::PackageState::Unknown => {
                    "unknown (no package database)".into()
                }
            },
        );
    }
    out
}

/// Plain text: no colour or sparklines, so `_style` does not apply.
pub(crate) fn check(report: &CheckReport, _style: Style) -> String {
    if report.valid {
        format!(
            "{}: ok ({} suites: {}; {} benchmarks)\n",
            report.source,
            report.suites.len(),
            report.suites.join(", "),
            report.benchmarks
        )
    } else {
        let mut out = format!(
            "{}: {} problem{}\n",
            report.source,
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        );
        for p in &report.problems {
            let location = match p.line {
                Some(line) => format!("{}:{}", p.file, line),
                None => p.file.clone(),
            };
            if p.key.is_empty() {
                out.push_str(&format!("{location}: {}\n", p.message));
            } else {
                out.push_str(&format!("{location}: `{}`: {}\n", p.key, p.message));
            }
            if let Some(hint) = &p.hint {
                out.push_str(&format!("  hint: {hint}\n"));
            }
        }
        out
    }
}

/// Plain text: no colour or sparklines, so `_style` does not apply.
pub(crate) fn analysis(report: &AnalysisReport, _style: Style) -> String {
    let mut out = format!(
        "{}: {} points ({})\n",
        report.input,
        report.points,
        match report.direction {
            Direction::LowerIsBetter => "lower is better",
            Direction::HigherIsBetter => "higher is better",
        }
    );
    if report.points < crate::stats::changepoint::MIN_POINTS {
        out.push_str(&format!(
            "change points: not searched (fewer than {} points)\n",
            crate::stats::changepoint::MIN_POINTS
        ));
    } else if report.change_points.is_empty() {
        out.push_str("change points: none\n");
    } else {
        out.push_str("change points:\n");
        let mut t = table(
            Style::default(),
            &[
                "index",
                "timestamp",
                "mean before",
                "mean after",
                "change",
                "p-value",
                "binseg",
            ],
        );
        for c in &report.change_points {
            let p = &c.point.point;
            t.add_row(vec![
                Cell::new(p.index),
                Cell::new(c.timestamp.clone().unwrap_or_else(|| "-".into())),
                Cell::new(super::format::sig4(p.mean_before)),
                Cell::new(super::format::sig4(p.mean_after)),
                Cell::new(format!(
                    "{} {}",
                    percent(p.relative_change),
                    c.point.movement.as_str()
                )),
                Cell::new(format!("{:.2e}", p.p_value)),
                Cell::new(if p.confirmed_by_binseg { "agrees" } else { "-" }),
            ]);
        }
        right_align(&mut t, &[0, 2, 3, 5]);
        out.push_str(&format!("{t}\n"));
        if report.change_points.iter().any(|c| c.point.explains_drift) {
            out.push_str(
                "the series' apparent drift is these level shifts: without them it does not drift\n",
            );
        }
    }
    if report.points >= crate::stats::changepoint::MIN_POINTS {
        out.push_str(&format!(
            "noise: sd {}{}; outliers set aside: {}\n",
            super::format::sig4(report.noise_scale),
            if report.autocorrelation > 0.0 {
                format!(
                    ", lag-1 autocorrelation {:.2} allowed for",
                    report.autocorrelation
                )
            } else {
                String::new()
            },
            match report.outliers.len() {
                0 => "none".to_string(),
                count => {
                    let shown: Vec<String> = report
                        .outliers
                        .iter()
                        .take(10)
                        .map(|i| i.to_string())
                        .collect();
                    format!(
                        "{count} (index {}{})",
                        shown.join(", "),
                        if count > 10 {
                            format!(" and {} more", count - 10)
                        } else {
                            String::new()
                        }
                    )
                }
            }
        ));
    }
    match &report.trend {
        None => out.push_str("trend: not computed (fewer than 3 points)\n"),
        Some(trend) => out.push_str(&format!(
            "trend (level shifts taken out): Mann-Kendall S = {}, z = {:.2}, p = {:.2e}; Theil–Sen slope {:.4e} per {} = {} over the series ({}){}\n",
            trend.mann_kendall_s,
            trend.mann_kendall_z,
            trend.p_value,
            trend.slope,
            report.slope_per,
            percent(trend.relative_change_over_window),
            trend.movement.as_str(),
            if trend.drift {
                format!(
                    " — DRIFT (p < 0.01 and at least {} over the series)",
                    percent(report.tolerance).trim_start_matches('+')
                )
            } else {
                " — no significant drift".to_string()
            }
        )),
    }
    out
}

pub(crate) fn regressions(report: &RegressionsReport, style: Style) -> String {
    if report.regressions.is_empty() {
        return if report.all {
            "no regression was ever recorded\n".into()
        } else {
            "no open regressions\n".into()
        };
    }
    let mut t = table(
        style,
        &[
            "benchmark",
            "severity",
            "state",
            "change [lower bound]",
            "runs",
            "ended",
        ],
    );
    for r in &report.regressions {
        let change = match (r.worse_change, r.worse_change_low) {
            (Some(c), Some(l)) => format!("{} worse [{}]", percent(c), percent(l)),
            (Some(c), None) => format!("{} worse", percent(c)),
            _ => "failed".into(),
        };
        let state = r.state.as_str();
        let severity = if r.ended.is_none() {
            colored(style, r.severity.as_str().to_string(), Color::Red)
        } else {
            Cell::new(r.severity.as_str())
        };
        t.add_row(vec![
            Cell::new(&r.benchmark),
            severity,
            Cell::new(state),
            Cell::new(change),
            Cell::new(format!("{}–{} ({})", r.first_run, r.last_run, r.runs.len())),
            Cell::new(match (r.ended, r.ended_run) {
                (Some(how), Some(run)) => format!(
                    "{} at run {run}",
                    serde_json::to_value(how)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
                _ => "open".into(),
            }),
        ]);
    }
    let mut out = format!("{t}\n");
    for r in report.regressions.iter().filter(|r| r.ended.is_none()) {
        out.push_str(&format!("  {}: {}\n", r.benchmark, r.explanation));
    }
    out
}

/// Plain text: no colour or sparklines, so `_style` does not apply.
pub(crate) fn baselines(report: &BaselineReport, _style: Style) -> String {
    if report.baselines.is_empty() {
        return "no benchmark has results yet\n".into();
    }
    let mut t = table(
        Style::default(),
        &[
            "benchmark",
            "runs",
            "median",
            "run-to-run CV",
            "detects",
            "starts at",
            "status",
        ],
    );
    for b in &report.baselines {
        t.add_row(vec![
            Cell::new(&b.benchmark),
            Cell::new(if b.runs.is_empty() {
                "none".to_string()
            } else {
                format!(
                    "{} ({}–{})",
                    b.runs.len(),
                    b.runs.first().unwrap_or(&0),
                    b.runs.last().unwrap_or(&0)
                )
            }),
            Cell::new(
                b.median
                    .map(|m| value(m, &b.metric))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(
                b.run_to_run_cv
                    .map(|c| format!("{:.1}%", c * 100.0))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(match b.minimum_detectable_change {
                Some(mdc) if b.too_noisy => format!(
                    "≥{:.1}% (noisier than its {:.0}% tolerance)",
                    mdc * 100.0,
                    b.tolerance * 100.0
                ),
                Some(mdc) => format!("≥{:.1}%", mdc * 100.0),
                None => "-".into(),
            }),
            Cell::new(
                b.starts_at_run
                    .map(|r| format!("run {r}"))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(match (&b.open_regression, &b.next_verdict) {
                (Some(r), _) => format!("{} regression open", r.severity.as_str()),
                (None, NextVerdict::Ready) => "ready".into(),
                (None, next) => format!(
                    "building ({}/{}): {}",
                    b.runs.len(),
                    crate::detect::baseline::MIN_BASELINE_RUNS,
                    next_verdict_text(next)
                ),
            }),
        ]);
    }
    let notes: Vec<String> = report
        .baselines
        .iter()
        .filter(|b| b.too_noisy)
        .map(|b| {
            format!(
                "  {}: too noisy for its {:.0}% tolerance; a run only flags changes from {:.1}% (raise `samples`/`min_time`, or the tolerance)",
                b.benchmark,
                b.tolerance * 100.0,
                b.minimum_detectable_change.unwrap_or(0.0) * 100.0
            )
        })
        .collect();
    let age =
        report
            .baselines
            .iter()
            .map(|b| b.age_limit_days)
            .fold(None::<(f64, f64)>, |acc, d| match acc {
                None => Some((d, d)),
                Some((lo, hi)) => Some((lo.min(d), hi.max(d))),
            });
    let mut out = format!("{t}\n");
    if let Some((lo, hi)) = age {
        out.push_str(&if (hi - lo).abs() < 0.5 {
            format!("baseline runs: the last 10 clean runs no older than {lo:.0} days\n")
        } else {
            format!(
                "baseline runs: the last 10 clean runs no older than {lo:.0}–{hi:.0} days (12 schedule periods)\n"
            )
        });
    }
    if !notes.is_empty() {
        out.push_str("\nnoise:\n");
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
}

/// When the next verdict comes, for a benchmark whose baseline is still building.
fn next_verdict_text(next: &NextVerdict) -> String {
    match next {
        NextVerdict::Ready => "the next run is judged".into(),
        NextVerdict::After { runs, at: Some(at) } => format!(
            "judged from the run due {} ({} from now)",
            at.format("%Y-%m-%d %H:%M UTC"),
            if *runs == 1 {
                "the next run".to_string()
            } else {
                format!("run {runs}")
            }
        ),
        NextVerdict::After { runs, at: None } => {
            format!("judged from the {} run from now", ordinal(*runs))
        }
        NextVerdict::Beyond { scheduled_runs } => {
            format!("not within the next {scheduled_runs} scheduled runs: old runs age out first")
        }
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Plain text: no colour or sparklines, so `_style` does not apply.
/// `perfwarden list`: suites, then benchmarks.
pub(crate) fn list(report: &ListReport, style: Style) -> String {
    let mut out = format!(
        "config: {} · schedules in {}\n\n",
        report.source, report.timezone
    );
    let mut t = table(
        style,
        &["suite", "schedule", "next run (UTC)", "benchmarks"],
    );
    for s in &report.suites {
        t.add_row(vec![
            Cell::new(&s.name),
            Cell::new(&s.schedule),
            Cell::new(match (s.enabled, s.next_run) {
                (false, _) => "disabled".to_string(),
                (true, Some(at)) => at.format("%Y-%m-%d %H:%M").to_string(),
                (true, None) => "never".to_string(),
            }),
            Cell::new(s.benchmarks.len()),
        ]);
    }
    right_align(&mut t, &[3]);
    out.push_str(&format!("{t}\n\n"));
    let mut t = table(style, &["benchmark", "kind", "suites"]);
    for b in &report.benchmarks {
        t.add_row(vec![
            Cell::new(&b.name),
            Cell::new(&b.kind),
            Cell::new(if b.suites.is_empty() {
                "(none)".to_string()
            } else {
                b.suites.join(", ")
            }),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    out
}

/// `perfwarden report`: the health report, and with `--since` the review of the period.
pub(crate) fn review(report: &ReviewReport, style: Style) -> String {
    let mut out = health(&report.health, style);
    let Some(period) = &report.period else {
        return out;
    };
    if report.health.host_score.is_none() {
        return out;
    }
    out.push_str(&format!("\nthe last {period}:\n"));
    for suite in &report.health.suites {
        let scores: Vec<f64> = report
            .health_over_time
            .iter()
            .filter(|p| p.suite == suite.suite)
            .map(|p| p.score)
            .collect();
        if !scores.is_empty() {
            out.push_str(&format!(
                "  health of {} over {} runs: lowest {:.0}, now {:.0}{}\n",
                suite.suite,
                scores.len(),
                scores.iter().copied().fold(f64::INFINITY, f64::min),
                suite.health.score,
                if style.terminal {
                    format!("  {}", sparkline(&scores))
                } else {
                    String::new()
                }
            ));
        }
    }
    if report.regression_log.is_empty() {
        out.push_str("  regressions opened or closed: none\n");
    } else {
        out.push_str("  regressions opened or closed:\n");
        for r in &report.regression_log {
            out.push_str(&format!(
                "    {} {} {} (runs {}–{}): {}{}\n",
                r.benchmark,
                r.severity.as_str(),
                r.state.as_str(),
                r.first_run,
                r.last_run,
                super::review::ending_words(r),
                r.cause
                    .as_ref()
                    .map(|c| format!("; likely cause: {c}"))
                    .unwrap_or_default()
            ));
        }
    }
    if report.changes.is_empty() {
        out.push_str("  host changes: none\n");
    } else {
        out.push_str("  host changes:\n");
        for c in &report.changes {
            let what = c.describe();
            out.push_str(&format!(
                "    run {} ({}): {what}\n",
                c.run_id,
                c.started_at.format("%Y-%m-%d %H:%M")
            ));
        }
    }
    let trends: Vec<String> = report
        .benchmarks
        .iter()
        .filter(|b| b.points.len() >= 2)
        .filter_map(|b| {
            let first = b.points.iter().find_map(|p| p.median)?;
            let last = b.points.iter().rev().find_map(|p| p.median)?;
            Some(format!(
                "    {:<28} {:>4} runs  {} → {} ({})",
                b.benchmark,
                b.points.len(),
                value(first, &b.metric),
                value(last, &b.metric),
                percent(last / first - 1.0)
            ))
        })
        .collect();
    if !trends.is_empty() {
        out.push_str("  benchmarks, first → latest median in the period:\n");
        for t in trends {
            out.push_str(&t);
            out.push('\n');
        }
    }
    out
}

pub(crate) fn health(report: &HealthReport, _style: Style) -> String {
    let (Some(score), Some(grade)) = (report.host_score, report.host_grade) else {
        return "no runs recorded yet; start one with `perfwarden run`\n".into();
    };
    let mut out = format!("host health {score:.0}/100 (grade {grade})");
    if report.suites.len() > 1 {
        if let Some(worst) = report
            .suites
            .iter()
            .min_by(|a, b| a.health.score.total_cmp(&b.health.score))
        {
            out.push_str(&format!(" — the worst suite, {}", worst.suite));
        }
    }
    out.push('\n');
    for suite in &report.suites {
        out.push_str(&format!(
            "\nsuite {} · latest run {} ({}, {}): health {:.0}/100 (grade {})\n",
            suite.suite,
            suite.latest_run.id,
            suite.latest_run.started_at.format("%Y-%m-%d %H:%M UTC"),
            suite.latest_run.status.as_str(),
            suite.health.score,
            suite.health.grade
        ));
        if suite.health.deductions.is_empty() {
            out.push_str("  100 points: no open regression, SLO miss or drift\n");
        }
        if !suite.unjudged.is_empty() {
            out.push_str(&format!("  {}\n", crate::report::unjudged_words(suite)));
        }
        for d in &suite.health.deductions {
            out.push_str(&format!(
                "  -{:<3} {}: {}\n",
                d.points, d.benchmark, d.reason
            ));
        }
        if !suite.shifts.is_empty() {
            out.push_str("  level shifts in recent history:\n");
            for s in &suite.shifts {
                out.push_str(&format!(
                    "    {} at run {}: {} ({}, p = {:.1e})\n",
                    s.benchmark,
                    s.run_id,
                    percent(s.point.point.relative_change),
                    s.point.movement.as_str(),
                    s.point.point.p_value
                ));
            }
        }
        if !suite.too_noisy.is_empty() {
            out.push_str(
                "  too noisy for their tolerance (raise samples/min_time, or the tolerance):\n",
            );
            for n in &suite.too_noisy {
                out.push_str(&format!(
                    "    {}: a run detects changes from {:.1}%, the tolerance is {:.1}%\n",
                    n.benchmark,
                    n.minimum_detectable_change * 100.0,
                    n.tolerance * 100.0
                ));
            }
        }
        if !suite.recommendations.is_empty() {
            out.push_str("  findings:\n");
            for r in &suite.recommendations {
                let who = if r.benchmark.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", r.benchmark)
                };
                out.push_str(&format!(
                    "  - {who}{}\n    next: {}\n",
                    r.finding, r.next_step
                ));
            }
        }
    }
    out
}

/// `perfwarden status`, in plain text: no colour or sparklines, so `_style` does not apply.
pub(crate) fn status(report: &StatusReport, _style: Style) -> String {
    let mut out = String::new();
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    match &report.daemon {
        None => out.push_str(&format!(
            "daemon     not running (nothing answers on {})\n",
            report.socket.display()
        )),
        Some(d) => {
            let up = (chrono::Utc::now() - d.started_at).num_seconds().max(0) as u64;
            out.push_str(&format!(
                "daemon     running, pid {}, up {} (perfwarden {})\n",
                d.pid,
                humantime::format_duration(std::time::Duration::from_secs(up)),
                d.version
            ));
            out.push_str(&format!("config     {}\n", d.config));
            if let Some(reload) = &d.last_reload {
                if reload.ok {
                    out.push_str(&format!("reload     {} ok\n", local(reload.at)));
                } else {
                    out.push_str(&format!(
                        "reload     {} REJECTED, previous config still running:\n",
                        local(reload.at)
                    ));
                    for e in &reload.errors {
                        out.push_str(&format!("             {e}\n"));
                    }
                }
            }
            out.push_str(&format!(
                "schedule   time zone {}, splay {} on this host\n",
                d.timezone,
                humantime::format_duration(std::time::Duration::from_secs(d.splay_secs as u64))
            ));
            let state = match (&d.current, &d.waiting) {
                (_, Some(w)) if d.state == "waiting_for_quiet_host" => format!(
                    "waiting for a quiet host to run {} ({}); next check {}",
                    w.suite,
                    w.reasons.join(", "),
                    local(w.retry_at)
                ),
                (Some(c), _) => format!(
                    "running {}{} ({}): benchmark {}/{} {}, {} samples (min {})",
                    c.suite,
                    c.run_id.map(|id| format!(" run {id}")).unwrap_or_default(),
                    c.trigger.as_str().replace('_', "-"),
                    c.index,
                    c.total,
                    c.benchmark.as_deref().unwrap_or("-"),
                    c.samples,
                    c.target_samples
                ),
                _ => d.state.clone(),
            };
            out.push_str(&format!("state      {state}\n"));
            for q in &d.queue {
                let what = match (q.confirms, q.due_at) {
                    (Some(run), Some(due)) => format!(
                        "confirms run {run}: {}, at {}",
                        q.benches.join(", "),
                        local(due)
                    ),
                    (Some(run), None) => {
                        format!("confirms run {run}: {}", q.benches.join(", "))
                    }
                    _ => format!("since {}", local(q.queued_at)),
                };
                out.push_str(&format!(
                    "queued     {} ({}, {what}, ticket {})\n",
                    q.suite,
                    q.trigger.as_str().replace('_', "-"),
                    q.ticket
                ));
            }
        }
    }
    out.push_str(&format!("state dir  {}\n", report.state_dir.display()));
    out.push_str(&format!(
        "health     {}, {} open regression{}\n",
        match (report.health_score, report.health_grade) {
            (Some(score), Some(grade)) => format!("{score:.0} ({grade})"),
            _ => "no runs yet".into(),
        },
        report.open_regressions,
        if report.open_regressions == 1 {
            ""
        } else {
            "s"
        }
    ));
    match &report.otlp {
        Some(otlp) if otlp.running => {
            out.push_str(&format!(
                "export     OTLP {} to {}: breaker {}, {} alert event{} waiting, {} delivered since start\n",
                otlp.protocol,
                otlp.endpoint,
                otlp.breaker.as_str().replace('_', "-"),
                report.export_backlog,
                if report.export_backlog == 1 { "" } else { "s" },
                otlp.delivered_events
            ));
            if let Some(at) = otlp.last_success {
                out.push_str(&format!("           last success {}\n", local(at)));
            }
            if let (Some(error), Some(at)) = (&otlp.last_error, otlp.last_error_at) {
                let recovered = otlp.last_success.is_some_and(|ok| ok > at);
                if !recovered {
                    out.push_str(&format!("           last error {}: {error}\n", local(at)));
                }
            }
            if let Some(next) = otlp.next_attempt {
                out.push_str(&format!("           next attempt {}\n", local(next)));
            }
        }
        Some(otlp) => out.push_str(&format!(
            "export     OTLP configured but not running: {}; {} alert event{} waiting\n",
            otlp.last_error.as_deref().unwrap_or("unknown"),
            report.export_backlog,
            if report.export_backlog == 1 { "" } else { "s" },
        )),
        None if report.export_backlog > 0 => out.push_str(&format!(
            "export     {} alert event{} waiting in the outbox\n",
            report.export_backlog,
            if report.export_backlog == 1 { "" } else { "s" },
        )),
        None => {}
    }
    out.push('\n');
    let mut t = table(
        Style::default(),
        &[
            "suite",
            "schedule",
            "next run",
            "last run",
            "last status",
            "last finished",
            "last success",
        ],
    );
    for s in &report.suites {
        let when =
            |t: Option<chrono::DateTime<chrono::Utc>>| t.map(local).unwrap_or_else(|| "-".into());
        t.add_row(vec![
            Cell::new(&s.suite),
            Cell::new(if s.enabled {
                s.schedule.clone()
            } else {
                format!("{} (disabled)", s.schedule)
            }),
            Cell::new(s.next_run_local.clone().unwrap_or_else(|| "-".into())),
            Cell::new(
                s.last_run
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(s.last_status.map(|st| st.as_str()).unwrap_or("-")),
            Cell::new(when(s.last_finished)),
            Cell::new(when(s.last_success)),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    out
}

fn database_check(check: &DatabaseCheck, style: Style) -> String {
    let mut out = format!("database {}", check.database.display());
    match check.schema {
        Some(schema) => out.push_str(&format!(" (schema {schema})\n")),
        None => out.push_str(" (no schema recorded)\n"),
    }
    out.push_str(&format!(
        "integrity: {}\n\n",
        check
            .integrity
            .as_deref()
            .unwrap_or("not checked (the daemon holds the file; stop it for redb's own check)")
    ));
    let mut t = table(style, &["table", "records read"]);
    for table_check in &check.tables {
        t.add_row(vec![
            table_check.table.clone(),
            table_check.records.to_string(),
        ]);
    }
    right_align(&mut t, &[1]);
    out.push_str(&t.to_string());
    out.push('\n');
    section(
        &mut out,
        "unreadable records (left out of every listing and export)",
        &check
            .unreadable
            .iter()
            .map(|r| format!("  {r}"))
            .collect::<Vec<_>>(),
    );
    section(
        &mut out,
        "tables that could not be read to their end",
        &check
            .damaged_tables
            .iter()
            .map(|d| format!("  {}: {}", d.table, d.reason))
            .collect::<Vec<_>>(),
    );
    if check.healthy {
        out.push_str("\nevery record is readable\n");
    } else {
        out.push_str("\nthe database is damaged\n  hint: `perfwarden db export --output FILE` saves every readable record; `perfwarden --state-dir NEW db import FILE` loads them into a new state directory, which the agent can then use (or restore a `db backup`)\n");
    }
    out
}

fn import_summary(summary: &ImportSummary, _style: Style) -> String {
    let mut out = format!(
        "{}: {} records, {} runs\n",
        summary.database.display(),
        summary.records,
        summary.runs
    );
    section(
        &mut out,
        "left out by the export (unreadable in the source)",
        &summary
            .left_out_by_export
            .iter()
            .map(|r| format!("  {r}"))
            .collect::<Vec<_>>(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_wider_than_the_terminal_drops_its_least_needed_columns() {
        let header = ["name", "value", "detail one", "detail two"];
        let rows = vec![vec![
            Cell::new("benchmark-with-a-long-name"),
            Cell::new("1.234 k events/s"),
            Cell::new("a long explanation of the first detail"),
            Cell::new("and of the second"),
        ]];
        let wide = fitted(Style::default(), &header, rows.clone(), &[3, 2], &[1]);
        assert!(wide.contains("detail two") && !wide.contains("left out"));
        let style = Style {
            width: Some(90),
            ..Style::default()
        };
        let narrow = fitted(style, &header, rows, &[3, 2], &[1]);
        assert!(
            !narrow.lines().next().unwrap().contains("detail two"),
            "{narrow}"
        );
        assert!(
            narrow.contains("(detail two left out to fit the terminal; --wide shows every column)"),
            "{narrow}"
        );
        assert!(
            narrow
                .lines()
                .all(|l| console_width(l) <= 90 || l.starts_with('(')),
            "{narrow}"
        );
    }
}
