//! `perfwarden run [SUITE] [--bench NAME]... [--quick]`: run a suite now. While the
//! daemon runs, it owns the database: the run is queued there (behind a running suite, if
//! any), followed until it ends, and printed as `show` prints it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;

use super::{CliError, Format, Globals, Outcome, client_error, exit};
use crate::daemon::control::{Client, Request, Response, TicketState};
use crate::model::clock::MonotonicClock;
use crate::model::records::{RunStatus, Trigger};
use crate::report::{self, RunReport};
use crate::runner::{self, BenchmarkPlan, RunContext, progress::TerminalProgress};
use crate::store::Store;
use crate::workload::CancelToken;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Suite to run
    #[arg(default_value = "weekly")]
    pub suite: String,
    /// Run only these benchmarks of the suite (repeatable)
    #[arg(long = "bench", value_name = "NAME")]
    pub benches: Vec<String>,
    /// Short sampling (≤0.2 s warm-up, ≤0.5 s per benchmark): a smoke test of every probe
    #[arg(long)]
    pub quick: bool,
}

/// Installs the Ctrl-C/SIGTERM handler once per process: the first signal cancels the run
/// at the next sample boundary, a second one exits at once.
fn install_signal_handler(cancel: CancelToken) {
    static SIGNALS: AtomicUsize = AtomicUsize::new(0);
    let result = ctrlc::set_handler(move || {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\nstopping at the next sample boundary (press Ctrl-C again to exit now)");
            cancel.cancel();
        } else {
            std::process::exit(exit::INTERRUPTED);
        }
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not install the signal handler; Ctrl-C will not keep partial results");
    }
}

pub fn run(globals: &Globals, args: Args) -> Result<Outcome, CliError> {
    if let Some(client) = globals.daemon()? {
        if let Some(outcome) = run_through_daemon(globals, &client, &args)? {
            return Ok(outcome);
        }
    }
    let config = globals.load_config()?;
    let plans = BenchmarkPlan::for_suite(&config, &args.suite, &args.benches, args.quick)
        .map_err(CliError::usage)?;
    let dir = globals.state_dir(Some(&config));
    let store = Store::open_patiently(&dir, crate::store::READER_PATIENCE, || {})?;
    for id in store.recovered_runs() {
        tracing::warn!(
            run = id,
            "a previous run did not finish (crash or kill); marked interrupted"
        );
    }
    let cutoff = Utc::now()
        - chrono::Duration::from_std(config.agent.retention).unwrap_or(chrono::Duration::MAX);
    let purged = store.purge_before(cutoff)?;
    if purged > 0 {
        tracing::info!(purged, "purged runs older than the retention period");
    }

    let cancel = CancelToken::new();
    install_signal_handler(cancel.clone());
    let fingerprint = runner::fingerprint::collect();
    let ctx = RunContext {
        store: &store,
        suite: args.suite.clone(),
        quick: args.quick,
        fingerprint,
        host: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
        clock: Arc::new(MonotonicClock::default()),
        cancel,
        trigger: Trigger::Manual,
        gate: None,
    };
    let mut progress = TerminalProgress::new();
    let outcome = runner::run_suite(&ctx, plans, &mut progress).map_err(|e| CliError {
        code: exit::STATE,
        message: e.to_string(),
    })?;
    drop(progress);
    // Alert events go to the outbox only when OTLP export is configured.
    let otlp = crate::export::otlp_settings(&config, Some(&store));
    crate::detect::evaluate_run(&store, &outcome.run)?;
    let health = crate::daemon::status::health(&store)?;
    store.enqueue_events(&[crate::model::event::suite_finished(
        &crate::scheduler::splay::host_id(),
        &outcome.run,
        health.0,
        Utc::now(),
    )])?;
    export_once(&store, otlp);

    let report = RunReport::build(&store, outcome.run)?;
    let stdout = match globals.format {
        Format::Text => report::text::run_report(&report, globals.style()),
        Format::Json => report::json::render("run", &report) + "\n",
    };
    let code = if report.run.status == RunStatus::Interrupted {
        exit::INTERRUPTED
    } else if report.any_failed() {
        exit::BENCHMARK_FAILED
    } else {
        exit::OK
    };
    Ok(Outcome { stdout, code })
}

