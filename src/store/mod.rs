//! The only owner of the redb database.
//!
//! Why one owner: redb allows one process per file and every table definition must agree,
//! so all reads and writes go through [`Store`]. Each benchmark result is committed in its
//! own durable transaction as soon as it is measured (redb's default
//! `Durability::Immediate` fsyncs on commit), so a crash or SIGKILL loses at most the
//! benchmark in progress; redb's copy-on-write commits mean the file is never left
//! half-written. A run still marked `running` when the database is next opened died with
//! its process and is marked `interrupted`.

pub mod archive;
mod handle;
mod migrate;
mod run_end;
pub mod schema;

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata};

use handle::{Access, Damaged, Handle, OpenFailure};

use crate::model::event::Event;
use crate::model::records::{
    BenchmarkResult, Fingerprint, RunRecord, RunSnapshot, RunStatus, SoftwareEnvironment,
    SuiteSchedule,
};
use crate::model::verdict::Regression;
use crate::model::verdict::Verdict;
use schema::{
    BASELINE_START, BENCH_INDEX, ENVIRONMENTS, FINGERPRINTS, META, OPEN_REGRESSIONS, OUTBOX,
    REGRESSION_LOG, RESULTS, RUN_COUNTS, RUNS, SAMPLES, SCHEDULE, SCHEMA_VERSION, SNAPSHOTS,
    VERDICTS,
};

/// How long a CLI command waits for another short-lived process (a reader) to release the
/// database.
pub(crate) const READER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// File name of the database inside the state directory.
pub(crate) const DATABASE_FILE: &str = "perfwarden.redb";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the state directory {path}: {source}\n  hint: pass --state-dir DIR with a writable directory, or run as a user that may create it"
    )]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the state directory {path} is not writable: {source}\n  hint: fix its owner or permissions, or pass --state-dir DIR"
    )]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database {path} is in use by another perfwarden process\n  hint: wait for the running `perfwarden run` to finish; if a daemon holds it, its control socket is not where this command looks (pass the daemon's --config, or set PERFWARDEN_SOCKET)"
    )]
    Locked { path: PathBuf },
    #[error(
        "the database {path} was written by a newer perfwarden (schema {found}, this binary knows {known})\n  hint: upgrade perfwarden; the file was not changed"
    )]
    TooNew {
        path: PathBuf,
        found: u64,
        known: u64,
    },
    #[error(
        "no space left on the device holding {path}; the results committed before it are kept\n  hint: free space there (`df -h {path}`); once there is room the agent goes on and records the interrupted run as failed"
    )]
    DiskFull { path: PathBuf },
    #[error("database {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    #[error(
        "the stored record {record} cannot be read: {detail}\n  hint: `perfwarden db check` lists every unreadable record; `perfwarden db export` saves everything readable, and `db import` loads it into a new state directory"
    )]
    Corrupt { record: String, detail: String },
    #[error(
        "the database {path} is damaged: {detail}\n  hint: `perfwarden db check` shows what is still readable; `perfwarden db export --output FILE` saves it and `perfwarden db import FILE` loads it into a new state directory (or restore a `db backup`); the file was not changed"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the database {path} was written by an older perfwarden (schema {found}) and must be upgraded, which needs write access\n  hint: run `perfwarden runs` once as the user that owns it (or `sudo`), then read it as before"
    )]
    NeedsUpgrade { path: PathBuf, found: u64 },
    #[error(
        "the database {path} was opened read-only\n  hint: this is a bug in perfwarden: a read command tried to write"
    )]
    ReadOnly { path: PathBuf },
    #[error(
        "permission denied reading {path}: {source}\n  hint: run as the user that owns the state directory (sudo perfwarden …), or, while the daemon runs, ask it through its socket (`[daemon] socket_group`)"
    )]
    Denied {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing the state directory {path}: {reason}\n  hint: pass --state-dir with a directory of its own, e.g. {path}/perfwarden (perfwarden creates it with mode 0700); an existing directory is never chmod-ed"
    )]
    UnsafeStateDir { path: PathBuf, reason: String },
}

/// Refuses an existing state directory that is not one: not a directory, writable by
/// anybody (another user could replace the database or plant a socket), or owned by
/// another user while not running as root (root may open a service's own state
/// directory, `sudo perfwarden` with no daemon answering).
fn check_state_dir(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_dir = |reason: String| StoreError::UnsafeStateDir {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.is_dir() {
        return Err(unsafe_dir("it is not a directory".into()));
    }
    if meta.mode() & 0o002 != 0 {
        return Err(unsafe_dir(format!(
            "anybody may write to it (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 && meta.uid() != euid {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by this user (uid {euid})",
            meta.uid()
        )));
    }
    Ok(())
}

/// Opens the redb file at `path` in `access` mode, with its failure said for this path.
fn open_database(path: &Path, access: Access) -> Result<Handle, StoreError> {
    handle::open(path, access).map_err(|failure| match failure {
        OpenFailure::Redb(redb::DatabaseError::DatabaseAlreadyOpen) => StoreError::Locked {
            path: path.to_path_buf(),
        },
        OpenFailure::Redb(redb::DatabaseError::Storage(redb::StorageError::Io(source)))
        | OpenFailure::Io(source)
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            StoreError::Denied {
                path: path.to_path_buf(),
                source,
            }
        }
        OpenFailure::Redb(redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail))) => {
            StoreError::Damaged {
                path: path.to_path_buf(),
                detail,
            }
        }
        OpenFailure::Redb(other) => StoreError::Database {
            path: path.to_path_buf(),
            source: other.into(),
        },
        OpenFailure::Io(source) => StoreError::Database {
            path: path.to_path_buf(),
            source: redb::Error::Io(source),
        },
        OpenFailure::Damaged(Damaged(detail)) => StoreError::Damaged {
            path: path.to_path_buf(),
            detail,
        },
    })
}

