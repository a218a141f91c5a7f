//! The whole history as JSON Lines (`perfwarden db export / import / backup / check`).
//!
//! Why a text format and not a file copy: a copy of a redb file is only consistent while no
//! process writes it, while an export is read in one read transaction (a snapshot) and may
//! be taken while the daemon runs, streamed through its control socket. Each record is
//! decoded as perfwarden reads it, so an export of a damaged file keeps everything readable
//! and names what it left out; a backup is an export imported into a new file, and a check
//! is an export to nowhere that counts. The format is in `model::archive`.

use std::io::{BufRead, Write};
use std::path::Path;

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableHandle, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::handle::{self, Damaged};
use super::schema::*;
use super::{Store, StoreError, TxnError, from_json, samples_from_bytes, samples_to_bytes};
use crate::model::archive::{
    DamagedTable, EXPORT_FORMAT, EXPORT_VERSION, ExportEnd, ExportHeader, ExportRecord,
    ExportTrailer, ImportSummary, TableCheck,
};
use crate::model::event::Event;
use crate::model::records::{
    BenchmarkResult, Fingerprint, RunRecord, RunSnapshot, SoftwareEnvironment, SuiteSchedule,
};
use crate::model::verdict::{Regression, Verdict};

/// Why an export stopped: the output failed (a full disk, a client gone). Storage failures
/// do not stop it; they are recorded in the trailer.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an export read, table by table.
#[derive(Debug, Default)]
pub struct ExportTally {
    pub end: ExportEnd,
    pub tables: Vec<TableCheck>,
}

/// Writes the records of one table and counts them.
struct Exporter<'w> {
    out: &'w mut dyn Write,
    tally: ExportTally,
}

/// A table export that stopped: the output (stop everything) or the table (go on).
enum TableFailure {
    Output(std::io::Error),
    Storage(String),
}

impl From<redb::StorageError> for TableFailure {
    fn from(e: redb::StorageError) -> Self {
        TableFailure::Storage(e.to_string())
    }
}

impl From<redb::TableError> for TableFailure {
    fn from(e: redb::TableError) -> Self {
        TableFailure::Storage(e.to_string())
    }
}