/// Pushes the state and the alert events once when OTLP export is configured. Problems
/// are warnings: the results are stored, and undelivered events wait in the outbox for
/// the next run or the daemon.
fn export_once(
    store: &Store,
    settings: Result<
        Option<crate::export::otlp::settings::OtlpSettings>,
        crate::export::otlp::settings::SettingsError,
    >,
) {
    let settings = match settings {
        Ok(Some(settings)) => settings,
        Ok(None) => return,
        Err(e) => {
            eprintln!("warning: {e}; alert events stay in the outbox");
            return;
        }
    };
    let fingerprint = match crate::export::latest_fingerprint(store) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warning: OTLP export skipped: {e}");
            return;
        }
    };
    // Two request timeouts: the metrics and one batch of events, with a little slack.
    let deadline = settings.metrics.timeout * 2 + std::time::Duration::from_secs(1);
    let report =
        crate::export::otlp::exporter::export_once(store, &settings, &fingerprint, deadline);
    match report.result {
        Ok(()) => tracing::info!(
            endpoint = %crate::export::otlp::settings::shown_endpoint(&settings.metrics.endpoint),
            events = report.delivered,
            "exported the metrics and the alert events over OTLP"
        ),
        Err(e) => eprintln!(
            "warning: OTLP export to {} failed: {e}; {} alert event{} stay in the outbox for the next run or the daemon",
            crate::export::otlp::settings::shown_endpoint(&settings.metrics.endpoint),
            report.backlog,
            if report.backlog == 1 { "" } else { "s" }
        ),
    }
}

/// Queues the run in the daemon and follows it. `None` when the daemon serves another state
/// directory (the run then happens here, on that directory).
fn run_through_daemon(
    globals: &Globals,
    client: &Client,
    args: &Args,
) -> Result<Option<Outcome>, CliError> {
    let request = Request::Run {
        suite: args.suite.clone(),
        benches: args.benches.clone(),
        quick: args.quick,
        state_dir: globals.state_dir.clone(),
    };
    let (ticket, ahead, running) = match client.request(&request).map_err(client_error)? {
        Response::Queued {
            ticket,
            ahead,
            running,
        } => (ticket, ahead, running),
        Response::OtherStateDir { .. } => return Ok(None),
        Response::Error { message, code } => return Err(CliError { code, message }),
        other => return Err(unexpected(other)),
    };
    if globals.config.is_some() {
        eprintln!("note: the daemon runs suites with its own config; --config does not apply");
    }
    match running {
        Some(running) if ahead > 0 => eprintln!(
            "the daemon is running {running}; this {} run is queued behind it ({ahead} ahead, ticket {ticket})",
            args.suite
        ),
        _ => eprintln!(
            "the daemon is running this {} run (ticket {ticket})",
            args.suite
        ),
    }
    eprintln!("waiting for it to finish (Ctrl-C stops waiting; the run goes on in the daemon)");
    let terminal = std::io::stderr().is_terminal();
    let mut shown = None;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let state = match client
            .request(&Request::Ticket { ticket })
            .map_err(client_error)?
        {
            Response::Ticket(state) => state,
            other => return Err(unexpected(other)),
        };
        match state {
            TicketState::Queued { .. } => {}
            TicketState::Running {
                benchmark: Some(benchmark),
                index,
                total,
                ..
            } => {
                if terminal && shown.as_ref() != Some(&benchmark) {
                    eprintln!("[{index}/{total}] {benchmark}");
                    shown = Some(benchmark);
                }
            }
            TicketState::Running { .. } => {}
            TicketState::Finished {
                run_id,
                code,
                message,
            } => {
                let Some(run_id) = run_id else {
                    return Err(CliError {
                        code,
                        message: message
                            .unwrap_or_else(|| "the daemon could not run the suite".into()),
                    });
                };
                let format = match globals.format {
                    Format::Text => "text",
                    Format::Json => "json",
                };
                let argv = [
                    "perfwarden",
                    "--format",
                    format,
                    "show",
                    &run_id.to_string(),
                ]
                .map(str::to_string)
                .to_vec();
                let style = globals.style();
                let shown = client
                    .request(&Request::Command {
                        argv,
                        color: style.color,
                        terminal: style.terminal,
                        state_dir: globals.state_dir.clone(),
                    })
                    .map_err(client_error)?;
                return match shown {
                    Response::Output { stdout, .. } => Ok(Some(Outcome { stdout, code })),
                    Response::Error { message, code } => Err(CliError { code, message }),
                    other => Err(unexpected(other)),
                };
            }
            TicketState::Unknown => {
                return Err(CliError {
                    code: exit::STATE,
                    message: format!(
                        "the daemon no longer knows ticket {ticket} (it restarted); `perfwarden runs` shows what was stored"
                    ),
                });
            }
        }
    }
}

fn unexpected(response: Response) -> CliError {
    CliError {
        code: exit::STATE,
        message: format!("unexpected answer from the daemon: {response:?}"),
    }
}