/// The state directory: `--state-dir`, else `$STATE_DIRECTORY` (systemd), else
/// `/var/lib/perfwarden` for root, else `$XDG_DATA_HOME/perfwarden` or
/// `~/.local/share/perfwarden`.
pub(crate) fn resolve_state_dir(explicit: Option<&Path>, configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        if let Some(first) = std::env::split_paths(&dir).next() {
            return first;
        }
    }
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/perfwarden");
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(data).join("perfwarden");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/perfwarden")
}

/// A failure inside one transaction, before the database's path is attached: redb's typed
/// error, or a store error (a record that could not be decoded). [`Store::read`] and
/// [`Store::write`] are the one place it becomes a [`StoreError`], so `?` works on every
/// redb call and redb's error stays the source.
enum TxnError {
    Redb(redb::Error),
    Store(StoreError),
    /// redb panicked (see `handle::contain`).
    Damaged(Damaged),
    /// A write on a read-only handle.
    ReadOnly,
    /// The body gave up and rolls its write transaction back; it keeps the reason.
    Abort,
}

impl TxnError {
    fn at(self, path: &Path) -> StoreError {
        match self {
            TxnError::Redb(redb::Error::Corrupted(detail)) => StoreError::Damaged {
                path: path.to_path_buf(),
                detail,
            },
            // A page that points past the end of the file (truncated or damaged).
            TxnError::Redb(redb::Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                StoreError::Damaged {
                    path: path.to_path_buf(),
                    detail: format!("a page lies past the end of the file ({e})"),
                }
            }
            TxnError::Redb(redb::Error::Io(e)) if e.raw_os_error() == Some(libc::ENOSPC) => {
                StoreError::DiskFull {
                    path: path.to_path_buf(),
                }
            }
            TxnError::Redb(source) => StoreError::Database {
                path: path.to_path_buf(),
                source,
            },
            TxnError::Store(error) => error,
            TxnError::Damaged(Damaged(detail)) => StoreError::Damaged {
                path: path.to_path_buf(),
                detail,
            },
            TxnError::ReadOnly => StoreError::ReadOnly {
                path: path.to_path_buf(),
            },
            TxnError::Abort => StoreError::Corrupt {
                record: "the transaction".into(),
                detail: "rolled back".into(),
            },
        }
    }
}

impl From<StoreError> for TxnError {
    fn from(error: StoreError) -> Self {
        TxnError::Store(error)
    }
}

macro_rules! redb_failures {
    ($($error:ty),*) => {$(
        impl From<$error> for TxnError {
            fn from(error: $error) -> Self {
                TxnError::Redb(error.into())
            }
        }
    )*};
}
redb_failures!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub struct Store {
    /// The open database, or `None` once an I/O error (a full disk, a failing device) left
    /// redb refusing every later transaction ("Previous I/O error occurred"): the next
    /// access reopens the file ([`Store::with_database`]), so the process recovers as soon
    /// as the cause is gone instead of failing until it is restarted.
    db: std::sync::RwLock<Option<Handle>>,
    /// How the file was opened (the reopen uses the same).
    access: Access,
    path: PathBuf,
    state_dir: PathBuf,
    /// Runs found `running` at open and marked `interrupted`.
    recovered: Vec<u64>,
    /// Runs this process began and has not yet recorded as ended (see
    /// [`Store::abandon_unfinished`]).
    unfinished: std::sync::Mutex<std::collections::BTreeSet<u64>>,
    /// Whether alert events are written to the outbox (only when OTLP export is configured,
    /// so an agent without a collector does not collect undeliverable events).
    outbox_enabled: std::sync::atomic::AtomicBool,
}

/// Most events the outbox keeps; beyond it the oldest are dropped (and counted) so a
/// collector gone for months cannot fill the disk.
pub(crate) const OUTBOX_CAPACITY: u64 = 10_000;

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}

/// Decodes one stored record; `record` names it in the error (`runs 12`).
fn from_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    record: impl std::fmt::Display,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        record: record.to_string(),
        detail: e.to_string(),
    })
}

/// Why a run found `running` by a process that holds the file is dead.
const DEAD_RUN_NOTE: &str = "the perfwarden process ended without recording the end of this run (a crash, SIGKILL, power loss, or a database it could no longer write, such as a full disk); finished benchmarks were kept";

/// `run` as it is recorded when the store stopped it with `reason` (a full disk, a failing
/// device): failed, ended `at`, the results committed before it kept.
pub(crate) fn abandoned(mut run: RunRecord, reason: &str, at: DateTime<Utc>) -> RunRecord {
    // The reason's first line: its hint is for the moment it happened, not for the record.
    let reason = reason.lines().next().unwrap_or(reason);
    let kept = "the results committed before it are kept";
    run.status = RunStatus::Failed;
    run.finished_at = Some(at);
    run.note = Some(if reason.contains(kept) {
        format!("failed: {reason}")
    } else {
        format!("failed: {reason}; {kept}")
    });
    run
}

/// A run read `running` through a read-only open. The shared lock means no process holds
/// the file for writing, so none is running it: it is shown interrupted, as the next
/// process that writes the file will record it.
fn seen_read_only(run: RunRecord, database: &Path) -> RunRecord {
    if run.status != RunStatus::Running {
        return run;
    }
    let mut run = ended_dead(run, run_end::read(database).as_ref());
    if run.status == RunStatus::Interrupted {
        run.note = Some(format!(
            "{DEAD_RUN_NOTE} (recorded as interrupted when perfwarden next writes the database)"
        ));
    }
    run
}

/// A run whose process is gone: failed with the reason that process kept in the run-end
/// file (`stopped`, when it is this run's), else interrupted.
fn ended_dead(mut run: RunRecord, stopped: Option<&run_end::RunEnd>) -> RunRecord {
    match stopped.filter(|end| end.run == run.id) {
        Some(end) => abandoned(run, &end.reason, end.at),
        None => {
            run.status = RunStatus::Interrupted;
            run.note = Some(DEAD_RUN_NOTE.into());
            run
        }
    }
}

