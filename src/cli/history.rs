//! `perfwarden history BENCH [--since 30d]`: one benchmark's medians over time, with a
//! sparkline on a terminal.

use super::{CommandError, Globals, Outcome, nothing_stored, since};
use crate::report::HistoryReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  perfwarden history cpu-primes-1t --since 90d\n  perfwarden history disk-files --format svg --output disk-files.svg"
)]
pub struct Args {
    #[command(flatten)]
    pub output: super::OutputArgs,
    /// Benchmark name
    pub benchmark: String,
    /// Only results within this period, e.g. 30d
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let since = since(args.since.as_deref())?;
    let Some(store) = globals.open_store_for_reading()? else {
        return Err(CommandError::usage(nothing_stored(
            &globals.state_dir(None),
        )));
    };
    let known = store.benchmark_names()?;
    if !known.contains(&args.benchmark) {
        return Err(CommandError::usage(format!(
            "no results for benchmark \"{}\" (benchmarks with results: {})",
            args.benchmark,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let report = HistoryReport::build(&store, &args.benchmark, since)?;
    Ok(Outcome::ok(globals.render(&report)?))
}
