//! Judging results against history, so that an SRE hears about real regressions only.
//!
//! - [`compare`]: the plain change of a result against the previous comparable runs, and
//!   whether the environment fingerprint changed since the suite's previous run;
//! - [`baseline`]: which earlier runs a result is judged against, and for how long;
//! - [`verdict`]: the gated regression verdict, severities and the
//!   suspected → confirmed → resolved state machine, persisted per run;
//! - [`history`]: change points and drift of a series (stored history, or `analyze`);
//! - [`slo`]: absolute thresholds per benchmark;
//! - [`health`]: the 0-100 score and grade, line by line;
//! - [`evaluation`]: false-alarm and recall rates of the verdicts on synthetic histories;
//! - [`trend_evaluation`]: what the history analysis finds within 30 days on the shipped
//!   schedules (smallest drift and step, and what follows the first finding).
//!
//! Everything here is computed from data read from the store; the judging functions are
//! pure, so tests and the evaluation run them without a database.

pub mod baseline;
pub(crate) mod compare;
pub mod evaluation;
pub mod health;
pub(crate) mod history;
pub mod trend_evaluation;
pub(crate) mod verdict;

pub use baseline::AgeLimits;
pub use compare::{
    Assessment, Change, EnvironmentChange, HardwareLevels, HostChange, change_against_history,
    compare_runs, environment_change, host_changes, level_on_previous_hardware,
};
pub use verdict::evaluate_run;
