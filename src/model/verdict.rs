//! The judgement of one result and the life of a regression, as they are stored and
//! exported: a [`Verdict`] per benchmark and run, and a [`Regression`] from the run that
//! opened it to the one that ended it. `detect::verdict` computes them; the store keeps
//! them; reports and exports read them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegressionState {
    Suspected,
    Confirmed,
}

impl RegressionState {
    pub fn as_str(self) -> &'static str {
        match self {
            RegressionState::Suspected => "suspected",
            RegressionState::Confirmed => "confirmed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Within noise or tolerance.
    NoChange,
    /// Better by at least the tolerance, with confidence. Reported, never alerted.
    Improvement,
    Regression,
    /// Fewer than 5 baseline runs and no critical change.
    InsufficientBaseline,
    /// No comparable run under this fingerprint, but history under another one.
    NewEpoch,
    /// Interrupted, or nothing to judge.
    NotEvaluated,
    /// Failed or timed out, and never succeeded in this configuration on this hardware:
    /// something to fix, not a regression (there is no level it fell from).
    Failing,
}

impl Outcome {
    /// Its name in JSON and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NoChange => "no_change",
            Outcome::Improvement => "improvement",
            Outcome::Regression => "regression",
            Outcome::InsufficientBaseline => "insufficient_baseline",
            Outcome::NewEpoch => "new_epoch",
            Outcome::NotEvaluated => "not_evaluated",
            Outcome::Failing => "failing",
        }
    }
}

/// What happened to the benchmark's regression with this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Opened,
    Confirmed,
    Escalated,
    Continuing,
    Resolved,
    /// Closed because the environment (fingerprint) changed.
    EnvironmentChanged,
}

/// The numbers behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub baseline_runs: Vec<u64>,
    /// Median of the pooled baseline samples.
    pub baseline_median: f64,
    pub current_median: f64,
    /// Relative change of the median, positive = worse.
    pub worse_change: f64,
    /// Lower bound of `worse_change`: the bootstrap's 95% half-width and `run_noise_margin`
    /// combined in quadrature below the change, on the log scale of the ratio of levels.
    /// Severity is read from it.
    pub worse_change_low: Option<f64>,
    /// Upper bound of `worse_change`, built like the lower one (bootstrap half-width and
    /// `run_noise_margin` in quadrature).
    pub worse_change_high: Option<f64>,
    /// 95% prediction half-width of one run's level from the baseline's between-run spread
    /// (run-to-run variance beyond what the samples explain), relative to the level.
    pub run_noise_margin: f64,
    /// Coefficient of variation of the baseline runs' medians.
    pub run_to_run_cv: Option<f64>,
    /// Effective tolerance: max(configured, 3 × run_to_run_cv).
    pub tolerance: f64,
    /// The smallest sustained change one run can flag at the baseline's noise (see
    /// `detect::verdict::minimum_detectable_change`); above the configured tolerance, the
    /// benchmark is too noisy for it.
    #[serde(default)]
    pub minimum_detectable_change: Option<f64>,
    pub mann_whitney_p: Option<f64>,
    /// After Benjamini-Hochberg across the run's benchmarks.
    pub mann_whitney_p_adjusted: Option<f64>,
    /// One-sided 99% prediction bound of the baseline medians (worse side).
    pub prediction_bound: Option<f64>,
    pub beyond_prediction_bound: Option<bool>,
    /// Beyond the one-sided 95% prediction bound of the baseline medians (worse side): with
    /// a significant, sub-tolerance change, the run is *outlying* and held out of the next
    /// baselines for a while. Absent in verdicts stored before it existed (the 99% bound
    /// stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyond_hold_bound: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub run_id: u64,
    pub benchmark: String,
    pub outcome: Outcome,
    /// Severity of the benchmark's regression after this run (when `outcome` is
    /// `regression`): the highest it has reached, the one its log entry and series carry.
    pub severity: Option<Severity>,
    /// State of the benchmark's regression after this run.
    pub state: Option<RegressionState>,
    pub transition: Option<Transition>,
    pub evidence: Option<Evidence>,
    /// One sentence an SRE can act on.
    pub explanation: String,
    /// The benchmark's SLOs on this run, reported apart from regressions.
    #[serde(default)]
    pub slo: Vec<super::slo::SloOutcome>,
    /// How noisy the benchmark is, as of this run.
    #[serde(default)]
    pub noise: Option<NoiseProfile>,
    /// Change points over the benchmark's comparable history of run medians, up to this
    /// run, labelled with the run that starts each new level.
    #[serde(default)]
    pub change_points: Vec<HistoryShift>,
    /// Drift of the run medians over the trend window (`null` under 5 runs in it).
    #[serde(default)]
    pub drift: Option<super::history::Trend>,
    /// The runs the drift was measured over: the last 30 days, or the last 12 runs when
    /// 30 days hold fewer (see `detect::verdict::trend_window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_window: Option<TrendWindow>,
    /// What changed in the software environment since the benchmark's previous run: this
    /// run was judged against the baseline from before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_change: Option<super::records::EnvironmentDiff>,
}

