//! How a command ends: the documented exit codes and the error a command returns to the
//! person who ran it (a message printed once, and the code). The CLI, the daemon and the
//! run pipeline all end through these, so a code means the same thing wherever it comes
//! from.

use crate::model::records::{RunRecord, RunStatus};
use crate::store::StoreError;

/// Success.
pub const OK: i32 = 0;
/// Usage or config error (bad flag, invalid config, unknown suite, run or benchmark).
pub const USAGE: i32 = 1;
/// At least one benchmark failed or timed out (results were stored).
pub(crate) const BENCHMARK_FAILED: i32 = 2;
/// The state directory or database cannot be used (permissions, locked, newer schema).
pub(crate) const STATE: i32 = 3;
/// `status`: no daemon answers on the control socket.
pub(crate) const DAEMON_NOT_RUNNING: i32 = 4;
/// `run --fail-on`: the run ended well but found what the option names (a regression, a
/// confirmed one, a missed SLO).
pub(crate) const FAIL_ON: i32 = 5;
/// Interrupted by Ctrl-C or SIGTERM; finished benchmarks were stored.
pub(crate) const INTERRUPTED: i32 = 130;

/// The exit code of a command that ran the suite that ended as `run`: interrupted 130, a
/// benchmark failed or timed out 2, else 0 (a skipped run included).
pub(crate) fn of_run(run: &RunRecord) -> i32 {
    match run.status {
        RunStatus::Interrupted => INTERRUPTED,
        RunStatus::Failed => BENCHMARK_FAILED,
        _ => OK,
    }
}

/// A command that could not do its job: the message (printed once, to stderr) and the
/// exit code.
#[derive(Debug)]
pub struct CommandError {
    pub code: i32,
    pub message: String,
}

impl CommandError {
    pub fn usage(message: impl Into<String>) -> Self {
        CommandError {
            code: USAGE,
            message: message.into(),
        }
    }

    /// The state directory, the database or the daemon's socket cannot be used.
    pub fn state(message: impl Into<String>) -> Self {
        CommandError {
            code: STATE,
            message: message.into(),
        }
    }
}

impl From<crate::report::Unsupported> for CommandError {
    fn from(e: crate::report::Unsupported) -> Self {
        CommandError::usage(e.to_string())
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        CommandError::state(e.to_string())
    }
}
