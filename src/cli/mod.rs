//! The command line: clap derive, one file per subcommand (`Args` + `run`). Each `run`
//! calls library functions and returns an [`Outcome`] or a [`CommandError`]; `main` prints and
//! picks the exit code, so tests can call the same code in-process.

mod analyze;
mod baseline;
mod changes;
mod check;
mod compare;
mod config_cmd;
mod daemon_cmd;
mod db;
mod fingerprint;
mod history;
mod list;
mod regressions;
mod report_cmd;
mod run;
mod runs;
mod show;
mod status;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::daemon::control::{Client, ClientError, Request, Response, socket_path};
use crate::exit::{self, CommandError};
use crate::model::units::ConfigDuration;
use crate::report::Format;
use crate::report::Style;
use crate::store::{Store, resolve_state_dir};

#[derive(Debug, Parser)]
#[command(
    name = "perfwarden",
    version = crate::model::BUILD_VERSION,
    about = "Host-resident performance-regression agent",
    long_about = "Runs benchmark suites on this host, keeps every result in an embedded database, and reports how each benchmark moved against its history.\n\nExit codes: 0 ok, 1 usage or config error, 2 a benchmark failed, 3 state directory or database unusable, 4 (status) no daemon running, 5 (run --fail-on) the run found what --fail-on names, 130 interrupted.\n\nWhile the daemon runs, `run` and the read commands go through its control socket."
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
    /// Every column of the tables, however wide (on a terminal they fit its width)
    #[arg(long, global = true)]
    pub wide: bool,
    #[command(subcommand)]
    pub command: Command,
    /// The command line as typed, forwarded to the daemon by the read commands.
    #[arg(skip)]
    pub argv: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite now, store the results and print the report
    Run(run::Args),
    /// Validate the config, print every problem, exit 0 (valid) or 1
    Check(check::Args),
    /// Print configs
    Config(config_cmd::Args),
    /// The suites (schedule, next run) and benchmarks (kind, suites) of the config
    List(list::Args),
    /// List stored runs, newest first
    Runs(runs::Args),
    /// Show one stored run
    Show(show::Args),
    /// What changed on the host (software, hardware) from run to run
    Changes(changes::Args),
    /// One benchmark's results over time
    History(history::Args),
    /// Compare two runs benchmark by benchmark
    Compare(compare::Args),
    /// Print this host's hardware identity and software environment
    Fingerprint(fingerprint::Args),
    /// Change points and drift of any series from a file (does not touch the database)
    Analyze(analyze::Args),
    /// Open regressions (or every regression with --all)
    Regressions(regressions::Args),
    /// Show, pin, reset or accept baselines
    Baseline(baseline::Args),
    /// Health score, grade and findings with recommendations
    Report(report_cmd::Args),
    /// Run the scheduler (the systemd service): suites on their schedules, control socket
    Daemon(daemon_cmd::Args),
    /// The daemon's state, current run, queue, next run of each suite, health score
    Status(status::Args),
    /// The database as a whole: check, export, import, backup
    Db(db::Args),
}

impl Command {
    /// Read commands that the daemon answers from its open database while it runs.
    fn served_by_daemon(&self) -> bool {
        matches!(
            self,
            Command::Runs(_)
                | Command::Changes(_)
                | Command::Show(_)
                | Command::History(_)
                | Command::Compare(_)
                | Command::Regressions(_)
                | Command::Baseline(_)
                | Command::Report(_)
        ) || matches!(self, Command::Db(db) if db.command.served_by_daemon())
    }
}

