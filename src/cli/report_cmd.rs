//! `perfwarden report [--suite S]`: the health score and grade of each suite and of the
//! host, open regressions with severity and evidence, improvements, drifts, level shifts,
//! environment changes and SLO violations, each with a recommended next step.

use super::{CommandError, Globals, Outcome};
use crate::detect::health::HealthReport;
use crate::report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this suite
    #[arg(long)]
    pub suite: Option<String>,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let report = match globals.open_store_for_reading()? {
        Some(store) => HealthReport::build(&store, args.suite.as_deref())?,
        None => HealthReport {
            host_score: None,
            host_grade: None,
            suites: Vec::new(),
        },
    };
    if let (Some(suite), true) = (&args.suite, report.suites.is_empty()) {
        return Err(CommandError::usage(format!(
            "no runs of suite \"{suite}\" are stored; `perfwarden runs` lists what is"
        )));
    }
    Ok(Outcome::ok(report::render(
        &report,
        globals.format,
        globals.style(),
    )))
}
