//! The command line: clap derive, one file per subcommand (`Args` + `run`). Each `run`
//! calls library functions and returns an [`Outcome`] or a [`CliError`]; `main` prints and
//! picks the exit code, so tests can call the same code in-process.

mod analyze;
mod baseline;
mod check;
mod compare;
mod config_cmd;
mod fingerprint;
mod history;
mod regressions;
mod report_cmd;
mod run;
mod runs;
mod show;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigDuration};
use crate::report::text::Style;
use crate::store::{Store, StoreError, resolve_state_dir};

/// Documented exit codes (README "Exit codes").
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Usage or config error (bad flag, invalid config, unknown suite, run or benchmark).
    pub const USAGE: i32 = 1;
    /// At least one benchmark failed or timed out (results were stored).
    pub const BENCHMARK_FAILED: i32 = 2;
    /// The state directory or database cannot be used (permissions, locked, newer schema).
    pub const STATE: i32 = 3;
    /// Interrupted by Ctrl-C or SIGTERM; finished benchmarks were stored.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, Parser)]
#[command(
    name = "perfwarden",
    version,
    about = "Host-resident performance-regression agent",
    long_about = "Runs benchmark suites on this host, keeps every result in an embedded database, and reports how each benchmark moved against its history.\n\nExit codes: 0 ok, 1 usage or config error, 2 a benchmark failed, 3 state directory or database unusable, 130 interrupted."
)]
pub struct Cli {
    /// Config file (default: $PERFWARDEN_CONFIG, /etc/perfwarden/perfwarden.toml if present, else the embedded default)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory holding the database (default: $STATE_DIRECTORY, /var/lib/perfwarden as root, else ~/.local/share/perfwarden)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite now, store the results and print the report
    Run(run::Args),
    /// Validate the config, print every problem, exit 0 (valid) or 1
    Check(check::Args),
    /// Print configs
    Config(config_cmd::Args),
    /// List stored runs, newest first
    Runs(runs::Args),
    /// Show one stored run
    Show(show::Args),
    /// One benchmark's results over time
    History(history::Args),
    /// Compare two runs benchmark by benchmark
    Compare(compare::Args),
    /// Print this host's environment fingerprint
    Fingerprint(fingerprint::Args),
    /// Change points and drift of any series from a file (does not touch the database)
    Analyze(analyze::Args),
    /// Open regressions (or every regression with --all)
    Regressions(regressions::Args),
    /// Show, pin, reset or accept baselines
    Baseline(baseline::Args),
    /// Health score, grade and findings with recommendations
    Report(report_cmd::Args),
}

/// What a command produced: text for stdout and the exit code.
pub struct Outcome {
    pub stdout: String,
    pub code: i32,
}

impl Outcome {
    pub fn ok(stdout: String) -> Self {
        Outcome {
            stdout,
            code: exit::OK,
        }
    }
}

/// A command that could not do its job: the message (printed once, to stderr) and the
/// exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: exit::USAGE,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError {
            code: exit::STATE,
            message: e.to_string(),
        }
    }
}

/// Runs the parsed command line.
pub fn execute(cli: Cli) -> Result<Outcome, CliError> {
    let globals = Globals {
        config: cli.config,
        state_dir: cli.state_dir,
        format: cli.format,
    };
    match cli.command {
        Command::Run(args) => run::run(&globals, args),
        Command::Check(args) => check::run(&globals, args),
        Command::Config(args) => config_cmd::run(&globals, args),
        Command::Runs(args) => runs::run(&globals, args),
        Command::Show(args) => show::run(&globals, args),
        Command::History(args) => history::run(&globals, args),
        Command::Compare(args) => compare::run(&globals, args),
        Command::Fingerprint(args) => fingerprint::run(&globals, args),
        Command::Analyze(args) => analyze::run(&globals, args),
        Command::Regressions(args) => regressions::run(&globals, args),
        Command::Baseline(args) => baseline::run(&globals, args),
        Command::Report(args) => report_cmd::run(&globals, args),
    }
}

/// Options shared by every subcommand.
pub struct Globals {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub format: Format,
}

impl Globals {
    pub fn load_config(&self) -> Result<Config, CliError> {
        Config::load(self.config.as_deref()).map_err(|e| CliError::usage(e.to_string().trim_end()))
    }

    /// The state directory from the flag, the environment, the config, or the default.
    pub fn state_dir(&self, config: Option<&Config>) -> PathBuf {
        resolve_state_dir(
            self.state_dir.as_deref(),
            config.and_then(|c| c.agent.state_dir.as_deref()),
        )
    }

    /// Opens the store for reading; `None` (and no file created) when nothing was stored.
    pub fn open_store_for_reading(&self) -> Result<Option<Store>, CliError> {
        // A broken config must not stop reading history; it only matters for `state_dir`.
        let config = Config::load(self.config.as_deref()).ok();
        let dir = self.state_dir(config.as_ref());
        Ok(Store::open_existing(&dir)?)
    }

    pub fn style(&self) -> Style {
        let terminal = std::io::stdout().is_terminal();
        Style {
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            terminal,
        }
    }
}

/// Parses `--since 30d` into a point in time.
pub fn since(text: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, CliError> {
    let Some(text) = text else { return Ok(None) };
    let duration =
        ConfigDuration::parse(text).map_err(|e| CliError::usage(format!("--since: {e}")))?;
    let duration = chrono::Duration::from_std(duration.0)
        .map_err(|_| CliError::usage(format!("--since: \"{text}\" is too long")))?;
    Ok(Some(chrono::Utc::now() - duration))
}

/// Message for read commands when nothing was stored yet.
pub fn nothing_stored(dir: &std::path::Path) -> String {
    format!(
        "no database in {}; nothing was recorded there yet (run `perfwarden run`, or pass --state-dir)",
        dir.display()
    )
}