impl Exporter<'_> {
    fn line(
        &mut self,
        table: &str,
        key: serde_json::Value,
        value: serde_json::Value,
    ) -> Result<(), TableFailure> {
        #[derive(Serialize)]
        struct Line<'a> {
            table: &'a str,
            key: serde_json::Value,
            value: serde_json::Value,
        }
        let mut bytes = serde_json::to_vec(&Line { table, key, value }).expect("records serialize");
        bytes.push(b'\n');
        self.out.write_all(&bytes).map_err(TableFailure::Output)?;
        self.tally.end.records += 1;
        Ok(())
    }

    /// Exports `def` with `value` turning each stored value into its line's value (`None`:
    /// unreadable, left out and named).
    fn table<K, V>(
        &mut self,
        txn: &ReadTransaction,
        def: TableDefinition<K, V>,
        value: impl Fn(V::SelfType<'_>, &str) -> Result<serde_json::Value, StoreError>,
    ) -> Result<(), ExportError>
    where
        K: redb::Key + 'static,
        V: redb::Value + 'static,
        for<'a> K::SelfType<'a>: Serialize + std::fmt::Debug,
    {
        let name = def.name().to_string();
        let before = self.tally.end.records;
        let walked = handle::contain(|| -> Result<(), TableFailure> {
            let table = match txn.open_table(def) {
                Ok(table) => table,
                // A table a newer schema added, or one never created: nothing to export.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            for entry in table.iter()? {
                let (key, stored) = entry?;
                let key = key.value();
                let record = format!("{name} {key:?}");
                match value(stored.value(), &record) {
                    Ok(value) => {
                        let key = serde_json::to_value(&key).expect("keys serialize");
                        self.line(&name, key, value)?;
                    }
                    Err(error) => {
                        tracing::warn!("{}", error.to_string().lines().next().unwrap_or_default());
                        self.tally.end.unreadable.push(record);
                    }
                }
            }
            Ok(())
        });
        let reason = match walked {
            Ok(Ok(())) => None,
            Ok(Err(TableFailure::Output(e))) => return Err(ExportError::Output(e)),
            Ok(Err(TableFailure::Storage(reason))) => Some(reason),
            Err(Damaged(reason)) => Some(reason),
        };
        if let Some(reason) = reason {
            tracing::warn!(table = %name, %reason, "a table could not be read to its end; its readable records were kept");
            self.tally.end.damaged_tables.push(DamagedTable {
                table: name.clone(),
                reason,
            });
        }
        self.tally.tables.push(TableCheck {
            table: name,
            records: self.tally.end.records - before,
        });
        Ok(())
    }

    /// A table of JSON documents, each decoded as `T` (so a record perfwarden cannot read
    /// is left out, not copied).
    fn json<K, T>(
        &mut self,
        txn: &ReadTransaction,
        def: TableDefinition<K, &'static [u8]>,
    ) -> Result<(), ExportError>
    where
        K: redb::Key + 'static,
        for<'a> K::SelfType<'a>: Serialize + std::fmt::Debug,
        T: DeserializeOwned + Serialize,
    {
        self.table(txn, def, |bytes, record| {
            let decoded: T = from_json(bytes, record)?;
            Ok(serde_json::to_value(&decoded).expect("records serialize"))
        })
    }

    fn every_table(&mut self, txn: &ReadTransaction) -> Result<(), ExportError> {
        self.table(txn, META, |v, _| Ok(v.into()))?;
        self.json::<_, RunRecord>(txn, RUNS)?;
        self.json::<_, BenchmarkResult>(txn, RESULTS)?;
        self.table(txn, SAMPLES, |bytes, _| {
            Ok(serde_json::to_value(samples_from_bytes(bytes)).expect("samples serialize"))
        })?;
        self.table(txn, BENCH_INDEX, |(), _| Ok(serde_json::Value::Null))?;
        self.json::<_, Fingerprint>(txn, FINGERPRINTS)?;
        self.json::<_, SoftwareEnvironment>(txn, ENVIRONMENTS)?;
        self.json::<_, RunSnapshot>(txn, SNAPSHOTS)?;
        self.json::<_, Verdict>(txn, VERDICTS)?;
        self.json::<_, Regression>(txn, OPEN_REGRESSIONS)?;
        self.json::<_, Regression>(txn, REGRESSION_LOG)?;
        self.table(txn, BASELINE_START, |v, _| Ok(v.into()))?;
        self.json::<_, SuiteSchedule>(txn, SCHEDULE)?;
        self.table(txn, RUN_COUNTS, |v, _| Ok(v.into()))?;
        self.json::<_, Event>(txn, OUTBOX)?;
        Ok(())
    }
}

fn write_json_line(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value).expect("export lines serialize");
    bytes.push(b'\n');
    out.write_all(&bytes)
}

impl Store {
    /// Writes every record to `out` in the export format, from one read transaction (a
    /// consistent snapshot, also while other threads write). Unreadable records and
    /// tables are left out, named in the trailer and returned.
    pub fn export(&self, out: &mut dyn Write) -> Result<ExportTally, ExportError> {
        let header = ExportHeader {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            schema: SCHEMA_VERSION,
            exported_at: chrono::Utc::now(),
            agent_version: env!("CARGO_PKG_VERSION").into(),
        };
        write_json_line(out, &header)?;
        let mut exporter = Exporter {
            out,
            tally: ExportTally::default(),
        };
        let walked = self.with_database(|db| {
            let txn = db.begin_read()?;
            Ok(exporter.every_table(&txn))
        });
        walked??;
        let Exporter { out, tally } = exporter;
        write_json_line(
            out,
            &ExportTrailer {
                end: tally.end.clone(),
            },
        )?;
        out.flush()?;
        Ok(tally)
    }

    /// redb's own integrity check of the pages and free lists, on a private copy
    /// (`Store::open_private_copy`): `ok`, `repaired`, or why it failed.
    pub(crate) fn check_integrity(&self) -> Option<String> {
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        let Some(super::handle::Handle::PrivateCopy(db)) = slot.as_mut() else {
            return None;
        };
        Some(match handle::contain(|| db.check_integrity()) {
            Ok(Ok(true)) => "ok".into(),
            Ok(Ok(false)) => {
                "repaired (a crash left the file unclean; the file itself was not changed)".into()
            }
            Ok(Err(e)) => format!("failed: {e}"),
            Err(Damaged(reason)) => format!("failed: {reason}"),
        })
    }
}