/// `((suite, outcome), runs)`.
pub(crate) type RunCount = ((String, String), u64);

fn count_run(
    counts: &mut redb::Table<(&str, &str), u64>,
    run: &RunRecord,
) -> Result<(), redb::StorageError> {
    let key = (run.suite.as_str(), run.status.as_str());
    let current = counts.get(key)?.map(|v| v.value()).unwrap_or(0);
    counts.insert(key, current + 1)?;
    Ok(())
}

/// The records of a range of the JSON-valued table `table`, decoded one by one.
fn decoded<'a, K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    table: &'static str,
    range: impl Iterator<
        Item = Result<
            (
                redb::AccessGuard<'a, K>,
                redb::AccessGuard<'a, &'static [u8]>,
            ),
            redb::StorageError,
        >,
    >,
) -> impl Iterator<Item = Result<T, TxnError>> {
    range.map(move |entry| {
        let (key, bytes) = entry?;
        Ok(from_json(
            bytes.value(),
            format_args!("{table} {:?}", key.value()),
        )?)
    })
}

/// Like [`decoded`], but a record that does not decode is skipped with a warning that
/// names it: one damaged record must not hide every other one of a listing.
fn readable<T>(
    records: impl Iterator<Item = Result<T, TxnError>>,
) -> impl Iterator<Item = Result<T, TxnError>> {
    records.filter(|record| match record {
        Err(TxnError::Store(error @ StoreError::Corrupt { .. })) => {
            warn_unreadable(error);
            false
        }
        _ => true,
    })
}

/// Warns once per process about each unreadable record.
fn warn_unreadable(error: &StoreError) {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let first_time = WARNED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(error.to_string());
    if !first_time {
        return;
    }
    tracing::warn!(
        "{} (skipped; `perfwarden db check` lists every such record)",
        error.to_string().lines().next().unwrap_or_default()
    );
}

/// A record that only adds to another one (a verdict, a snapshot, a fingerprint): one that
/// does not decode is skipped with a warning, as if it were missing.
fn skip_unreadable<T>(record: Result<T, StoreError>) -> Option<T> {
    record.inspect_err(warn_unreadable).ok()
}

