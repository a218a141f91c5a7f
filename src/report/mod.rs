//! Reports: data read from the store ([`RunReport`], [`HistoryReport`], …) and pure
//! renderers over it — aligned text for people ([`text`]) and one versioned JSON schema for
//! programs ([`json`], `schema/perfwarden-output.v1.schema.json`).
//!
//! [`render`] is the one seam between a command and the formats: a command builds its
//! report and hands it over with the chosen [`Format`]. A format is one renderer file here
//! (a trait every report implements, as [`text::Text`] is for text, or a generic function
//! over `Serialize`, as [`json::render`] is) plus its arm in [`render`].
//!
//! Building a report is the only part that reads the store; rendering never does, so the
//! same report renders identically whether it came from a one-shot run, `show`, or (later)
//! the daemon over its socket.

mod charts;
pub(crate) mod format;
pub mod html;
pub mod json;
pub mod markdown;
pub mod review;
pub(crate) mod svg;
pub(crate) mod text;

pub use review::ReviewReport;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::ConfigProblem;
use crate::detect::{self, Change, EnvironmentChange};
use crate::model::archive::{DatabaseCheck, ImportSummary};
use crate::model::history::LabelledChangePoint;
use crate::model::history::Trend;
use crate::model::metric::Direction;
use crate::model::metric::MetricDef;
use crate::model::records::{BenchStatus, BenchmarkResult, Fingerprint, RunRecord, RunSnapshot};
use crate::model::status::StatusReport;
use crate::model::verdict::Regression;
use crate::model::verdict::Verdict;
use crate::store::{Store, StoreError};

/// Rendering options for the formats people read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Terminal: sparklines are drawn.
    pub terminal: bool,
    /// Columns of the terminal the text must fit (wide tables drop their least needed
    /// columns); `None` off a terminal and with `--wide`.
    pub width: Option<usize>,
}

/// How a report is written out (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// One self-contained page (`report`, `show`, `run`, `compare`, `history`).
    Html,
    /// Markdown for tickets (the same commands as HTML).
    Markdown,
    /// The one chart of `history BENCH`.
    Svg,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Html => "html",
            Format::Markdown => "markdown",
            Format::Svg => "svg",
        }
    }
}

/// A report every format can render: its JSON document is its `Serialize` form under
/// [`Report::KIND`], its text comes from [`text::Text`]; the reports people attach to
/// tickets also have an HTML page and Markdown, and a history its SVG chart.
pub trait Report: Serialize + text::Text {
    /// The `kind` of its JSON document.
    const KIND: &'static str;

    fn as_html(&self) -> Option<&dyn html::Html> {
        None
    }

    fn as_markdown(&self) -> Option<&dyn markdown::Markdown> {
        None
    }

    fn as_svg(&self) -> Option<String> {
        None
    }
}

/// A format a report has no rendering in.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "--format {format} is not available for {kind}: html and markdown are for report, show, run, compare and history, svg for history; use text or json here"
)]
pub struct Unsupported {
    pub format: &'static str,
    pub kind: &'static str,
}

/// Renders `report` in `format` (`style` applies to the formats for people).
/// "not judged yet: 12 of 18 benchmarks have no baseline (5 comparable runs) …": what the
/// score of a suite whose baselines are still forming does not say, in every format.
pub(crate) fn unjudged_words(suite: &crate::detect::health::SuiteHealth) -> String {
    let total = suite.latest_run.benchmarks.len().max(suite.unjudged.len());
    format!(
        "not judged yet: {} of {total} benchmark{} of run {} {} no baseline ({} comparable runs), so the score cannot count them; `perfwarden baseline show` says when each is first judged",
        suite.unjudged.len(),
        if total == 1 { "" } else { "s" },
        suite.latest_run.id,
        if suite.unjudged.len() == 1 {
            "has"
        } else {
            "have"
        },
        crate::detect::baseline::MIN_BASELINE_RUNS
    )
}

pub fn render<R: Report>(report: &R, format: Format, style: Style) -> Result<String, Unsupported> {
    let unsupported = || Unsupported {
        format: format.name(),
        kind: R::KIND,
    };
    match format {
        Format::Text => Ok(report.text(style)),
        Format::Json => Ok(json::render(R::KIND, report) + "\n"),
        Format::Html => report.as_html().map(|r| r.html()).ok_or_else(unsupported),
        Format::Markdown => report
            .as_markdown()
            .map(|r| r.markdown())
            .ok_or_else(unsupported),
        Format::Svg => report.as_svg().ok_or_else(unsupported),
    }
}

/// The formats a command's report has: `html` and `markdown` for the pages, `svg` only for
/// a history. Checked before a command does its work (a suite is not run for nothing).
pub fn command_renders(command: &str, format: Format) -> bool {
    match format {
        Format::Text | Format::Json => true,
        Format::Html | Format::Markdown => {
            matches!(command, "report" | "show" | "run" | "compare" | "history")
        }
        Format::Svg => command == "history",
    }
}

