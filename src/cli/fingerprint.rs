//! `perfwarden fingerprint`: this host's hardware identity (the baseline lineage) and
//! software environment (recorded with every run), with their short hashes.

use super::{CommandError, Globals, Outcome};
use crate::report::FingerprintReport;
use crate::runner::{environment, fingerprint};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    let fingerprint = fingerprint::collect();
    let packages = globals
        .load_config()
        .map(|c| c.agent.packages.clone())
        .unwrap_or_default();
    let environment = environment::collect(&packages);
    let report = FingerprintReport {
        hash: fingerprint::hash(&fingerprint),
        fingerprint,
        environment_hash: environment::hash(&environment),
        environment,
    };
    Ok(Outcome::ok(globals.render(&report)?))
}
