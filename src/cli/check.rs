//! `perfwarden check`: validate the config and print every problem (the unit's
//! `ExecStartPre`).

use super::{CliError, Format, Globals, Outcome, exit};
use crate::config::{Config, ConfigSource};
use crate::report::{self, CheckReport, ProblemView};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(globals: &Globals, _args: Args) -> Result<Outcome, CliError> {
    let path = Config::locate(globals.config.as_deref());
    let source = path
        .as_ref()
        .map(|p| ConfigSource::File(p.clone()))
        .unwrap_or(ConfigSource::Embedded)
        .to_string();
    let loaded = match &path {
        Some(p) => Config::from_file(p),
        None => Ok(Config::embedded()),
    };
    let report = match &loaded {
        Ok(config) => CheckReport {
            source,
            valid: true,
            suites: config.suites.keys().cloned().collect(),
            benchmarks: config.benchmarks.len(),
            problems: Vec::new(),
        },
        Err(errors) => CheckReport {
            source,
            valid: false,
            suites: Vec::new(),
            benchmarks: 0,
            problems: errors.problems.iter().map(ProblemView::from).collect(),
        },
    };
    let stdout = match globals.format {
        Format::Text => report::text::check(&report),
        Format::Json => report::json::render("check", &report) + "\n",
    };
    Ok(Outcome {
        stdout,
        code: if report.valid { exit::OK } else { exit::USAGE },
    })
}
