//! `perfwarden show RUN_ID`: one stored run, as `run` printed it.

use super::{CommandError, Globals, Outcome, nothing_stored};
use crate::report::RunReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  perfwarden show 42\n  perfwarden show 42 --format markdown --output run-42.md"
)]
pub struct Args {
    #[command(flatten)]
    pub output: super::OutputArgs,
    /// Run id (see `perfwarden runs`)
    pub run_id: u64,
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    let Some(store) = globals.open_store_for_reading()? else {
        return Err(CommandError::usage(nothing_stored(
            &globals.state_dir(None),
        )));
    };
    let run = store.run(args.run_id)?.ok_or_else(|| {
        CommandError::usage(format!(
            "no run {} in {}; `perfwarden runs` lists the stored runs",
            args.run_id,
            store.path().display()
        ))
    })?;
    let report = RunReport::build(&store, run)?;
    Ok(Outcome::ok(globals.render(&report)?))
}