/// One benchmark's result with what detection says about it.
#[derive(Debug, Clone, Serialize)]
pub struct ResultView {
    #[serde(flatten)]
    pub result: BenchmarkResult,
    /// Change against the previous comparable runs (`null` when there are none).
    pub change: Option<Change>,
    /// Regression verdict (`null` for runs stored before verdicts existed).
    pub verdict: Option<Verdict>,
    /// At the first run on new hardware: the level on the hardware before, for information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_hardware: Option<detect::HardwareLevels>,
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
        let environment_change = detect::environment_change(store, &run)?;
        let previous_hardware = environment_change
            .as_ref()
            .filter(|e| e.hardware_changed())
            .map(|e| e.previous_fingerprint.clone());
        let mut results = Vec::new();
        for result in store.results(run.id)? {
            let change = detect::change_against_history(store, &result)?;
            let verdict = store.verdict(result.run_id, &result.benchmark)?;
            let previous_hardware = match &previous_hardware {
                Some(fingerprint) => {
                    detect::level_on_previous_hardware(store, &result, fingerprint)?
                }
                None => None,
            };
            results.push(ResultView {
                result,
                change,
                verdict,
                previous_hardware,
            });
        }
        Ok(RunReport {
            snapshot: store.snapshot(run.id)?,
            fingerprint: store.fingerprint(&run.fingerprint)?,
            environment_change,
            run,
            results,
        })
    }

    /// The page formats' sentences about what changed on the host since the suite's
    /// previous run: the software (judged against the old baselines), the hardware (a new
    /// lineage).
    pub(crate) fn environment_notes(&self) -> Vec<String> {
        let Some(change) = &self.environment_change else {
            return Vec::new();
        };
        let mut notes = Vec::new();
        if let Some(software) = &change.software {
            notes.push(format!(
                "The software changed since run {}: {}. Each benchmark was judged against its baseline from before the change.",
                change.previous_run,
                software.summary()
            ));
        }
        if change.hardware_changed() {
            notes.push(format!(
                "The hardware changed since run {} ({}): a new baseline lineage starts.",
                change.previous_run,
                change.changed_fields.join(", ")
            ));
        }
        notes
    }

    pub fn any_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.result.status, BenchStatus::Failed | BenchStatus::TimedOut))
    }
}

/// `perfwarden regressions [--all]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RegressionsReport {
    /// `true` with `--all` (the whole log, resolved ones included).
    pub all: bool,
    pub regressions: Vec<Regression>,
}

