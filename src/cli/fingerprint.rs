//! `perfwarden fingerprint`: this host's environment fingerprint and its short hash.

use super::{CommandError, Globals, Outcome};
use crate::report::{self, FingerprintReport};
use crate::runner::fingerprint;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    let fingerprint = fingerprint::collect();
    let report = FingerprintReport {
        hash: fingerprint::hash(&fingerprint),
        fingerprint,
    };
    Ok(Outcome::ok(report::render(
        &report,
        globals.format,
        globals.style(),
    )))
}
