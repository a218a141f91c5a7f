//! `perfwarden fingerprint`: this host's environment fingerprint and its short hash.

use super::{CommandError, Format, Globals, Outcome};
use crate::report::{self, FingerprintReport};
use crate::runner::fingerprint;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    let fingerprint = fingerprint::collect();
    let report = FingerprintReport {
        hash: fingerprint::hash(&fingerprint),
        fingerprint,
    };
    Ok(Outcome::ok(match globals.format {
        Format::Text => report::text::fingerprint(&report),
        Format::Json => report::json::render("fingerprint", &report) + "\n",
    }))
}