/// Why an import failed. Nothing is written unless the whole file is read: the records go
/// in one transaction.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{source_name}: cannot read line {line}: {error}")]
    Read {
        source_name: String,
        line: u64,
        error: std::io::Error,
    },
    #[error(
        "{source_name}, line {line}: {problem}\n  hint: the input must be the output of `perfwarden db export`; nothing was imported"
    )]
    Format {
        source_name: String,
        line: u64,
        problem: String,
    },
    #[error(
        "{source_name} ends at line {line} without the export's end line: it was cut short\n  hint: export again (`perfwarden db export --output FILE`); nothing was imported"
    )]
    Truncated { source_name: String, line: u64 },
    #[error(
        "the database {0} already holds runs\n  hint: import into an empty state directory (`--state-dir NEW`); an import never merges into an existing history"
    )]
    NotEmpty(std::path::PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tables of a write transaction, open for the whole import.
struct ImportTables<'t> {
    meta: redb::Table<'t, &'static str, u64>,
    runs: redb::Table<'t, u64, &'static [u8]>,
    results: redb::Table<'t, (u64, &'static str), &'static [u8]>,
    samples: redb::Table<'t, (u64, &'static str), &'static [u8]>,
    index: redb::Table<'t, (&'static str, i64, u64), ()>,
    fingerprints: redb::Table<'t, &'static str, &'static [u8]>,
    environments: redb::Table<'t, &'static str, &'static [u8]>,
    snapshots: redb::Table<'t, u64, &'static [u8]>,
    verdicts: redb::Table<'t, (u64, &'static str), &'static [u8]>,
    open_regressions: redb::Table<'t, &'static str, &'static [u8]>,
    regression_log: redb::Table<'t, (&'static str, u64), &'static [u8]>,
    baseline_start: redb::Table<'t, &'static str, u64>,
    schedule: redb::Table<'t, &'static str, &'static [u8]>,
    run_counts: redb::Table<'t, (&'static str, &'static str), u64>,
    outbox: redb::Table<'t, u64, &'static [u8]>,
}

