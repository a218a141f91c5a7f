//! `perfwarden daemon`: run the scheduler in the foreground (what the systemd unit starts).

use super::{CommandError, Globals, Outcome};
use crate::daemon::{self, DaemonOptions};
use crate::logging::LogFormat;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log format on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
}

pub(super) fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    // Logging was set up by `main` from `--log-format` before anything else ran.
    let code = daemon::run(DaemonOptions {
        config: globals.config.clone(),
        state_dir: globals.state_dir.clone(),
        serve_command: std::sync::Arc::new(super::serve_command),
    })?;
    Ok(Outcome {
        stdout: String::new(),
        code,
        ..Outcome::default()
    })
}