/// `--output FILE` of the commands whose reports people keep (`report`, `show`, `run`,
/// `compare`, `history`).
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Write the report to FILE instead of stdout (replaced whole, never left half-written)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl Command {
    /// The subcommand's name, as `--format` support is decided by it.
    fn name(&self) -> &'static str {
        match self {
            Command::Run(_) => "run",
            Command::Check(_) => "check",
            Command::Config(_) => "config",
            Command::List(_) => "list",
            Command::Runs(_) => "runs",
            Command::Show(_) => "show",
            Command::Changes(_) => "changes",
            Command::History(_) => "history",
            Command::Compare(_) => "compare",
            Command::Fingerprint(_) => "fingerprint",
            Command::Analyze(_) => "analyze",
            Command::Regressions(_) => "regressions",
            Command::Baseline(_) => "baseline",
            Command::Report(_) => "report",
            Command::Daemon(_) => "daemon",
            Command::Status(_) => "status",
            Command::Db(_) => "db",
        }
    }

    /// Where `--output` sends the report, when it was given.
    fn output(&self) -> Option<&std::path::Path> {
        let output = match self {
            Command::Run(a) => &a.output,
            Command::Show(a) => &a.output,
            Command::History(a) => &a.output,
            Command::Compare(a) => &a.output,
            Command::Report(a) => &a.output,
            _ => return None,
        };
        output.output.as_deref()
    }
}