fn samples_to_bytes(samples: &[f64]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn samples_from_bytes(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
        .collect()
}

impl Store {
    /// Opens (creating if needed) the database in `state_dir`: a directory it creates is
    /// 0700, the file 0600. An existing directory is never chmod-ed (it may be shared):
    /// one that anybody may write to, or, unless running as root, one owned by another
    /// user, is refused ([`check_state_dir`]).
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        match fs::metadata(state_dir) {
            Ok(meta) => check_state_dir(state_dir, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
                    .recursive(true)
                    .create(state_dir)
                    .map_err(|source| StoreError::StateDir {
                        path: state_dir.to_path_buf(),
                        source,
                    })?;
            }
            Err(source) => {
                return Err(StoreError::StateDir {
                    path: state_dir.to_path_buf(),
                    source,
                });
            }
        }
        let path = state_dir.join(DATABASE_FILE);
        // Create the file with 0600 before redb opens it, so it is never world-readable.
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StoreError::NotWritable {
                path: state_dir.to_path_buf(),
                source,
            })?;
        let db = open_database(&path, Access::Writable)?;
        let mut store = Store {
            db: std::sync::RwLock::new(Some(db)),
            access: Access::Writable,
            path,
            state_dir: state_dir.to_path_buf(),
            recovered: Vec::new(),
            unfinished: Default::default(),
            outbox_enabled: std::sync::atomic::AtomicBool::new(false),
        };
        store.initialize()?;
        Ok(store)
    }

    /// Creates a new database file at `file` (refused if it exists), mode 0600, for a
    /// backup.
    pub(crate) fn create_file(file: &Path) -> Result<Store, StoreError> {
        let state_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(file)
            .map_err(|source| StoreError::NotWritable {
                path: file.to_path_buf(),
                source,
            })?;
        let db = open_database(file, Access::Writable)?;
        let mut store = Store {
            db: std::sync::RwLock::new(Some(db)),
            access: Access::Writable,
            path: file.to_path_buf(),
            state_dir,
            recovered: Vec::new(),
            unfinished: Default::default(),
            outbox_enabled: std::sync::atomic::AtomicBool::new(false),
        };
        store.initialize()?;
        Ok(store)
    }

    /// Like [`Store::open`], but while another process holds the database lock it tries again
    /// for up to `patience`: a CLI reader (`perfwarden runs` with no daemon answering) holds
    /// it for milliseconds, and a daemon started at that moment must not fail for it.
    /// `on_wait` is called once, when the first attempt finds the database locked.
    pub fn open_patiently(
        state_dir: &Path,
        patience: std::time::Duration,
        on_wait: impl FnOnce(),
    ) -> Result<Store, StoreError> {
        let deadline = std::time::Instant::now() + patience;
        let mut on_wait = Some(on_wait);
        loop {
            match Store::open(state_dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    if let Some(notify) = on_wait.take() {
                        notify();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Opens the database for reading only if it exists (read commands must not create
    /// state). A database this user may not reach is an error that says so, never
    /// "nothing stored".
    pub(crate) fn open_existing(state_dir: &Path) -> Result<Option<Store>, StoreError> {
        let path = state_dir.join(DATABASE_FILE);
        match fs::metadata(&path) {
            // An empty file: created by an open that ended before redb wrote a header.
            Ok(meta) if meta.len() == 0 => Ok(None),
            Ok(_) => Store::open_read_only(state_dir),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(StoreError::Denied { path, source: e })
            }
            Err(_) => Ok(None),
        }
    }

    /// Opens the database only if it exists, for a command that changes it (`baseline
    /// pin`, `db import` into an existing file).
    pub(crate) fn open_existing_writable(state_dir: &Path) -> Result<Option<Store>, StoreError> {
        if Store::open_existing(state_dir)?.is_none() {
            return Ok(None);
        }
        Store::open_patiently(state_dir, READER_PATIENCE, || {}).map(Some)
    }

    /// Opens an existing database without writing to it: redb's shared lock, no commit.
    /// `None` when it holds nothing yet. A file a crash left unclean needs redb's repair:
    /// it is opened writable (the repair is kept and dead runs are marked interrupted), or,
    /// when this user may not write it, repaired in a private copy in memory. A file of an
    /// older schema is upgraded the same way; read-only, it cannot be read.
    pub fn open_read_only(state_dir: &Path) -> Result<Option<Store>, StoreError> {
        let path = state_dir.join(DATABASE_FILE);
        let deadline = std::time::Instant::now() + READER_PATIENCE;
        let handle = loop {
            match open_database(&path, Access::ReadOnly) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(StoreError::Database {
                    source: redb::Error::RepairAborted,
                    ..
                }) => return Store::open_repaired(state_dir),
                other => break other?,
            }
        };
        let store = Store {
            db: std::sync::RwLock::new(Some(handle)),
            access: Access::ReadOnly,
            path: path.clone(),
            state_dir: state_dir.to_path_buf(),
            recovered: Vec::new(),
            unfinished: Default::default(),
            outbox_enabled: std::sync::atomic::AtomicBool::new(false),
        };
        match store.stored_schema_version()? {
            None => Ok(None),
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::TooNew {
                path,
                found,
                known: SCHEMA_VERSION,
            }),
            Some(found) if found < SCHEMA_VERSION => {
                drop(store);
                match Store::open_patiently(state_dir, READER_PATIENCE, || {}) {
                    Ok(store) => Ok(Some(store)),
                    Err(StoreError::NotWritable { .. } | StoreError::Denied { .. }) => {
                        Err(StoreError::NeedsUpgrade { path, found })
                    }
                    Err(e) => Err(e),
                }
            }
            Some(_) => Ok(Some(store)),
        }
    }

    /// [`Store::open_read_only`] of a file that needs redb's crash repair.
    fn open_repaired(state_dir: &Path) -> Result<Option<Store>, StoreError> {
        match Store::open_patiently(state_dir, READER_PATIENCE, || {}) {
            Ok(store) => Ok(Some(store)),
            Err(
                StoreError::NotWritable { .. }
                | StoreError::Denied { .. }
                | StoreError::Database {
                    source: redb::Error::Io(_),
                    ..
                },
            ) => Store::open_private_copy(state_dir).map(Some),
            Err(e) => Err(e),
        }
    }

    /// Opens a private in-memory copy of the file (repaired there if a crash left it
    /// unclean); the file is never written. For `db check` and for reading a file this
    /// user may not write.
    pub(crate) fn open_private_copy(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join(DATABASE_FILE);
        let handle = open_database(&path, Access::PrivateCopy)?;
        tracing::debug!(database = %path.display(), "reading a private copy of the database");
        Ok(Store {
            db: std::sync::RwLock::new(Some(handle)),
            access: Access::PrivateCopy,
            path,
            state_dir: state_dir.to_path_buf(),
            recovered: Vec::new(),
            unfinished: Default::default(),
            outbox_enabled: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The schema version stored in the file; `None` before the first open wrote it.
    pub(crate) fn stored_schema_version(&self) -> Result<Option<u64>, StoreError> {
        self.read(|txn| match txn.open_table(META) {
            Ok(meta) => Ok(meta.get("schema_version")?.map(|v| v.value())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    /// Whether this store may write (it was not opened read-only).
    pub fn is_writable(&self) -> bool {
        self.access == Access::Writable
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Runs that a previous process left `running` and that were marked `interrupted`.
    pub fn recovered_runs(&self) -> &[u64] {
        &self.recovered
    }

    /// Runs `body` on the open database, reopening it first if an I/O error closed it.
    /// Reopening runs redb's recovery of the last committed state, so nothing committed
    /// is lost; while the cause lasts (the disk still full) it fails, and the next access
    /// tries again. A panic inside redb (a damaged file) is contained and becomes
    /// [`StoreError::Damaged`]. An I/O error or a panic closes the database
    /// ([`Store::close_after`]).
    fn with_database<T>(
        &self,
        body: impl FnOnce(&Handle) -> Result<T, TxnError>,
    ) -> Result<T, StoreError> {
        loop {
            {
                let open = self.db.read().unwrap_or_else(|p| p.into_inner());
                if let Some(db) = open.as_ref() {
                    let result = handle::contain(|| body(db))
                        .unwrap_or_else(|damaged| Err(TxnError::Damaged(damaged)));
                    drop(open);
                    return result.map_err(|e| {
                        self.close_after(&e);
                        e.at(&self.path)
                    });
                }
            }
            let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(open_database(&self.path, self.access)?);
                tracing::info!(database = %self.path.display(), "reopened the database after an I/O error or a damaged page");
            }
        }
    }

    /// Closes the database after `error` if it is one after which redb refuses every later
    /// transaction (an I/O error) or may not be trusted (a panic), so that the next access
    /// reopens it.
    fn close_after(&self, error: &TxnError) {
        if let TxnError::Redb(redb::Error::Io(_) | redb::Error::PreviousIo) | TxnError::Damaged(_) =
            error
        {
            let damaged = match error {
                TxnError::Damaged(_) => true,
                TxnError::Redb(redb::Error::Io(e)) => e.kind() == std::io::ErrorKind::UnexpectedEof,
                _ => false,
            };
            let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
            if let Some(handle) = slot.take() {
                // Closing a damaged database may panic in redb too.
                let _ = handle::contain(move || drop(handle));
                if damaged {
                    tracing::debug!(database = %self.path.display(), "a damaged page closed the database");
                } else {
                    tracing::warn!(database = %self.path.display(), "an I/O error closed the database; the next access reopens it");
                }
            }
        }
    }

    /// Runs `body` in a read transaction.
    fn read<T>(
        &self,
        body: impl FnOnce(&redb::ReadTransaction) -> Result<T, TxnError>,
    ) -> Result<T, StoreError> {
        self.with_database(|db| body(&db.begin_read()?))
    }

    /// Runs `body` in a write transaction and commits it (durably); a failure anywhere
    /// aborts the whole transaction.
    fn write<T>(
        &self,
        body: impl FnOnce(&redb::WriteTransaction) -> Result<T, TxnError>,
    ) -> Result<T, StoreError> {
        self.with_database(|db| {
            let txn = db.writable().ok_or(TxnError::ReadOnly)?.begin_write()?;
            let out = body(&txn)?;
            txn.commit()?;
            Ok(out)
        })
    }

    fn initialize(&mut self) -> Result<(), StoreError> {
        let stopped = run_end::read(&self.path);
        self.recovered = self.write(|txn| {
            let mut recovered = Vec::new();
            {
                let mut meta = txn.open_table(META)?;
                let found = meta.get("schema_version")?.map(|v| v.value());
                match found {
                    None => {
                        meta.insert("schema_version", SCHEMA_VERSION)?;
                        meta.insert("next_run_id", 1)?;
                    }
                    Some(version) if version > SCHEMA_VERSION => {
                        return Err(StoreError::TooNew {
                            path: self.path.clone(),
                            found: version,
                            known: SCHEMA_VERSION,
                        }
                        .into());
                    }
                    Some(version) if version < SCHEMA_VERSION => {
                        // 1 → 2 → 3 → 4 only added tables, created below; 4 → 5 rewrites
                        // the fingerprints (`migrate`).
                        tracing::info!(
                            from = version,
                            to = SCHEMA_VERSION,
                            "upgrading the database schema"
                        );
                        meta.insert("schema_version", SCHEMA_VERSION)?;
                    }
                    Some(_) => {}
                }
                // Create every table so read transactions never see a missing one.
                txn.open_table(RUNS)?;
                txn.open_table(RESULTS)?;
                txn.open_table(SAMPLES)?;
                txn.open_table(BENCH_INDEX)?;
                txn.open_table(FINGERPRINTS)?;
                txn.open_table(ENVIRONMENTS)?;
                txn.open_table(SNAPSHOTS)?;
                txn.open_table(VERDICTS)?;
                txn.open_table(OPEN_REGRESSIONS)?;
                txn.open_table(REGRESSION_LOG)?;
                txn.open_table(BASELINE_START)?;
                txn.open_table(SCHEDULE)?;
                txn.open_table(OUTBOX)?;
                if found.is_some_and(|v| v < 5) {
                    let results = migrate::split_fingerprints(txn)?;
                    tracing::info!(
                        results,
                        "fingerprints split into hardware lineages and software environments"
                    );
                }
                let mut counts = txn.open_table(RUN_COUNTS)?;
                if found.is_some_and(|v| v < 3) {
                    // Upgrade: start the counters from the runs still stored.
                    let runs = txn.open_table(RUNS)?;
                    for run in readable(decoded::<_, RunRecord>("runs", runs.iter()?)) {
                        let run = run?;
                        if run.status != RunStatus::Running {
                            count_run(&mut counts, &run)?;
                        }
                    }
                }

                // Crash recovery: nobody else can hold the file, so `running` runs are dead.
                let mut runs = txn.open_table(RUNS)?;
                let mut dead = Vec::new();
                for run in readable(decoded::<_, RunRecord>("runs", runs.iter()?)) {
                    let run = run?;
                    if run.status == RunStatus::Running {
                        dead.push((run.id, run));
                    }
                }
                for (id, run) in dead {
                    let run = ended_dead(run, stopped.as_ref());
                    runs.insert(id, to_json(&run).as_slice())?;
                    count_run(&mut counts, &run)?;
                    recovered.push(id);
                }
            }
            Ok(recovered)
        })?;
        // Nobody else holds the file, so no run is going on: its run-end file is spent.
        run_end::clear(&self.path);
        Ok(())
    }

    /// Records the start of a run and returns its id. `run.id` is ignored. A run this
    /// process began earlier and could not record as ended (the database failed under it)
    /// is recorded as failed first: one process runs one suite at a time.
    pub fn begin_run(&self, mut run: RunRecord) -> Result<RunRecord, StoreError> {
        self.abandon_unfinished("the database could not be written when the run ended");
        let run = self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let id = meta.get("next_run_id")?.map(|v| v.value()).unwrap_or(1);
            meta.insert("next_run_id", id + 1)?;
            run.id = id;
            let mut runs = txn.open_table(RUNS)?;
            runs.insert(id, to_json(&run).as_slice())?;
            Ok(run)
        })?;
        if let Err(e) = run_end::reserve(&self.path, run.id) {
            tracing::debug!(error = %e, "cannot reserve the run-end file");
        }
        self.unfinished_runs().insert(run.id);
        Ok(run)
    }

    fn unfinished_runs(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<u64>> {
        self.unfinished.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records every run this process began and has not recorded as ended as `failed`,
    /// with `reason` in its note: a run whose pipeline stopped at a store error (a full
    /// disk, a failing device) is otherwise left `running`. The results it committed are
    /// kept. Returns the runs so recorded; a run that cannot be written yet (the disk is
    /// still full) stays pending, and the next call ([`Store::begin_run`] makes one)
    /// records it.
    pub fn abandon_unfinished(&self, reason: &str) -> Vec<RunRecord> {
        let pending: Vec<u64> = self.unfinished_runs().iter().copied().collect();
        let mut recorded = Vec::new();
        for id in pending {
            let run = match self.run(id) {
                Ok(Some(run)) if run.status == RunStatus::Running => run,
                Ok(_) => {
                    self.unfinished_runs().remove(&id);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(run = id, error = %e, "cannot read an unfinished run yet");
                    continue;
                }
            };
            let run = abandoned(run, reason, Utc::now());
            match self.update_run(&run) {
                Ok(()) => {
                    tracing::warn!(
                        run = id,
                        note = run.note.as_deref().unwrap_or(""),
                        "run recorded as failed"
                    );
                    recorded.push(run);
                }
                Err(e) => {
                    // Kept in the reserved file for the next process that opens the file.
                    let end = run_end::RunEnd {
                        run: id,
                        at: run.finished_at.unwrap_or_else(Utc::now),
                        reason: reason.to_string(),
                    };
                    match run_end::record(&self.path, &end) {
                        Ok(()) => {
                            tracing::warn!(run = id, error = %e, "cannot record the unfinished run as failed yet; its reason is kept for the next open")
                        }
                        Err(kept) => {
                            tracing::warn!(run = id, error = %e, reason_file = %kept, "cannot record the unfinished run as failed yet")
                        }
                    }
                }
            }
        }
        recorded
    }

    /// Replaces the run record (status, end time, note).
    pub fn update_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.replace_run(run)?;
        if run.status != RunStatus::Running && self.unfinished_runs().remove(&run.id) {
            run_end::clear(&self.path);
        }
        Ok(())
    }

    fn replace_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut runs = txn.open_table(RUNS)?;
            let previous = runs
                .get(run.id)?
                .map(|bytes| from_json::<RunRecord>(bytes.value(), format_args!("runs {}", run.id)))
                .transpose()?;
            runs.insert(run.id, to_json(run).as_slice())?;
            // Count a run once, when it leaves `running`.
            let was_running = previous.is_none_or(|p| p.status == RunStatus::Running);
            if was_running && run.status != RunStatus::Running {
                let mut counts = txn.open_table(RUN_COUNTS)?;
                count_run(&mut counts, run)?;
            }
            Ok(())
        })
    }

    /// Runs that ended, by `(suite, outcome)`, since the database was created.
    pub fn run_counts(&self) -> Result<Vec<RunCount>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(RUN_COUNTS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (key, count) = entry?;
                let (suite, outcome) = key.value();
                out.push(((suite.to_string(), outcome.to_string()), count.value()));
            }
            Ok(out)
        })
    }

    /// Commits one benchmark result with its raw samples and index entry, durably.
    pub fn put_result(&self, result: &BenchmarkResult, samples: &[f64]) -> Result<(), StoreError> {
        self.write(|txn| {
            let key = (result.run_id, result.benchmark.as_str());
            let mut results = txn.open_table(RESULTS)?;
            results.insert(key, to_json(result).as_slice())?;
            let mut raw = txn.open_table(SAMPLES)?;
            raw.insert(key, samples_to_bytes(samples).as_slice())?;
            let mut index = txn.open_table(BENCH_INDEX)?;
            index.insert(
                (
                    result.benchmark.as_str(),
                    result.started_at.timestamp_millis(),
                    result.run_id,
                ),
                (),
            )?;
            Ok(())
        })
    }

    pub(crate) fn put_fingerprint(
        &self,
        hash: &str,
        fingerprint: &Fingerprint,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(FINGERPRINTS)?;
            table.insert(hash, to_json(fingerprint).as_slice())?;
            Ok(())
        })
    }

    pub(crate) fn put_environment(
        &self,
        hash: &str,
        environment: &SoftwareEnvironment,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(ENVIRONMENTS)?;
            table.insert(hash, to_json(environment).as_slice())?;
            Ok(())
        })
    }

    pub fn environment(&self, hash: &str) -> Result<Option<SoftwareEnvironment>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(ENVIRONMENTS)?;
            match table.get(hash)? {
                Some(bytes) => Ok(skip_unreadable(from_json(
                    bytes.value(),
                    format_args!("environments {hash}"),
                ))),
                None => Ok(None),
            }
        })
    }

    pub fn fingerprint(&self, hash: &str) -> Result<Option<Fingerprint>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(FINGERPRINTS)?;
            match table.get(hash)? {
                Some(bytes) => Ok(skip_unreadable(from_json(
                    bytes.value(),
                    format_args!("fingerprints {hash}"),
                ))),
                None => Ok(None),
            }
        })
    }

    pub(crate) fn put_snapshot(
        &self,
        run_id: u64,
        snapshot: &RunSnapshot,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(SNAPSHOTS)?;
            table.insert(run_id, to_json(snapshot).as_slice())?;
            Ok(())
        })
    }

    pub(crate) fn snapshot(&self, run_id: u64) -> Result<Option<RunSnapshot>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(SNAPSHOTS)?;
            match table.get(run_id)? {
                Some(bytes) => Ok(skip_unreadable(from_json(
                    bytes.value(),
                    format_args!("snapshots {run_id}"),
                ))),
                None => Ok(None),
            }
        })
    }

    pub fn run(&self, id: u64) -> Result<Option<RunRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(RUNS)?;
            match table.get(id)? {
                Some(bytes) => Ok(Some(from_json(bytes.value(), format_args!("runs {id}"))?)),
                None => Ok(None),
            }
        })
        .map(|run| run.map(|run| self.as_seen(run)))
    }

    /// `run` as this store shows it: through a read-only open, a run left `running` is
    /// shown interrupted ([`seen_read_only`]).
    fn as_seen(&self, run: RunRecord) -> RunRecord {
        match self.access {
            Access::ReadOnly => seen_read_only(run, &self.path),
            Access::Writable | Access::PrivateCopy => run,
        }
    }

    /// Runs, newest first, optionally of one suite and started at or after `since`.
    pub fn runs(
        &self,
        suite: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(RUNS)?;
            let mut runs = Vec::new();
            for run in readable(decoded::<_, RunRecord>("runs", table.iter()?.rev())) {
                let run = run?;
                if suite.is_some_and(|s| s != run.suite) {
                    continue;
                }
                if since.is_some_and(|t| run.started_at < t) {
                    continue;
                }
                runs.push(self.as_seen(run));
            }
            Ok(runs)
        })
    }

    /// Results of one run, in the order the suite planned them.
    pub fn results(&self, run_id: u64) -> Result<Vec<BenchmarkResult>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(RESULTS)?;
            let mut results: Vec<BenchmarkResult> = readable(decoded(
                "results",
                table.range((run_id, "")..(run_id + 1, ""))?,
            ))
            .collect::<Result<_, _>>()?;
            // The run read in the same transaction (a nested one would take the database
            // lock twice).
            let run: Option<RunRecord> = match txn.open_table(RUNS)?.get(run_id)? {
                Some(bytes) => Some(from_json(bytes.value(), format_args!("runs {run_id}"))?),
                None => None,
            };
            if let Some(run) = run {
                results.sort_by_key(|r| {
                    run.benchmarks
                        .iter()
                        .position(|b| *b == r.benchmark)
                        .unwrap_or(usize::MAX)
                });
            }
            Ok(results)
        })
    }

    pub fn samples(&self, run_id: u64, benchmark: &str) -> Result<Vec<f64>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(SAMPLES)?;
            Ok(table
                .get((run_id, benchmark))?
                .map(|bytes| samples_from_bytes(bytes.value()))
                .unwrap_or_default())
        })
    }

    /// One benchmark's results over time, oldest first (a range scan of the index).
    pub fn history(
        &self,
        benchmark: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<BenchmarkResult>, StoreError> {
        let since_ms = since.map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
        self.read(|txn| {
            let index = txn.open_table(BENCH_INDEX)?;
            let results = txn.open_table(RESULTS)?;
            let mut out = Vec::new();
            for entry in index.range((benchmark, since_ms, 0)..=(benchmark, i64::MAX, u64::MAX))? {
                let (key, _) = entry?;
                let (_, _, run_id) = key.value();
                if let Some(bytes) = results.get((run_id, benchmark))? {
                    out.extend(skip_unreadable(from_json::<BenchmarkResult>(
                        bytes.value(),
                        format_args!("results ({run_id}, {benchmark:?})"),
                    )));
                }
            }
            Ok(out)
        })
    }

    /// The newest results of `result`'s benchmark stored before it in the time index and
    /// with an earlier run id, newest first, that `wanted` accepts: at most `limit`. What a
    /// comparison with the previous runs needs, read without the rest of the history.
    pub fn results_before(
        &self,
        result: &BenchmarkResult,
        limit: usize,
        wanted: impl Fn(&BenchmarkResult) -> bool,
    ) -> Result<Vec<BenchmarkResult>, StoreError> {
        let benchmark = result.benchmark.as_str();
        let end = (
            benchmark,
            result.started_at.timestamp_millis(),
            result.run_id,
        );
        self.read(|txn| {
            let index = txn.open_table(BENCH_INDEX)?;
            let results = txn.open_table(RESULTS)?;
            let mut out = Vec::new();
            for entry in index.range((benchmark, i64::MIN, 0)..end)?.rev() {
                if out.len() >= limit {
                    break;
                }
                let (key, _) = entry?;
                let (_, _, run_id) = key.value();
                if run_id >= result.run_id {
                    continue;
                }
                if let Some(bytes) = results.get((run_id, benchmark))? {
                    out.extend(
                        skip_unreadable(from_json::<BenchmarkResult>(
                            bytes.value(),
                            format_args!("results ({run_id}, {benchmark:?})"),
                        ))
                        .filter(&wanted),
                    );
                }
            }
            Ok(out)
        })
    }

    /// Names of every benchmark with stored results.
    pub fn benchmark_names(&self) -> Result<Vec<String>, StoreError> {
        self.read(|txn| {
            let index = txn.open_table(BENCH_INDEX)?;
            let mut names: Vec<String> = Vec::new();
            for entry in index.iter()? {
                let (key, _) = entry?;
                let name = key.value().0.to_string();
                if names.last() != Some(&name) {
                    names.push(name);
                }
            }
            Ok(names)
        })
    }

    /// Stores the verdicts of one run and the new state of its regressions in one
    /// transaction: `open` replaces the open regression of each benchmark listed (`None`
    /// closes it); every regression in `log` is written to the log.
    pub(crate) fn put_verdicts(
        &self,
        verdicts: &[Verdict],
        open: &[(String, Option<Regression>)],
        log: &[Regression],
        events: &[Event],
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            self.write_events(txn, events)?;
            {
                let mut table = txn.open_table(VERDICTS)?;
                for verdict in verdicts {
                    table.insert(
                        (verdict.run_id, verdict.benchmark.as_str()),
                        to_json(verdict).as_slice(),
                    )?;
                }
                let mut table = txn.open_table(OPEN_REGRESSIONS)?;
                for (benchmark, regression) in open {
                    match regression {
                        Some(r) => {
                            table.insert(benchmark.as_str(), to_json(r).as_slice())?;
                        }
                        None => {
                            table.remove(benchmark.as_str())?;
                        }
                    }
                }
                let mut table = txn.open_table(REGRESSION_LOG)?;
                for r in log {
                    table.insert((r.benchmark.as_str(), r.first_run), to_json(r).as_slice())?;
                }
            }
            Ok(())
        })
    }

    /// Turns the outbox on or off for this process (see `outbox_enabled`).
    pub(crate) fn outbox_enabled(&self) -> bool {
        self.outbox_enabled
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set_outbox_enabled(&self, enabled: bool) {
        self.outbox_enabled
            .store(enabled, std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes alert events to the outbox (when enabled), in their own transaction.
    pub(crate) fn enqueue_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty()
            || !self
                .outbox_enabled
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        self.write(|txn| {
            self.write_events(txn, events)?;
            Ok(())
        })
    }

    fn write_events(&self, txn: &redb::WriteTransaction, events: &[Event]) -> Result<(), TxnError> {
        if events.is_empty()
            || !self
                .outbox_enabled
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let mut meta = txn.open_table(META)?;
        let mut outbox = txn.open_table(OUTBOX)?;
        let mut next = meta.get("next_event_seq")?.map(|v| v.value()).unwrap_or(1);
        for event in events {
            outbox.insert(next, to_json(event).as_slice())?;
            next += 1;
        }
        meta.insert("next_event_seq", next)?;
        let len = outbox.len()?;
        if len > OUTBOX_CAPACITY {
            let excess = len - OUTBOX_CAPACITY;
            for _ in 0..excess {
                outbox.pop_first()?;
            }
            let dropped = meta.get("outbox_dropped")?.map(|v| v.value()).unwrap_or(0);
            meta.insert("outbox_dropped", dropped + excess)?;
            tracing::warn!(
                dropped = excess,
                capacity = OUTBOX_CAPACITY,
                "the alert outbox is full (the collector has been unreachable for long); dropped the oldest events"
            );
        }
        Ok(())
    }

    /// The oldest `limit` events of the outbox with their sequence numbers.
    pub(crate) fn outbox_peek(&self, limit: usize) -> Result<Vec<(u64, Event)>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(OUTBOX)?;
            let mut events = Vec::new();
            for entry in table.iter()?.take(limit) {
                let (seq, bytes) = entry?;
                let seq = seq.value();
                events.push((seq, from_json(bytes.value(), format_args!("outbox {seq}"))?));
            }
            Ok(events)
        })
    }

    /// Removes delivered events.
    pub(crate) fn outbox_remove(&self, sequences: &[u64]) -> Result<(), StoreError> {
        if sequences.is_empty() {
            return Ok(());
        }
        self.write(|txn| {
            let mut table = txn.open_table(OUTBOX)?;
            for seq in sequences {
                table.remove(seq)?;
            }
            Ok(())
        })
    }

    /// Events waiting in the outbox (the `perfwarden.export.backlog` metric).
    pub(crate) fn outbox_len(&self) -> Result<u64, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(OUTBOX)?;
            Ok(table.len()?)
        })
    }

    pub fn verdict(&self, run_id: u64, benchmark: &str) -> Result<Option<Verdict>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(VERDICTS)?;
            match table.get((run_id, benchmark))? {
                Some(bytes) => Ok(skip_unreadable(from_json(
                    bytes.value(),
                    format_args!("verdicts ({run_id}, {benchmark:?})"),
                ))),
                None => Ok(None),
            }
        })
    }

    /// Open regressions, by benchmark name.
    pub fn open_regressions(&self) -> Result<Vec<Regression>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(OPEN_REGRESSIONS)?;
            readable(decoded("open_regressions", table.iter()?)).collect()
        })
    }

    /// Every regression ever opened, newest first.
    pub fn regression_log(&self) -> Result<Vec<Regression>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(REGRESSION_LOG)?;
            let mut out: Vec<Regression> =
                readable(decoded("regression_log", table.iter()?)).collect::<Result<_, _>>()?;
            out.sort_by_key(|r| std::cmp::Reverse(r.last_run));
            Ok(out)
        })
    }

    pub fn baseline_start(&self, benchmark: &str) -> Result<Option<u64>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(BASELINE_START)?;
            Ok(table.get(benchmark)?.map(|v| v.value()))
        })
    }

    pub(crate) fn set_baseline_start(
        &self,
        benchmark: &str,
        run_id: u64,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(BASELINE_START)?;
            table.insert(benchmark, run_id)?;
            Ok(())
        })
    }

    /// The daemon's persisted schedule state of every suite.
    pub(crate) fn schedule_states(
        &self,
    ) -> Result<std::collections::BTreeMap<String, SuiteSchedule>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(SCHEDULE)?;
            let mut out = std::collections::BTreeMap::new();
            for entry in table.iter()? {
                let (suite, bytes) = entry?;
                let suite = suite.value().to_string();
                let state = from_json(bytes.value(), format_args!("schedule {suite:?}"))?;
                out.insert(suite, state);
            }
            Ok(out)
        })
    }

    /// Persists the schedule state of `suite` (durably, like every commit here).
    pub(crate) fn put_schedule_state(
        &self,
        suite: &str,
        state: &SuiteSchedule,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(SCHEDULE)?;
            table.insert(suite, to_json(state).as_slice())?;
            Ok(())
        })
    }

    /// The id the next run will get.
    pub(crate) fn next_run_id(&self) -> Result<u64, StoreError> {
        self.read(|txn| {
            let meta = txn.open_table(META)?;
            Ok(meta.get("next_run_id")?.map(|v| v.value()).unwrap_or(1))
        })
    }

    /// Deletes runs started before `cutoff` with everything that belongs to them. Returns
    /// the number of runs purged. One transaction: a crash purges all or nothing.
    pub fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let old: Vec<RunRecord> = self
            .runs(None, None)?
            .into_iter()
            .filter(|r| r.started_at < cutoff && r.status != RunStatus::Running)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        self.write(|txn| {
            let mut runs = txn.open_table(RUNS)?;
            let mut results = txn.open_table(RESULTS)?;
            let mut samples = txn.open_table(SAMPLES)?;
            let mut index = txn.open_table(BENCH_INDEX)?;
            let mut snapshots = txn.open_table(SNAPSHOTS)?;
            let mut verdicts = txn.open_table(VERDICTS)?;
            for run in &old {
                let mut stored: Vec<(String, i64)> = Vec::new();
                for entry in results.range((run.id, "")..(run.id + 1, ""))? {
                    let (key, bytes) = entry?;
                    let (key, bytes) = (key.value(), bytes.value());
                    let result: BenchmarkResult =
                        from_json(bytes, format_args!("results {key:?}"))?;
                    stored.push((result.benchmark, result.started_at.timestamp_millis()));
                }
                for (bench, started_ms) in &stored {
                    results.remove((run.id, bench.as_str()))?;
                    samples.remove((run.id, bench.as_str()))?;
                    index.remove((bench.as_str(), *started_ms, run.id))?;
                    verdicts.remove((run.id, bench.as_str()))?;
                }
                snapshots.remove(run.id)?;
                runs.remove(run.id)?;
            }
            Ok(old.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_bit_exact() {
        let samples = vec![1.0, -0.5, f64::MAX, 1e-300, 12345.678];
        assert_eq!(samples_from_bytes(&samples_to_bytes(&samples)), samples);
    }
}