/// The stretch of history a drift was measured over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendWindow {
    /// Runs in the window, the judged run included.
    pub runs: usize,
    /// Days from the window's first run to the judged run.
    pub days: f64,
}

impl TrendWindow {
    /// "over 30 days (31 runs)", as reports put it.
    pub fn describe(&self) -> String {
        format!("over {:.0} days ({} runs)", self.days, self.runs)
    }
}

/// A benchmark's noise: what tolerance and verdicts have to live with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseProfile {
    /// Coefficient of variation of this run's samples.
    pub within_run_cv: Option<f64>,
    /// Coefficient of variation of the baseline runs' medians.
    pub run_to_run_cv: Option<f64>,
    pub baseline_runs: usize,
    /// The smallest sustained change one run can flag (see `Evidence`).
    #[serde(default)]
    pub minimum_detectable_change: Option<f64>,
    /// The configured tolerance, to tell whether the noise allows it.
    #[serde(default)]
    pub tolerance: Option<f64>,
}

impl NoiseProfile {
    /// The benchmark's noise does not let a run detect a change of its configured tolerance.
    pub fn too_noisy(&self) -> bool {
        matches!(
            (self.minimum_detectable_change, self.tolerance),
            (Some(mdc), Some(tolerance)) if mdc > tolerance + 1e-12
        )
    }
}

/// A change point in a benchmark's stored history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryShift {
    /// First run at the new level.
    pub run_id: u64,
    /// The new level started inside the trend window (the last 30 days, or the last 12
    /// comparable runs when 30 days hold fewer).
    pub recent: bool,
    #[serde(flatten)]
    pub point: super::history::LabelledChangePoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Back within tolerance.
    Resolved,
    /// `baseline accept`: the new level became the baseline.
    Accepted,
    /// `baseline reset`.
    Reset,
    EnvironmentChanged,
}

impl Ending {
    /// Its name in JSON and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Resolved => "resolved",
            Ending::Accepted => "accepted",
            Ending::Reset => "reset",
            Ending::EnvironmentChanged => "environment_changed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub benchmark: String,
    pub suite: String,
    pub config_hash: String,
    pub fingerprint: String,
    pub state: RegressionState,
    pub severity: Severity,
    pub first_run: u64,
    pub last_run: u64,
    /// Runs that regressed, in order.
    pub runs: Vec<u64>,
    pub worse_change: Option<f64>,
    pub worse_change_low: Option<f64>,
    pub baseline_median: Option<f64>,
    pub current_median: Option<f64>,
    pub explanation: String,
    pub ended: Option<Ending>,
    pub ended_run: Option<u64>,
    /// Consecutive runs back within tolerance so far (a confirmed regression resolves at
    /// [`RESOLVING_RUNS`]).
    #[serde(default)]
    pub recovering_runs: u32,
    /// What changed in the software environment at the run that opened it (its likely
    /// cause), e.g. "kernel 6.1.0-26 → 6.1.0-28".
    #[serde(default)]
    pub cause: Option<String>,
    /// `worse_change` of each run that regressed with it, in order: how its size moved
    /// from the run that opened it on.
    #[serde(default)]
    pub changes: Vec<f64>,
}

/// Consecutive runs back within tolerance that resolve a confirmed regression.
pub const RESOLVING_RUNS: u32 = 2;
