//! `perfwarden runs [--suite S] [--since 30d]`: list stored runs.

use super::{CommandError, Globals, Outcome, since};
use crate::report::RunsReport;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs of this suite
    #[arg(long)]
    pub suite: Option<String>,
    /// Only runs started within this period, e.g. 30d, 12h
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let since = since(args.since.as_deref())?;
    let runs = match globals.open_store_for_reading()? {
        Some(store) => store.runs(args.suite.as_deref(), since)?,
        None => Vec::new(),
    };
    let report = RunsReport { runs };
    Ok(Outcome::ok(globals.render(&report)?))
}
