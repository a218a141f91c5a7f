//! `perfwarden run [SUITE] [--bench NAME]... [--quick] [--confirm]`: run a suite now. While
//! the daemon runs, it owns the database: the run is queued there (behind a running suite,
//! if any), followed until it ends, and printed as `show` prints it. With `--confirm`, the
//! benchmarks the run suspects of a regression are re-run at once (up to
//! `[daemon] confirm_attempts` times) to confirm or clear the suspicion.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{CommandError, Globals, Outcome, client_error, exit};
use crate::daemon::control::{Client, Request, Response, TicketState};
use crate::export::PushOnce;
use crate::model::clock::MonotonicClock;
use crate::model::records::Trigger;
use crate::pipeline::{self, SuiteRun};
use crate::report::RunReport;
use crate::runner::progress::TerminalProgress;
use crate::store::Store;
use crate::workload::CancelToken;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub output: super::OutputArgs,
    /// Suite to run
    #[arg(default_value = "weekly")]
    pub suite: String,
    /// Run only these benchmarks of the suite (repeatable)
    #[arg(long = "bench", value_name = "NAME")]
    pub benches: Vec<String>,
    /// Short sampling (≤0.2 s warm-up, ≤0.5 s per benchmark): a smoke test of every probe
    #[arg(long)]
    pub quick: bool,
    /// Re-run the benchmarks this run suspects of a regression at once, to confirm or
    /// clear the suspicion (the daemon does it after `confirm_delay` on its own)
    #[arg(long, conflicts_with = "quick")]
    pub confirm: bool,
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

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    if let Some(client) = globals.daemon()? {
        if let Some(outcome) = run_through_daemon(globals, &client, &args)? {
            return Ok(outcome);
        }
    }
    let config = globals.load_config()?;
    let plans = pipeline::plan(&config, &args.suite, &args.benches, args.quick)
        .map_err(|e| CommandError::usage(e.to_string()))?;
    let dir = globals.state_dir(Some(&config));
    let store = Store::open_patiently(&dir, crate::store::READER_PATIENCE, || {})?;
    for id in store.recovered_runs() {
        tracing::warn!(
            run = id,
            "a previous run did not finish (crash or kill); marked interrupted"
        );
    }
    pipeline::purge(&store, &config);
    let cancel = CancelToken::new();
    install_signal_handler(cancel.clone());
    let otlp = crate::export::otlp_settings(&config);
    let run = SuiteRun {
        store: &store,
        config: &config,
        suite: args.suite.clone(),
        quick: args.quick,
        trigger: Trigger::Manual,
        confirms: None,
        gate: None,
        host: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
        host_id: crate::scheduler::splay::host_id(),
        clock: Arc::new(MonotonicClock::default()),
        cancel,
        outbox: crate::export::keeps_outbox(&otlp),
    };
    let mut progress = TerminalProgress::new();
    let outcome = pipeline::execute(run, plans, &mut progress, &PushOnce(otlp));
    drop(progress);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(failure) => return stopped_by_the_store(globals, &store, failure),
    };

    let code = exit::of_run(&outcome.run);
    let mut confirmations = Vec::new();
    if args.confirm {
        let mut last = outcome.run.clone();
        let mut attempt = 0;
        while let Some((benches, origin, next)) = pipeline::next_confirmation(
            &store,
            &last,
            attempt,
            config.daemon.confirm_attempts.max(1),
        )? {
            eprintln!(
                "confirming the suspicion of run {origin} (attempt {next}): re-running {}",
                benches.join(", ")
            );
            let plans = pipeline::plan(&config, &args.suite, &benches, false)
                .map_err(|e| CommandError::usage(e.to_string()))?;
            let rerun = SuiteRun {
                store: &store,
                config: &config,
                suite: args.suite.clone(),
                quick: false,
                trigger: Trigger::Confirmation,
                confirms: Some(origin),
                gate: None,
                host: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
                host_id: crate::scheduler::splay::host_id(),
                clock: Arc::new(MonotonicClock::default()),
                cancel: CancelToken::new(),
                outbox: crate::export::keeps_outbox(&crate::export::otlp_settings(&config)),
            };
            let mut progress = TerminalProgress::new();
            let confirmed = pipeline::execute(
                rerun,
                plans,
                &mut progress,
                &PushOnce(crate::export::otlp_settings(&config)),
            )
            .map_err(|e| CommandError::state(e.to_string()))?;
            drop(progress);
            attempt = next;
            last = confirmed.run.clone();
            confirmations.push(confirmed.run);
        }
    }
    let report = RunReport::build(&store, outcome.run)?;
    let mut stdout = globals.render(&report)?;
    for run in confirmations {
        let report = RunReport::build(&store, run)?;
        stdout.push_str(&globals.render(&report)?);
    }
    Ok(Outcome { stdout, code })
}

