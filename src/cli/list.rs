//! `perfwarden list`: the suites and benchmarks of the config (the one in use: `--config`,
//! the system file or the embedded default), each suite with its schedule, whether it is
//! enabled and when the daemon would next run it on this host (its splay included), each
//! benchmark with its kind and the suites that run it.

use chrono::Utc;

use super::{CommandError, Globals, Outcome};
use crate::report::{BenchmarkEntry, ListReport, SuiteEntry};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  perfwarden list\n  perfwarden list --config /etc/perfwarden/perfwarden.toml --format json"
)]
pub struct Args {}

pub(super) fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    let config = globals.load_config()?;
    let (timezone, splay) = crate::scheduler::timing(&config, &crate::scheduler::splay::host_id());
    let now = Utc::now();
    let suites = config
        .suites
        .values()
        .map(|suite| SuiteEntry {
            name: suite.name.clone(),
            description: suite.description.clone(),
            schedule: suite.schedule.clone(),
            enabled: suite.enabled,
            next_run: suite
                .enabled
                .then(|| {
                    let schedule = crate::scheduler::Schedule::new(
                        &suite.name,
                        &suite.schedule,
                        timezone,
                        splay,
                    )
                    .ok()?;
                    // A slot that passed may still be due later on this host (its splay).
                    match schedule
                        .latest_slot_at_or_before(now)
                        .map(|s| schedule.due(s))
                    {
                        Some(due) if due > now => Some(due),
                        _ => schedule.next_slot_after(now).map(|s| schedule.due(s)),
                    }
                })
                .flatten(),
            benchmarks: suite.benchmarks.clone(),
        })
        .collect();
    let benchmarks = config
        .benchmarks
        .values()
        .map(|b| BenchmarkEntry {
            name: b.name.clone(),
            kind: b.workload.kind().to_string(),
            description: b.description.clone(),
            suites: config
                .suites
                .values()
                .filter(|s| s.benchmarks.contains(&b.name))
                .map(|s| s.name.clone())
                .collect(),
        })
        .collect();
    let report = ListReport {
        source: config.source.to_string(),
        timezone: timezone.name().to_string(),
        suites,
        benchmarks,
    };
    Ok(Outcome::ok(globals.render(&report)?))
}
