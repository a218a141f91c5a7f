//! `perfwarden regressions [--all]`: open regressions (suspected and confirmed), or with
//! `--all` every regression ever opened and how it ended.

use super::{CommandError, Globals, Outcome};
use crate::report::RegressionsReport;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Include resolved, accepted and reset regressions
    #[arg(long)]
    pub all: bool,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let regressions = match globals.open_store_for_reading()? {
        Some(store) if args.all => store.regression_log()?,
        Some(store) => store.open_regressions()?,
        None => Vec::new(),
    };
    let report = RegressionsReport {
        all: args.all,
        regressions,
    };
    Ok(Outcome::ok(globals.render(&report)?))
}