/// One benchmark's current baseline (`perfwarden baseline show`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BaselineView {
    pub benchmark: String,
    pub unit: String,
    pub metric: MetricDef,
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
    /// When the next verdict is judged (verdicts need 5 baseline runs).
    pub next_verdict: crate::detect::baseline::NextVerdict,
    /// Baseline runs are at most this many days old (the age limit follows the schedule).
    pub age_limit_days: f64,
    /// The configured tolerance and the smallest sustained change one run can flag at the
    /// baseline's noise (fractions).
    pub tolerance: f64,
    pub minimum_detectable_change: Option<f64>,
    /// The minimum detectable change is above the configured tolerance.
    pub too_noisy: bool,
    pub open_regression: Option<Regression>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BaselineReport {
    pub baselines: Vec<BaselineView>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangesReport {
    /// The `--since` period, as given.
    pub since: Option<String>,
    pub changes: Vec<crate::detect::HostChange>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunsReport {
    pub runs: Vec<RunRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HistoryPoint {
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
pub(crate) struct HistoryReport {
    pub benchmark: String,
    /// The same runs with their verdicts, for the chart (HTML, Markdown, SVG).
    #[serde(skip)]
    pub series: Option<review::BenchmarkSeries>,
    /// Display unit of the values (`events/s`, `B/s`, `s`); `null` with no points.
    pub unit: Option<String>,
    pub direction: Option<Direction>,
    pub metric: Option<MetricDef>,
    pub points: Vec<HistoryPoint>,
}

impl HistoryReport {
    pub(crate) fn build(
        store: &Store,
        benchmark: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<HistoryReport, StoreError> {
        let history = store.history(benchmark, since)?;
        let runs: std::collections::HashMap<u64, RunRecord> = store
            .runs(None, since)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let quick = |id: u64| runs.get(&id).is_some_and(|r| r.quick);
        let suite = history
            .last()
            .and_then(|r| runs.get(&r.run_id))
            .map(|r| r.suite.clone())
            .unwrap_or_default();
        Ok(HistoryReport {
            series: review::series_of(store, benchmark, &suite, &history, &runs)?,
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
                    quick: quick(r.run_id),
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
pub(crate) struct CompareRow {
    pub benchmark: String,
    pub unit: String,
    pub status_a: BenchStatus,
    pub status_b: BenchStatus,
    pub median_a: Option<f64>,
    pub median_b: Option<f64>,
    /// `null` when either side has no usable result or the configs differ.
    pub change: Option<Change>,
    pub same_config: bool,
    /// For scaled units in the page formats.
    #[serde(skip)]
    pub metric: Option<MetricDef>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CompareReport {
    pub run_a: RunRecord,
    pub run_b: RunRecord,
    pub same_fingerprint: bool,
    pub rows: Vec<CompareRow>,
}

impl CompareReport {
    pub(crate) fn build(
        store: &Store,
        a: RunRecord,
        b: RunRecord,
    ) -> Result<CompareReport, StoreError> {
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
                metric: Some(rb.metric.clone()),
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
pub(crate) struct FingerprintReport {
    /// The hardware identity and its hash (the baseline lineage).
    pub hash: String,
    pub fingerprint: Fingerprint,
    /// The software environment and its hash (recorded per run, never splitting baselines).
    pub environment_hash: String,
    pub environment: crate::model::records::SoftwareEnvironment,
}

/// One change point of an analysed series, with its timestamp when the input had them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AnalyzedPoint {
    pub timestamp: Option<String>,
    #[serde(flatten)]
    pub point: LabelledChangePoint,
}

/// `perfwarden analyze`: change points and trend of a user's series.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AnalysisReport {
    pub input: String,
    pub points: usize,
    pub direction: Direction,
    pub tolerance: f64,
    /// What the trend slope is per: `point` (no timestamps) or `second`.
    pub slope_per: String,
    pub change_points: Vec<AnalyzedPoint>,
    /// Over the series with its level shifts taken out.
    pub trend: Option<Trend>,
    /// Robust sd of one point's noise the shifts were judged against.
    pub noise_scale: f64,
    /// Lag-1 autocorrelation of the noise allowed for (0: independent).
    pub autocorrelation: f64,
    /// Lone outliers set aside (never change points), by index.
    pub outliers: Vec<usize>,
}

/// `perfwarden list`: the suites and benchmarks of the config in use.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListReport {
    /// The config file, or the embedded default.
    pub source: String,
    /// The time zone the schedules are read in.
    pub timezone: String,
    pub suites: Vec<SuiteEntry>,
    pub benchmarks: Vec<BenchmarkEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SuiteEntry {
    pub name: String,
    pub description: Option<String>,
    pub schedule: String,
    pub enabled: bool,
    /// When the daemon would next start it on this host, splay included (`null` when
    /// disabled).
    pub next_run: Option<DateTime<Utc>>,
    pub benchmarks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BenchmarkEntry {
    pub name: String,
    pub kind: String,
    pub description: Option<String>,
    /// The suites that run it.
    pub suites: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProblemView {
    pub file: String,
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl From<&ConfigProblem> for ProblemView {
    fn from(p: &ConfigProblem) -> Self {
        let p = &p.printable();
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
pub(crate) struct CheckReport {
    pub source: String,
    pub valid: bool,
    pub suites: Vec<String>,
    pub benchmarks: usize,
    pub problems: Vec<ProblemView>,
}

macro_rules! json_kinds {
    ($($report:ty => $kind:literal;)*) => {$(
        impl Report for $report {
            const KIND: &'static str = $kind;
        }
    )*};
}

json_kinds! {
    ListReport => "list";
    DatabaseCheck => "db_check";
    ImportSummary => "db_import";
    RunsReport => "runs";
    ChangesReport => "changes";
    FingerprintReport => "fingerprint";
    CheckReport => "check";
    AnalysisReport => "analysis";
    RegressionsReport => "regressions";
    BaselineReport => "baseline";
    StatusReport => "status";
}

macro_rules! page_kinds {
    ($($report:ty => $kind:literal;)*) => {$(
        impl Report for $report {
            const KIND: &'static str = $kind;

            fn as_html(&self) -> Option<&dyn html::Html> {
                Some(self)
            }

            fn as_markdown(&self) -> Option<&dyn markdown::Markdown> {
                Some(self)
            }

            fn as_svg(&self) -> Option<String> {
                self.svg()
            }
        }
    )*};
}

page_kinds! {
    RunReport => "run";
    HistoryReport => "history";
    CompareReport => "compare";
    ReviewReport => "report";
}

/// The SVG a page report has on its own: only a history's chart.
trait OneChart {
    fn svg(&self) -> Option<String> {
        None
    }
}

impl OneChart for RunReport {}
impl OneChart for CompareReport {}
impl OneChart for ReviewReport {}

impl OneChart for HistoryReport {
    fn svg(&self) -> Option<String> {
        Some(
            match self.series.as_ref().filter(|s| !s.points.is_empty()) {
                Some(series) => svg::standalone(&charts::benchmark_chart(series).svg),
                None => svg::standalone(&svg::message(&format!(
                    "no results for benchmark {} in this period",
                    self.benchmark
                ))),
            },
        )
    }
}
