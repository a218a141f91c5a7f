//! Why a run stopped, kept where a full disk cannot stop it from being written.
//!
//! A run the database stopped (a full disk, a failing device) is recorded as failed with
//! the reason — unless the database cannot be written even for that, and the process then
//! exits. Without more, the next process to open the file finds the run `running` and can
//! only call it interrupted, as after a crash. So when a run begins, a small file is
//! written next to the database and synced ([`reserve`]); its blocks are then allocated,
//! and overwriting them in place ([`record`]) needs no new space. The next process that
//! opens the database reads it ([`read`]) and records the run as failed with its reason.
//! A run that ends normally removes it ([`clear`]).

use std::fs;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// The file's fixed size: one page, overwritten in place.
const SIZE: usize = 4096;

/// A run's stored reason for stopping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunEnd {
    pub run: u64,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// The file beside `database` (`perfwarden.redb` → `perfwarden.run-end`).
pub(crate) fn path(database: &Path) -> PathBuf {
    database.with_extension("run-end")
}

fn padded(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(SIZE, b' ');
    bytes
}

/// Allocates the file for `run`, which has just begun: no reason yet.
pub(crate) fn reserve(database: &Path, run: u64) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path(database))?;
    file.write_all(&padded(&format!("{run}\n")))?;
    file.sync_all()
}

/// Writes why `run` stopped over the reserved file, without growing it.
pub(crate) fn record(database: &Path, end: &RunEnd) -> std::io::Result<()> {
    let mut reason: String = end
        .reason
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let head = format!("{}\n{}\n", end.run, end.at.to_rfc3339());
    while head.len() + reason.len() + 1 > SIZE {
        reason.pop();
    }
    let mut file = fs::OpenOptions::new().write(true).open(path(database))?;
    file.seek(std::io::SeekFrom::Start(0))?;
    file.write_all(&padded(&format!("{head}{reason}\n")))?;
    file.sync_data()
}

/// The recorded end of a run, if a process recorded one it could not store.
pub(crate) fn read(database: &Path) -> Option<RunEnd> {
    let text = fs::read_to_string(path(database)).ok()?;
    let mut lines = text.lines();
    let run = lines.next()?.trim().parse().ok()?;
    let at = DateTime::parse_from_rfc3339(lines.next()?.trim()).ok()?;
    let reason = lines.next()?.trim().to_string();
    (!reason.is_empty()).then(|| RunEnd {
        run,
        at: at.with_timezone(&Utc),
        reason,
    })
}

/// Removes the file: the run it was reserved for is recorded as ended.
pub(crate) fn clear(database: &Path) {
    match fs::remove_file(path(database)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::debug!(error = %e, "cannot remove the run-end file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_reason_is_read_back_and_a_reserved_file_holds_none() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("perfwarden.redb");
        reserve(&database, 7).unwrap();
        assert_eq!(read(&database), None);
        assert_eq!(fs::metadata(path(&database)).unwrap().len(), SIZE as u64);
        let end = RunEnd {
            run: 7,
            at: DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            reason: format!("no space left\n  hint: free space {}", "x".repeat(9000)),
        };
        record(&database, &end).unwrap();
        assert_eq!(fs::metadata(path(&database)).unwrap().len(), SIZE as u64);
        let back = read(&database).unwrap();
        assert_eq!(back.run, 7);
        assert_eq!(back.at, end.at);
        assert_eq!(back.reason, "no space left", "only the first line");
        clear(&database);
        assert_eq!(read(&database), None);
        clear(&database);
    }

    #[test]
    fn a_long_reason_is_cut_to_fit_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("perfwarden.redb");
        reserve(&database, 1).unwrap();
        let end = RunEnd {
            run: 1,
            at: Utc::now(),
            reason: "é".repeat(5000),
        };
        record(&database, &end).unwrap();
        assert_eq!(fs::metadata(path(&database)).unwrap().len(), SIZE as u64);
        assert!(read(&database).unwrap().reason.starts_with("éé"));
    }
}
