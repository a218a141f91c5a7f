//! `perfwarden db check | export | import FILE | backup FILE`: the database as a whole.
//!
//! - `check`: reads every record as perfwarden does and runs redb's own integrity check on
//!   a private copy (the file is never changed); exit 0 when everything is readable, 3 when
//!   not, with what is.
//! - `export [--output FILE]`: every record as JSON Lines (`model::archive`), from one
//!   snapshot; an unreadable record is left out and named, so it also rescues what is
//!   readable from a damaged file.
//! - `import FILE` (`-` for stdin): an export into an empty state directory, all or nothing.
//! - `backup FILE`: a new database file holding every committed record (copy it to
//!   `perfwarden.redb` in a state directory to restore).
//!
//! While the daemon runs, `export` and `backup` stream the export through its control
//! socket (the daemon holds the file), and `check` is answered by the daemon without redb's
//! integrity pass (it needs the file alone).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CommandError, Globals, Outcome, client_error, nothing_stored};
use crate::daemon::control::Response;
use crate::exit;
use crate::model::archive::{DatabaseCheck, ExportEnd};
use crate::store::Store;
use crate::store::archive::{self, ImportError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Read every record and check the file; say what is readable
    Check,
    /// Write the whole history as JSON Lines (stdout, or --output FILE)
    Export {
        /// Write here instead of stdout (created with mode 0600; an existing file is refused)
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load an export into an empty state directory (FILE, or - for stdin)
    Import { file: PathBuf },
    /// Write a consistent copy of the database to a new file
    Backup { file: PathBuf },
}

impl DbCommand {
    /// Commands the daemon answers as a read command (the others stream or write).
    pub(super) fn served_by_daemon(&self) -> bool {
        matches!(self, DbCommand::Check)
    }
}

pub(super) fn run(globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    match args.command {
        DbCommand::Check => check(globals),
        DbCommand::Export { output } => export(globals, output.as_deref()),
        DbCommand::Import { file } => import(globals, &file),
        DbCommand::Backup { file } => backup(globals, &file),
    }
}

fn check(globals: &Globals) -> Result<Outcome, CommandError> {
    let (store, integrity_possible) = match &globals.served {
        Some(served) => (served.store.clone(), false),
        None => {
            let dir = globals.state_dir(globals.config_if_valid());
            if Store::open_existing(&dir)?.is_none() {
                return Err(CommandError::usage(nothing_stored(&dir)));
            }
            (std::sync::Arc::new(Store::open_private_copy(&dir)?), true)
        }
    };
    let integrity = if integrity_possible {
        store.check_integrity()
    } else {
        None
    };
    let tally = store
        .export(&mut std::io::sink())
        .map_err(|e| CommandError::state(e.to_string()))?;
    let schema = store.stored_schema_version()?;
    let ExportEnd {
        unreadable,
        damaged_tables,
        ..
    } = tally.end;
    let healthy = unreadable.is_empty()
        && damaged_tables.is_empty()
        && integrity
            .as_deref()
            .is_none_or(|i| !i.starts_with("failed"));
    let report = DatabaseCheck {
        database: store.path().to_path_buf(),
        schema,
        integrity,
        tables: tally.tables,
        unreadable,
        damaged_tables,
        healthy,
    };
    Ok(Outcome {
        stdout: globals.render(&report)?,
        code: if healthy { exit::OK } else { exit::STATE },
        ..Outcome::default()
    })
}

/// A new file for an export or a backup: never overwrites one.
fn create_new(path: &Path) -> Result<std::fs::File, CommandError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "\n  hint: name a file that does not exist yet; an existing one is never overwritten"
            } else {
                ""
            };
            CommandError::state(format!("cannot create {}: {e}{hint}", path.display()))
        })
}

/// Says what an export left out, on stderr (stdout may be the export itself).
fn warn_left_out(end: &ExportEnd) {
    if !end.unreadable.is_empty() || !end.damaged_tables.is_empty() {
        eprintln!(
            "warning: {} unreadable record(s) and {} damaged table(s) were left out (listed in the export's end line; `perfwarden db check` shows them)",
            end.unreadable.len(),
            end.damaged_tables.len()
        );
    }
}

fn export(globals: &Globals, output: Option<&Path>) -> Result<Outcome, CommandError> {
    let mut file;
    let mut stdout;
    let out: &mut dyn Write = match output {
        Some(path) => {
            file = std::io::BufWriter::new(create_new(path)?);
            &mut file
        }
        None => {
            stdout = std::io::BufWriter::new(std::io::stdout().lock());
            &mut stdout
        }
    };
    let result = export_to(globals, out);
    if result.is_err() {
        if let Some(path) = output {
            let _ = std::fs::remove_file(path);
        }
    }
    result?;
    Ok(Outcome::ok(String::new()))
}