impl<'t> ImportTables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, redb::TableError> {
        Ok(ImportTables {
            meta: txn.open_table(META)?,
            runs: txn.open_table(RUNS)?,
            results: txn.open_table(RESULTS)?,
            samples: txn.open_table(SAMPLES)?,
            index: txn.open_table(BENCH_INDEX)?,
            fingerprints: txn.open_table(FINGERPRINTS)?,
            environments: txn.open_table(ENVIRONMENTS)?,
            snapshots: txn.open_table(SNAPSHOTS)?,
            verdicts: txn.open_table(VERDICTS)?,
            open_regressions: txn.open_table(OPEN_REGRESSIONS)?,
            regression_log: txn.open_table(REGRESSION_LOG)?,
            baseline_start: txn.open_table(BASELINE_START)?,
            schedule: txn.open_table(SCHEDULE)?,
            run_counts: txn.open_table(RUN_COUNTS)?,
            outbox: txn.open_table(OUTBOX)?,
        })
    }

    /// Inserts one record; `Err(problem)` says what is wrong with the line.
    fn insert(&mut self, record: ExportRecord) -> Result<(), String> {
        fn key<K: DeserializeOwned>(record: &ExportRecord) -> Result<K, String> {
            serde_json::from_value(record.key.clone())
                .map_err(|e| format!("table {}: bad key {}: {e}", record.table, record.key))
        }
        fn number(record: &ExportRecord) -> Result<u64, String> {
            record
                .value
                .as_u64()
                .ok_or_else(|| format!("table {}: the value must be a whole number", record.table))
        }
        let document = || serde_json::to_vec(&record.value).expect("values serialize");
        let stored = |e: redb::StorageError| format!("cannot store the record: {e}");
        match record.table.as_str() {
            "meta" => {
                let k: String = key(&record)?;
                self.meta
                    .insert(k.as_str(), number(&record)?)
                    .map_err(stored)?;
            }
            "runs" => {
                let k: u64 = key(&record)?;
                self.runs.insert(k, document().as_slice()).map_err(stored)?;
            }
            "results" => {
                let (run, bench): (u64, String) = key(&record)?;
                self.results
                    .insert((run, bench.as_str()), document().as_slice())
                    .map_err(stored)?;
            }
            "samples" => {
                let (run, bench): (u64, String) = key(&record)?;
                let samples: Vec<f64> =
                    serde_json::from_value(record.value.clone()).map_err(|e| {
                        format!("table samples: the value must be an array of numbers: {e}")
                    })?;
                self.samples
                    .insert((run, bench.as_str()), samples_to_bytes(&samples).as_slice())
                    .map_err(stored)?;
            }
            "bench_index" => {
                let (bench, at, run): (String, i64, u64) = key(&record)?;
                self.index
                    .insert((bench.as_str(), at, run), ())
                    .map_err(stored)?;
            }
            "fingerprints" => {
                let k: String = key(&record)?;
                self.fingerprints
                    .insert(k.as_str(), document().as_slice())
                    .map_err(stored)?;
            }
            "environments" => {
                let k: String = key(&record)?;
                self.environments
                    .insert(k.as_str(), document().as_slice())
                    .map_err(stored)?;
            }
            "snapshots" => {
                let k: u64 = key(&record)?;
                self.snapshots
                    .insert(k, document().as_slice())
                    .map_err(stored)?;
            }
            "verdicts" => {
                let (run, bench): (u64, String) = key(&record)?;
                self.verdicts
                    .insert((run, bench.as_str()), document().as_slice())
                    .map_err(stored)?;
            }
            "open_regressions" => {
                let k: String = key(&record)?;
                self.open_regressions
                    .insert(k.as_str(), document().as_slice())
                    .map_err(stored)?;
            }
            "regression_log" => {
                let (bench, first): (String, u64) = key(&record)?;
                self.regression_log
                    .insert((bench.as_str(), first), document().as_slice())
                    .map_err(stored)?;
            }
            "baseline_start" => {
                let k: String = key(&record)?;
                self.baseline_start
                    .insert(k.as_str(), number(&record)?)
                    .map_err(stored)?;
            }
            "schedule" => {
                let k: String = key(&record)?;
                self.schedule
                    .insert(k.as_str(), document().as_slice())
                    .map_err(stored)?;
            }
            "run_counts" => {
                let (suite, outcome): (String, String) = key(&record)?;
                self.run_counts
                    .insert((suite.as_str(), outcome.as_str()), number(&record)?)
                    .map_err(stored)?;
            }
            "outbox" => {
                let k: u64 = key(&record)?;
                self.outbox
                    .insert(k, document().as_slice())
                    .map_err(stored)?;
            }
            other => {
                return Err(format!(
                    "unknown table \"{other}\" (written by a newer perfwarden?)"
                ));
            }
        }
        Ok(())
    }
}

