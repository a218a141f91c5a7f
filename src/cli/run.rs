//! `perfwarden run [SUITE] [--bench NAME]... [--quick]`: run a suite now.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;

use super::{CliError, Format, Globals, Outcome, exit};
use crate::report::{self, RunReport};
use crate::runner::{self, BenchmarkPlan, MonotonicClock, RunContext, progress::TerminalProgress};
use crate::store::{RunStatus, Store, Trigger};
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
    let config = globals.load_config()?;
    let plans = BenchmarkPlan::for_suite(&config, &args.suite, &args.benches, args.quick)
        .map_err(CliError::usage)?;
    let dir = globals.state_dir(Some(&config));
    let store = Store::open(&dir)?;
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
    crate::detect::evaluate_run(&store, &outcome.run)?;

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
