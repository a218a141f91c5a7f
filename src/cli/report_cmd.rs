//! `perfwarden report [--suite S] [--since 30d]`: the health score and grade of each suite
//! and of the host, open regressions with severity and evidence, improvements, drifts,
//! level shifts, environment changes and SLO violations, each with a recommended next
//! step; with `--since` also the review of the period (health run by run, regressions
//! opened and closed, host changes, each benchmark's movement). `--format html` makes the
//! one-file report with its charts, `--format markdown` the text for a ticket.

use super::{CommandError, Globals, Outcome, since};
use crate::report::ReviewReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  perfwarden report\n  perfwarden report --since 30d --format html --output review.html\n  perfwarden report --suite weekly --format markdown"
)]
pub struct Args {
    #[command(flatten)]
    pub output: super::OutputArgs,
    /// Only this suite
    #[arg(long)]
    pub suite: Option<String>,
    /// The period the charts and the review cover, e.g. 30d (default: the whole history)
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let from = since(args.since.as_deref())?;
    let report = match globals.open_store_for_reading()? {
        // The text report without a period prints only the latest runs' health.
        Some(store) if globals.format == crate::report::Format::Text && from.is_none() => {
            ReviewReport::summary(&store, args.suite.as_deref())?
        }
        Some(store) => {
            ReviewReport::build(&store, args.suite.as_deref(), args.since.clone(), from)?
        }
        None => ReviewReport::empty(args.since.clone(), from),
    };
    if let (Some(suite), true) = (&args.suite, report.health.suites.is_empty()) {
        return Err(CommandError::usage(format!(
            "no runs of suite \"{suite}\" are stored; `perfwarden runs` lists what is"
        )));
    }
    Ok(Outcome::ok(globals.render(&report)?))
}
