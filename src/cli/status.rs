//! `perfwarden status`: what the daemon is doing. With a daemon, its live state over the
//! control socket; without one, the persisted schedule state and health from the database,
//! and exit code 4 so scripts can tell.

use super::{CommandError, Globals, Outcome, client_error, exit};
use crate::daemon::control::{Request, Response};
use crate::daemon::status;
use crate::detect::health::HostHealth;
use crate::model::status::StatusReport;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(globals: &Globals, _args: Args) -> Result<Outcome, CommandError> {
    let report = match globals.daemon()? {
        Some(client) => match client.request(&Request::Status).map_err(client_error)? {
            Response::Status(report) => *report,
            other => {
                return Err(CommandError {
                    code: exit::STATE,
                    message: format!("unexpected answer from the daemon: {other:?}"),
                });
            }
        },
        None => offline(globals)?,
    };
    let code = if report.daemon.is_some() {
        exit::OK
    } else {
        exit::DAEMON_NOT_RUNNING
    };
    let stdout = globals.render(&report)?;
    Ok(Outcome {
        stdout,
        code,
        ..Outcome::default()
    })
}

/// The status without a daemon: schedules from the config, last outcomes and the next run
/// the daemon computed from the database. A config that does not load is said on stderr
/// and the rest still comes from the database: no daemon answers either way (exit 4), and
/// a broken config is likely why.
fn offline(globals: &Globals) -> Result<StatusReport, CommandError> {
    let config = match globals.load_config() {
        Ok(config) => Some(config),
        Err(e) if e.code == exit::USAGE => {
            eprintln!(
                "error: {}\nnote: no daemon answers, and this config would stop one from starting; the status shown comes from the database alone",
                e.message
            );
            None
        }
        Err(e) => return Err(e),
    };
    let state_dir = globals.state_dir(config.as_deref());
    let store = globals.open_store_for_reading()?;
    let suites = match &config {
        Some(config) => status::suites_from_store(config, store.as_deref(), chrono::Utc::now())?,
        None => Vec::new(),
    };
    let health = match store.as_deref() {
        Some(store) => HostHealth::of(store)?,
        None => HostHealth::default(),
    };
    Ok(StatusReport {
        daemon: None,
        socket: globals.socket(),
        state_dir,
        suites,
        health_score: health.score,
        health_grade: health.grade,
        open_regressions: health.open_regressions,
        export_backlog: match store.as_deref() {
            Some(store) => store.outbox_len()?,
            None => 0,
        },
        otlp: None,
    })
}
