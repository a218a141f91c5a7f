//! `perfwarden changes [--since 30d]`: what changed on the host from run to run — kernel,
//! microcode, mitigations, sysctls, watched packages, the agent itself, or the hardware.

use super::{CommandError, Globals, Outcome, since};
use crate::report::ChangesReport;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only changes at runs started within this period, e.g. 30d, 12h
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let from = since(args.since.as_deref())?;
    let changes = match globals.open_store_for_reading()? {
        Some(store) => crate::detect::host_changes(&store, from)?,
        None => Vec::new(),
    };
    let report = ChangesReport {
        since: args.since,
        changes,
    };
    Ok(Outcome::ok(globals.render(&report)?))
}