/// The export through the daemon when it runs, else from the file.
fn export_to(globals: &Globals, out: &mut dyn Write) -> Result<(), CommandError> {
    if let Some(client) = globals.daemon()? {
        match client
            .export(globals.state_dir.clone(), out)
            .map_err(client_error)?
        {
            None => return Ok(()),
            Some(Response::OtherStateDir { .. }) => {}
            Some(Response::Error { message, code }) => return Err(CommandError { code, message }),
            Some(other) => {
                return Err(CommandError::state(format!(
                    "unexpected answer from the daemon: {other:?}"
                )));
            }
        }
    }
    let dir = globals.state_dir(globals.config_if_valid());
    let store =
        Store::open_existing(&dir)?.ok_or_else(|| CommandError::usage(nothing_stored(&dir)))?;
    let tally = store
        .export(out)
        .map_err(|e| CommandError::state(e.to_string()))?;
    warn_left_out(&tally.end);
    Ok(())
}

fn import_error(e: ImportError) -> CommandError {
    match e {
        ImportError::Store(e) => e.into(),
        other => CommandError::usage(other.to_string()),
    }
}

fn import(globals: &Globals, file: &Path) -> Result<Outcome, CommandError> {
    let dir = globals.state_dir(globals.config_if_valid());
    let (mut input, name): (Box<dyn std::io::BufRead>, String) = if file == Path::new("-") {
        (Box::new(std::io::stdin().lock()), "stdin".into())
    } else {
        let opened = std::fs::File::open(file)
            .map_err(|e| CommandError::usage(format!("cannot open {}: {e}", file.display())))?;
        (
            Box::new(std::io::BufReader::new(opened)),
            file.display().to_string(),
        )
    };
    let store = Store::open(&dir)?;
    let summary = archive::import(&store, &mut input, &name).map_err(import_error)?;
    Ok(Outcome::ok(globals.render(&summary)?))
}

fn backup(globals: &Globals, file: &Path) -> Result<Outcome, CommandError> {
    if file.exists() {
        return Err(CommandError::state(format!(
            "{} exists\n  hint: name a file that does not exist yet; an existing one is never overwritten",
            file.display()
        )));
    }
    let summary = if let Some(client) = globals.daemon()? {
        backup_through_daemon(globals, &client, file)?
    } else {
        None
    };
    let summary = match summary {
        Some(summary) => summary,
        None => {
            let dir = globals.state_dir(globals.config_if_valid());
            let store = Store::open_existing(&dir)?
                .ok_or_else(|| CommandError::usage(nothing_stored(&dir)))?;
            archive::backup(&store, file).map_err(import_error)?
        }
    };
    warn_left_out(&ExportEnd {
        unreadable: summary.left_out_by_export.clone(),
        ..Default::default()
    });
    Ok(Outcome::ok(globals.render(&summary)?))
}

/// `backup` while the daemon runs: its streamed export, imported into the new file here.
/// `None` when the daemon serves another state directory.
fn backup_through_daemon(
    globals: &Globals,
    client: &crate::daemon::control::Client,
    file: &Path,
) -> Result<Option<crate::model::archive::ImportSummary>, CommandError> {
    let copy = Store::create_file(file)?;
    let (reader, mut writer) =
        std::io::pipe().map_err(|e| CommandError::state(format!("cannot make a pipe: {e}")))?;
    let state_dir = globals.state_dir.clone();
    let (received, imported) = std::thread::scope(|scope| {
        let receiving = scope.spawn(move || client.export(state_dir, &mut writer));
        let imported = archive::import(
            &copy,
            &mut std::io::BufReader::new(reader),
            "the daemon's export",
        );
        (receiving.join(), imported)
    });
    drop(copy);
    let outcome = match (received, imported) {
        // The import's own complaint first (the sender then only saw the pipe close).
        (_, Err(e)) if !matches!(e, ImportError::Truncated { .. }) => Err(import_error(e)),
        (Ok(Ok(None)), imported) => imported.map(Some).map_err(import_error),
        (Ok(Ok(Some(Response::OtherStateDir { .. }))), _) => Ok(None),
        (Ok(Ok(Some(Response::Error { message, code }))), _) => Err(CommandError { code, message }),
        (Ok(Ok(Some(other))), _) => Err(CommandError::state(format!(
            "unexpected answer from the daemon: {other:?}"
        ))),
        (Ok(Err(e)), _) => Err(client_error(e)),
        (Err(_), _) => Err(CommandError::state(
            "the export from the daemon stopped unexpectedly",
        )),
    };
    if !matches!(outcome, Ok(Some(_))) {
        let _ = std::fs::remove_file(file);
    }
    outcome
}