/// A run the store stopped (a full disk): the error, and the report of what was measured
/// and committed before it, read from a private copy of the file when the database cannot
/// be reopened yet. Exit code 3.
fn stopped_by_the_store(
    globals: &Globals,
    store: &Store,
    failure: pipeline::SuiteError,
) -> Result<Outcome, CommandError> {
    let Some(run) = failure.run.map(|run| *run) else {
        return Err(CommandError::state(failure.error.to_string()));
    };
    let report = RunReport::build(store, run.clone()).or_else(|_| {
        let copy = Store::open_private_copy(store.state_dir())?;
        RunReport::build(&copy, run)
    });
    let stdout = match report {
        Ok(report) => globals.render(&report)?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read back what the run measured");
            String::new()
        }
    };
    eprintln!("error: {}", failure.error);
    Ok(Outcome {
        stdout,
        code: exit::STATE,
    })
}

/// Queues the run in the daemon and follows it. `None` when the daemon serves another state
/// directory (the run then happens here, on that directory).
fn run_through_daemon(
    globals: &Globals,
    client: &Client,
    args: &Args,
) -> Result<Option<Outcome>, CommandError> {
    let request = Request::Run {
        suite: args.suite.clone(),
        benches: args.benches.clone(),
        quick: args.quick,
        confirm: args.confirm,
        state_dir: globals.state_dir.clone(),
    };
    let (ticket, ahead, running) = match client.request(&request).map_err(client_error)? {
        Response::Queued {
            ticket,
            ahead,
            running,
        } => (ticket, ahead, running),
        Response::OtherStateDir { .. } => return Ok(None),
        Response::Error { message, code } => return Err(CommandError { code, message }),
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
        let answer = match client.request(&Request::Ticket { ticket }) {
            Ok(answer) => answer,
            // The daemon went away under the run (stopped or restarted): the run was
            // interrupted, as if this command had been.
            Err(crate::daemon::control::ClientError::NotRunning(_))
            | Err(crate::daemon::control::ClientError::Protocol { .. }) => {
                return Err(CommandError {
                    code: exit::INTERRUPTED,
                    message: "the daemon stopped while following the run; the benchmarks it finished were stored (`perfwarden runs` once it is back)".into(),
                });
            }
            Err(e) => return Err(client_error(e)),
        };
        let state = match answer {
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
                    return Err(CommandError {
                        code,
                        message: message
                            .unwrap_or_else(|| "the daemon could not run the suite".into()),
                    });
                };
                let format = globals.format.name();
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
                    Response::Error { message, code } => Err(CommandError { code, message }),
                    other => Err(unexpected(other)),
                };
            }
            TicketState::Unknown => {
                return Err(CommandError {
                    code: exit::STATE,
                    message: format!(
                        "the daemon no longer knows ticket {ticket} (it restarted); `perfwarden runs` shows what was stored"
                    ),
                });
            }
        }
    }
}

fn unexpected(response: Response) -> CommandError {
    CommandError {
        code: exit::STATE,
        message: format!("unexpected answer from the daemon: {response:?}"),
    }
}
