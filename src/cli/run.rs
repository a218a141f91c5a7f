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
#[command(
    after_help = "Examples:\n  perfwarden run                       # the weekly suite\n  perfwarden run daily --bench cpu-primes-1t\n  perfwarden run weekly --confirm --fail-on confirmed --fail-on slo   # in CI\n  perfwarden run --quick               # a smoke test of every probe"
)]
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
    /// Exit 5 when the run finds this (repeatable): `regression` (suspected or confirmed),
    /// `confirmed` (only confirmed regressions), `slo` (an SLO missed)
    #[arg(long = "fail-on", value_enum, value_name = "WHAT")]
    pub fail_on: Vec<FailOn>,
}

/// What turns a finished run into a failed CI step (`run --fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Regression,
    Confirmed,
    Slo,
}

/// What a run found, for its one-line summary and `--fail-on`, read from the JSON form of
/// its report (the same whether the run happened here or in the daemon).
#[derive(Debug, Default, PartialEq)]
struct Findings {
    benchmarks: usize,
    failed: Vec<String>,
    suspected: Vec<String>,
    confirmed: Vec<String>,
    slo_missed: Vec<String>,
}

impl Findings {
    fn of(report: &serde_json::Value) -> Findings {
        let mut found = Findings::default();
        for result in report["results"].as_array().into_iter().flatten() {
            let name = result["benchmark"].as_str().unwrap_or("?").to_string();
            found.benchmarks += 1;
            if !matches!(result["status"].as_str(), Some("ok")) {
                found.failed.push(name.clone());
            }
            let verdict = &result["verdict"];
            if verdict["outcome"] == "regression" || verdict["state"].is_string() {
                match verdict["state"].as_str() {
                    Some("confirmed") => found.confirmed.push(name.clone()),
                    _ => found.suspected.push(name.clone()),
                }
            }
            for slo in verdict["slo"].as_array().into_iter().flatten() {
                if slo["met"] == false {
                    found.slo_missed.push(format!(
                        "{name} `{}`",
                        slo["expression"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
        found
    }

    fn trips(&self, conditions: &[FailOn]) -> Vec<&'static str> {
        let mut tripped = Vec::new();
        for condition in conditions {
            match condition {
                FailOn::Regression if !self.suspected.is_empty() || !self.confirmed.is_empty() => {
                    tripped.push("regression")
                }
                FailOn::Confirmed if !self.confirmed.is_empty() => tripped.push("confirmed"),
                FailOn::Slo if !self.slo_missed.is_empty() => tripped.push("slo"),
                _ => {}
            }
        }
        tripped
    }

    /// "✓ weekly run 42: 18 benchmarks, no regression, every SLO met" or "✗ …: what".
    fn line(&self, suite: &str, run_id: u64) -> String {
        let mut bad = Vec::new();
        let list = |names: &[String]| names.join(", ");
        if !self.failed.is_empty() {
            bad.push(format!(
                "{} failed ({})",
                self.failed.len(),
                list(&self.failed)
            ));
        }
        if !self.confirmed.is_empty() {
            bad.push(format!(
                "{} regression{} confirmed ({})",
                self.confirmed.len(),
                if self.confirmed.len() == 1 { "" } else { "s" },
                list(&self.confirmed)
            ));
        }
        if !self.suspected.is_empty() {
            bad.push(format!(
                "{} suspected ({})",
                self.suspected.len(),
                list(&self.suspected)
            ));
        }
        if !self.slo_missed.is_empty() {
            bad.push(format!(
                "{} SLO{} missed ({})",
                self.slo_missed.len(),
                if self.slo_missed.len() == 1 { "" } else { "s" },
                list(&self.slo_missed)
            ));
        }
        if bad.is_empty() {
            format!(
                "✓ {suite} run {run_id}: {} benchmark{}, no regression, every SLO met",
                self.benchmarks,
                if self.benchmarks == 1 { "" } else { "s" }
            )
        } else {
            format!("✗ {suite} run {run_id}: {}", bad.join("; "))
        }
    }
}

/// The run's exit code under `--fail-on` and its summary line (for stderr, after the
/// report): a run that ended well (0) but found what `--fail-on` names exits
/// [`exit::FAIL_ON`]; a worse code stays.
fn conclude(args: &Args, run_id: u64, reports: &[serde_json::Value], code: i32) -> (i32, String) {
    let mut found = Findings::default();
    for report in reports {
        let next = Findings::of(report);
        // Confirmation runs re-measure some benchmarks: the latest verdict of each counts.
        for name in next
            .failed
            .iter()
            .chain(&next.suspected)
            .chain(&next.confirmed)
        {
            found.failed.retain(|n| n != name);
            found.suspected.retain(|n| n != name);
            found.confirmed.retain(|n| n != name);
        }
        if found.benchmarks == 0 {
            found.benchmarks = next.benchmarks;
        }
        found.failed.extend(next.failed);
        found.suspected.extend(next.suspected);
        found.confirmed.extend(next.confirmed);
        found.slo_missed.extend(next.slo_missed);
    }
    let mut after = format!("{}\n", found.line(&args.suite, run_id));
    let tripped = found.trips(&args.fail_on);
    if tripped.is_empty() || code != exit::OK {
        return (code, after);
    }
    after.push_str(&format!(
        "--fail-on {}: exit {}\n",
        tripped.join(", "),
        exit::FAIL_ON
    ));
    (exit::FAIL_ON, after)
}

/// The progress bar of a local run: each benchmark expected to take what its last
/// comparable run took, and a line per benchmark as it finishes.
fn progress_for(
    store: &Store,
    plans: &[crate::runner::BenchmarkPlan],
    quick: bool,
) -> TerminalProgress {
    let mut previous = std::collections::HashMap::new();
    for plan in plans {
        let last = store.history(&plan.name, None).ok().and_then(|history| {
            history
                .into_iter()
                .rev()
                .find(|r| r.config_hash == plan.config_hash && r.quick == quick)
        });
        if let Some(last) = last {
            previous.insert(
                plan.name.clone(),
                Duration::from_secs_f64(last.duration_secs),
            );
        }
    }
    TerminalProgress::new(previous, Some(Box::new(result_line)))
}

/// One finished benchmark as the progress prints it: "cpu-primes-1t  1.231 k events/s ±0.4%
/// (40 samples, 2.6 s)", or its status and error.
fn result_line(result: &crate::model::records::BenchmarkResult) -> String {
    use crate::report::format::value;
    match (&result.summary, result.status) {
        (Some(summary), crate::model::records::BenchStatus::Ok) => format!(
            "{:<24} {} ±{:.1}% ({} samples, {:.1} s)",
            result.benchmark,
            value(summary.median, &result.metric),
            summary.cv * 100.0,
            summary.count,
            result.duration_secs
        ),
        (_, status) => format!(
            "{:<24} {}{}",
            result.benchmark,
            status.as_str(),
            result
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    }
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
    let mut progress = progress_for(&store, &plans, args.quick);
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
            let mut progress = progress_for(&store, &plans, false);
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
    let run_id = outcome.run.id;
    let report = RunReport::build(&store, outcome.run)?;
    let mut stdout = globals.render(&report)?;
    let mut judged = vec![serde_json::to_value(&report).unwrap_or_default()];
    for run in confirmations {
        let report = RunReport::build(&store, run)?;
        stdout.push_str(&globals.render(&report)?);
        judged.push(serde_json::to_value(&report).unwrap_or_default());
    }
    let (code, after) = conclude(&args, run_id, &judged, code);
    Ok(Outcome {
        stdout,
        code,
        after,
    })
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
        ..Outcome::default()
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
                let ask = |argv: Vec<String>| {
                    client
                        .request(&Request::Command {
                            argv,
                            color: style.color,
                            terminal: style.terminal,
                            width: style.width,
                            state_dir: globals.state_dir.clone(),
                        })
                        .map_err(client_error)
                };
                let stdout = match ask(argv)? {
                    Response::Output { stdout, .. } => stdout,
                    Response::Error { message, code } => {
                        return Err(CommandError { code, message });
                    }
                    other => return Err(unexpected(other)),
                };
                let json = [
                    "perfwarden",
                    "--format",
                    "json",
                    "show",
                    &run_id.to_string(),
                ]
                .map(str::to_string)
                .to_vec();
                let judged = match ask(json)? {
                    Response::Output { stdout, .. } => {
                        serde_json::from_str(&stdout).unwrap_or_default()
                    }
                    _ => serde_json::Value::Null,
                };
                let (code, after) = conclude(args, run_id, &[judged], code);
                return Ok(Some(Outcome {
                    stdout,
                    code,
                    after,
                }));
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
