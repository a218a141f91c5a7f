//! `perfwarden compare RUN_A RUN_B`: per-benchmark change from A to B.

use super::{CommandError, Globals, Outcome, nothing_stored};
use crate::report::CompareReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  perfwarden compare 41 42\n  perfwarden compare 41 42 --format html --output before-after.html"
)]
pub struct Args {
    #[command(flatten)]
    pub output: super::OutputArgs,
    /// The earlier (reference) run
    pub run_a: u64,
    /// The run to compare with it
    pub run_b: u64,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let Some(store) = globals.open_store_for_reading()? else {
        return Err(CommandError::usage(nothing_stored(
            &globals.state_dir(None),
        )));
    };
    let fetch = |id: u64| -> Result<_, CommandError> {
        store.run(id)?.ok_or_else(|| {
            CommandError::usage(format!(
                "no run {id}; `perfwarden runs` lists the stored runs"
            ))
        })
    };
    let a = fetch(args.run_a)?;
    let b = fetch(args.run_b)?;
    let report = CompareReport::build(&store, a, b)?;
    Ok(Outcome::ok(globals.render(&report)?))
}
