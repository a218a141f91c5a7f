//! Judging results against history.
//!
//! Today this module answers "how did this result move against the previous comparable
//! runs?" ([`compare`]): the relative change of the median with a bootstrap interval, and
//! whether the environment fingerprint changed since the suite's previous run. Regression
//! verdicts (baselines, significance gates, severities, confirmation) build on these
//! pieces and belong here too; reports already carry an optional verdict slot for them.

pub mod compare;
pub mod evaluation;
pub mod health;
pub mod history;
pub mod slo;
pub mod verdict;

pub use compare::{
    Assessment, Change, EnvironmentChange, change_against_history, compare_runs, environment_change,
};
pub use verdict::{
    Outcome, Regression, RegressionState, Severity, Transition, Verdict, evaluate_run,
};
