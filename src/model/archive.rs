//! The nouns of `perfwarden db`: the JSON Lines export format and the integrity summary.
//!
//! **The export format** (`perfwarden-export`, version [`EXPORT_VERSION`]) is one JSON
//! document per line, so it streams, greps and diffs:
//!
//! 1. a header, [`ExportHeader`]: `{"format":"perfwarden-export","version":1,"schema":5,…}`;
//! 2. one line per stored record, [`ExportRecord`]: `{"table":"runs","key":12,"value":{…}}`.
//!    `table` is the redb table, `key` its key (a number, a string or an array for a
//!    composite key), `value` the record as perfwarden stores it: the JSON document of a
//!    run, result, verdict …, the raw samples as an array of numbers, a counter as a
//!    number, `null` for an index entry;
//! 3. a trailer, `{"end":{…}}` ([`ExportEnd`]): how many records were written and which
//!    could not be read. An import refuses a file without it (cut short).
//!
//! The version changes only when a line's meaning changes; new tables or record fields are
//! additions an older reader rejects by name (unknown table) or ignores (a new field).

use serde::{Deserialize, Serialize};

/// The `format` of the header line.
pub const EXPORT_FORMAT: &str = "perfwarden-export";
/// The version of the export format this binary writes and reads.
pub const EXPORT_VERSION: u64 = 1;

/// The first line of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportHeader {
    pub format: String,
    pub version: u64,
    /// The database schema the records are in (`store::schema::SCHEMA_VERSION`).
    pub schema: u64,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// The perfwarden version that wrote it.
    pub agent_version: String,
}

/// One stored record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportRecord {
    pub table: String,
    pub key: serde_json::Value,
    pub value: serde_json::Value,
}

/// The last line of an export: `{"end": ExportEnd}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExportEnd {
    /// Records written (header and trailer not counted).
    pub records: u64,
    /// Records that could not be read and were left out (`runs 12`, `results (3, "x")`).
    #[serde(default)]
    pub unreadable: Vec<String>,
    /// Tables that could not be read to their end, with the reason.
    #[serde(default)]
    pub damaged_tables: Vec<DamagedTable>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DamagedTable {
    pub table: String,
    pub reason: String,
}

/// The trailer line's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportTrailer {
    pub end: ExportEnd,
}

/// What `perfwarden db check` found.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseCheck {
    pub database: std::path::PathBuf,
    pub schema: Option<u64>,
    /// redb's own check of its pages and free lists: `ok`, `repaired` (a crash left the
    /// file unclean; the repair was done in a private copy, the file was not changed), or
    /// why it failed. `None` when the daemon holds the file (the check needs it alone).
    pub integrity: Option<String>,
    /// Records read per table.
    pub tables: Vec<TableCheck>,
    pub unreadable: Vec<String>,
    pub damaged_tables: Vec<DamagedTable>,
    /// Nothing unreadable and the integrity check passed.
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub records: u64,
}

/// What `perfwarden db import` loaded.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub database: std::path::PathBuf,
    pub records: u64,
    pub runs: u64,
    /// The source export left these records out (read from its trailer).
    pub left_out_by_export: Vec<String>,
}