/// Writes `content` to `path` whole: into a temporary file beside it, then renamed over it,
/// so a reader (or a browser reloading it) never sees half a report.
fn write_output(path: &std::path::Path, content: &str) -> Result<(), CommandError> {
    use std::io::Write;
    let fail = |e: std::io::Error| {
        CommandError::usage(format!(
            "cannot write --output {}: {e}; choose a path in a directory you may write",
            path.display()
        ))
    };
    if path.is_dir() {
        return Err(CommandError::usage(format!(
            "cannot write --output {}: it is a directory; name a file, e.g. {}",
            path.display(),
            path.join("report.html").display()
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let temporary = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(content.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail(e));
    }
    Ok(())
}

/// What a command produced: text for stdout and the exit code.
#[derive(Default)]
pub struct Outcome {
    pub stdout: String,
    pub code: i32,
    /// Printed on stderr after stdout: a run's one-line summary comes after its report.
    pub after: String,
}

impl Outcome {
    pub fn ok(stdout: String) -> Self {
        Outcome {
            stdout,
            code: exit::OK,
            after: String::new(),
        }
    }
}

/// Runs the parsed command line.
pub fn execute(cli: Cli) -> Result<Outcome, CommandError> {
    if !crate::report::command_renders(cli.command.name(), cli.format) {
        return Err(CommandError::usage(format!(
            "`{}` has no --format {}: html and markdown are for report, show, run, compare and history, svg for history; use text or json",
            cli.command.name(),
            cli.format.name()
        )));
    }
    let output = cli.command.output().map(std::path::Path::to_path_buf);
    let mut globals = Globals::new(cli.config, cli.state_dir, cli.format, None);
    globals.to_file = output.is_some();
    globals.wide = cli.wide;
    let mut outcome = None;
    if cli.command.served_by_daemon() {
        if let Some(client) = globals.daemon()? {
            outcome = forward(&globals, &client, cli.argv)?;
        }
    }
    let mut outcome = match outcome {
        Some(outcome) => outcome,
        None => dispatch(&globals, cli.command)?,
    };
    // Written here, by the client: the daemon that may have rendered it never writes it.
    if let Some(path) = output {
        write_output(&path, &outcome.stdout)?;
        outcome.stdout.clear();
    }
    Ok(outcome)
}

fn dispatch(globals: &Globals, command: Command) -> Result<Outcome, CommandError> {
    match command {
        Command::Run(args) => run::run(globals, args),
        Command::Check(args) => check::run(globals, args),
        Command::Config(args) => config_cmd::run(globals, args),
        Command::List(args) => list::run(globals, args),
        Command::Runs(args) => runs::run(globals, args),
        Command::Show(args) => show::run(globals, args),
        Command::Changes(args) => changes::run(globals, args),
        Command::History(args) => history::run(globals, args),
        Command::Compare(args) => compare::run(globals, args),
        Command::Fingerprint(args) => fingerprint::run(globals, args),
        Command::Analyze(args) => analyze::run(globals, args),
        Command::Regressions(args) => regressions::run(globals, args),
        Command::Baseline(args) => baseline::run(globals, args),
        Command::Report(args) => report_cmd::run(globals, args),
        Command::Daemon(args) => daemon_cmd::run(globals, args),
        Command::Status(args) => status::run(globals, args),
        Command::Db(args) => db::run(globals, args),
    }
}

/// Sends a read command to the daemon. `None` when the daemon serves another state
/// directory than the one asked for (the CLI then opens that one itself).
fn forward(
    globals: &Globals,
    client: &Client,
    argv: Vec<String>,
) -> Result<Option<Outcome>, CommandError> {
    let style = globals.style();
    let request = Request::Command {
        argv,
        color: style.color,
        terminal: style.terminal,
        width: style.width,
        state_dir: globals.state_dir.clone(),
    };
    match client.request(&request).map_err(client_error)? {
        Response::Output { stdout, code } => Ok(Some(Outcome {
            stdout,
            code,
            ..Outcome::default()
        })),
        Response::Error { message, code } => Err(CommandError { code, message }),
        Response::OtherStateDir { .. } => Ok(None),
        other => Err(CommandError {
            code: exit::STATE,
            message: format!("unexpected answer from the daemon: {other:?}"),
        }),
    }
}

pub(crate) fn client_error(e: ClientError) -> CommandError {
    CommandError {
        code: exit::STATE,
        message: e.to_string(),
    }
}

/// The daemon's side of [`forward`]: runs a read command against its open store, as the
/// CLI would, and returns what the CLI prints, and whether the command may have changed
/// the stored state (so the daemon refreshes what it exports).
pub(crate) fn serve_command(
    argv: Vec<String>,
    style: Style,
    store: Arc<Store>,
    config: Arc<Config>,
) -> (Response, bool) {
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            return (
                Response::Error {
                    message: e.to_string().trim_end().to_string(),
                    code: exit::USAGE,
                },
                false,
            );
        }
    };
    if !cli.command.served_by_daemon() {
        return (
            Response::Error {
                message: "the daemon serves only runs, show, changes, history, compare, regressions, baseline, report and db check".into(),
                code: exit::USAGE,
            },
            false,
        );
    }
    let globals = Globals::new(
        None,
        None,
        cli.format,
        Some(Served {
            store,
            config,
            style,
        }),
    );
    // `baseline pin/reset/accept` change regressions and baselines; the rest only read.
    let may_write = matches!(cli.command, Command::Baseline(_));
    let response = match dispatch(&globals, cli.command) {
        Ok(outcome) => Response::Output {
            stdout: outcome.stdout,
            code: outcome.code,
        },
        Err(e) => Response::Error {
            message: e.message,
            code: e.code,
        },
    };
    (response, may_write)
}

/// What the daemon lends a command it runs for a client.
pub(crate) struct Served {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    /// The client's terminal, not the daemon's.
    pub style: Style,
}

/// Options shared by every subcommand.
pub(crate) struct Globals {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub format: Format,
    /// Set when the daemon runs the command for a client.
    pub served: Option<Served>,
    /// The output goes to a file (`--output`): no colour, no terminal drawing.
    pub to_file: bool,
    /// `--wide`: every column, whatever the terminal's width.
    pub wide: bool,
    /// The config, read at most once per command (or the daemon's, when served).
    loaded: OnceLock<Result<Arc<Config>, String>>,
}

impl Globals {
    pub(crate) fn new(
        config: Option<PathBuf>,
        state_dir: Option<PathBuf>,
        format: Format,
        served: Option<Served>,
    ) -> Globals {
        Globals {
            config,
            state_dir,
            format,
            served,
            to_file: false,
            wide: false,
            loaded: OnceLock::new(),
        }
    }

    /// The config (`--config`, the system file, or the embedded default), read once.
    pub(crate) fn load_config(&self) -> Result<Arc<Config>, CommandError> {
        self.config_once().clone().map_err(CommandError::usage)
    }

    fn config_once(&self) -> &Result<Arc<Config>, String> {
        self.loaded.get_or_init(|| match &self.served {
            Some(served) => Ok(served.config.clone()),
            None => Config::load(self.config.as_deref())
                .map(Arc::new)
                .map_err(|e| e.to_string().trim_end().to_string()),
        })
    }

    /// The config if it loads; commands that only need its paths go on without it.
    fn config_if_valid(&self) -> Option<&Config> {
        self.config_once().as_ref().ok().map(Arc::as_ref)
    }

    /// The state directory from the flag, the environment, the config, or the default.
    pub(crate) fn state_dir(&self, config: Option<&Config>) -> PathBuf {
        if let Some(served) = &self.served {
            return served.store.state_dir().to_path_buf();
        }
        resolve_state_dir(
            self.state_dir.as_deref(),
            config.and_then(|c| c.agent.state_dir.as_deref()),
        )
    }

    /// Opens the store read-only (no lock against other readers, no write, works on a
    /// read-only copy); `None` (and no file created) when nothing was stored.
    pub(crate) fn open_store_for_reading(&self) -> Result<Option<Arc<Store>>, CommandError> {
        if let Some(served) = &self.served {
            return Ok(Some(served.store.clone()));
        }
        // A broken config must not stop reading history; it only matters for `state_dir`.
        let dir = self.state_dir(self.config_if_valid());
        Ok(Store::open_existing(&dir)?.map(Arc::new))
    }

    /// Opens the store for a command that changes it; `None` when nothing was stored.
    pub(crate) fn open_store_for_writing(&self) -> Result<Option<Arc<Store>>, CommandError> {
        if let Some(served) = &self.served {
            return Ok(Some(served.store.clone()));
        }
        let dir = self.state_dir(self.config_if_valid());
        Ok(Store::open_existing_writable(&dir)?.map(Arc::new))
    }

    /// The control socket this command line would use.
    pub(crate) fn socket(&self) -> PathBuf {
        let config = self.config_if_valid();
        socket_path(config, &self.state_dir(config))
    }

    /// A connection to the running daemon, if one answers on the socket.
    pub(crate) fn daemon(&self) -> Result<Option<Client>, CommandError> {
        if self.served.is_some() {
            return Ok(None);
        }
        match Client::connect(&self.socket()) {
            Ok(client) => Ok(Some(client)),
            Err(ClientError::NotRunning(_)) => Ok(None),
            Err(e) => Err(client_error(e)),
        }
    }

    /// `report` in the chosen format, for this command's reader.
    pub(crate) fn render<R: crate::report::Report>(
        &self,
        report: &R,
    ) -> Result<String, CommandError> {
        Ok(crate::report::render(report, self.format, self.style())?)
    }

    pub(crate) fn style(&self) -> Style {
        if let Some(served) = &self.served {
            return served.style;
        }
        let terminal = !self.to_file && std::io::stdout().is_terminal();
        Style {
            width: (terminal && !self.wide).then(terminal_width).flatten(),
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            terminal,
        }
    }
}

/// Columns of the terminal on stdout: `$COLUMNS` when set, else what the terminal says.
fn terminal_width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(columns);
    }
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given; fd 1 is stdout.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col as usize)
}

/// Parses `--since 30d` into a point in time.
pub(crate) fn since(
    text: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, CommandError> {
    let Some(text) = text else { return Ok(None) };
    let duration =
        ConfigDuration::parse(text).map_err(|e| CommandError::usage(format!("--since: {e}")))?;
    let duration = chrono::Duration::from_std(duration.0)
        .map_err(|_| CommandError::usage(format!("--since: \"{text}\" is too long")))?;
    Ok(Some(chrono::Utc::now() - duration))
}

/// Message for read commands when nothing was stored yet.
pub(crate) fn nothing_stored(dir: &std::path::Path) -> String {
    format!(
        "no database in {}; nothing was recorded there yet (run `perfwarden run`, or pass --state-dir)",
        dir.display()
    )
}