/// Reads an export from `input` into `store`, which must hold no runs, in one transaction.
/// The schema of the export is kept in `meta`; an older one is upgraded when the database
/// is next opened, as an old file would be. `source_name` names the input in errors.
pub fn import(
    store: &Store,
    input: &mut dyn BufRead,
    source_name: &str,
) -> Result<ImportSummary, ImportError> {
    if store.read(|txn| Ok(txn.open_table(RUNS)?.first()?.is_some()))? {
        return Err(ImportError::NotEmpty(store.path().to_path_buf()));
    }
    let format = |line: u64, problem: String| ImportError::Format {
        source_name: source_name.to_string(),
        line,
        problem,
    };
    let mut text = String::new();
    let mut number = 0u64;
    let mut next_line = |text: &mut String, number: &mut u64| -> Result<bool, ImportError> {
        text.clear();
        *number += 1;
        match input.read_line(text) {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(error) => Err(ImportError::Read {
                source_name: source_name.to_string(),
                line: *number,
                error,
            }),
        }
    };
    if !next_line(&mut text, &mut number)? {
        return Err(format(1, "the file is empty".into()));
    }
    let header: ExportHeader =
        serde_json::from_str(&text).map_err(|e| format(1, format!("not an export header: {e}")))?;
    if header.format != EXPORT_FORMAT {
        return Err(format(
            1,
            format!("format \"{}\", expected \"{EXPORT_FORMAT}\"", header.format),
        ));
    }
    if header.version > EXPORT_VERSION {
        return Err(format(
            1,
            format!(
                "export format version {} is newer than this perfwarden reads ({EXPORT_VERSION}); upgrade perfwarden",
                header.version
            ),
        ));
    }
    if header.schema > SCHEMA_VERSION {
        return Err(format(
            1,
            format!(
                "the records are in schema {}, newer than this perfwarden knows ({SCHEMA_VERSION}); upgrade perfwarden",
                header.schema
            ),
        ));
    }
    // A bad line rolls the whole transaction back: the body stops with `Abort` and leaves
    // what was wrong here.
    let mut failure: Option<ImportError> = None;
    let written = store.write(|txn| {
        let mut tables = ImportTables::open(txn)?;
        let mut records = 0u64;
        let mut runs = 0u64;
        let mut abort = |error: ImportError| {
            failure = Some(error);
            TxnError::Abort
        };
        loop {
            let more = next_line(&mut text, &mut number).map_err(&mut abort)?;
            if !more {
                return Err(abort(ImportError::Truncated {
                    source_name: source_name.to_string(),
                    line: number - 1,
                }));
            }
            if let Ok(trailer) = serde_json::from_str::<ExportTrailer>(&text) {
                if trailer.end.records != records {
                    let problem = format!(
                        "the end line counts {} records, the file holds {records}",
                        trailer.end.records
                    );
                    return Err(abort(format(number, problem)));
                }
                // The header's schema: an older export is upgraded like an old file, at
                // the next open.
                tables.meta.insert("schema_version", header.schema)?;
                return Ok((records, runs, trailer.end.unreadable));
            }
            if !text.ends_with('\n') {
                return Err(abort(ImportError::Truncated {
                    source_name: source_name.to_string(),
                    line: number,
                }));
            }
            let record: ExportRecord = serde_json::from_str(&text)
                .map_err(|e| abort(format(number, format!("not a record: {e}"))))?;
            if record.table == "runs" {
                runs += 1;
            }
            tables
                .insert(record)
                .map_err(|problem| abort(format(number, problem)))?;
            records += 1;
        }
    });
    let (records, runs, left_out_by_export) = match written {
        Ok(done) => done,
        Err(error) => return Err(failure.unwrap_or(ImportError::Store(error))),
    };
    Ok(ImportSummary {
        database: store.path().to_path_buf(),
        records,
        runs,
        left_out_by_export,
    })
}

/// Writes a consistent copy of `store` to a new redb file at `target` (refused if it
/// exists): the export imported into it, through a pipe, so no temporary file is needed.
pub fn backup(store: &Store, target: &Path) -> Result<ImportSummary, ImportError> {
    let copy = Store::create_file(target)?;
    let (reader, writer) = std::io::pipe().map_err(|error| ImportError::Read {
        source_name: "the export pipe".into(),
        line: 0,
        error,
    })?;
    let (imported, exported) = std::thread::scope(|scope| {
        let exporting = scope.spawn(move || {
            let mut writer = std::io::BufWriter::new(writer);
            store.export(&mut writer)
        });
        let imported = import(&copy, &mut std::io::BufReader::new(reader), "the export");
        (imported, exporting.join())
    });
    drop(copy);
    let exported = exported.unwrap_or_else(|_| {
        Err(ExportError::Output(std::io::Error::other(
            "the export thread panicked",
        )))
    });
    let failure = match (imported, exported) {
        (Ok(summary), Ok(_)) => return Ok(summary),
        // The export's own failure first: the import then only saw a stream cut short.
        (_, Err(ExportError::Store(error))) => ImportError::Store(error),
        (Err(error), _) => error,
        (Ok(_), Err(ExportError::Output(error))) => ImportError::Read {
            source_name: "the export".into(),
            line: 0,
            error,
        },
    };
    let _ = std::fs::remove_file(target);
    Err(failure)
}
