//! The reports the daemon keeps: after each suite the HTML report of the host (after a
//! monthly suite, the review of the last 30 days) goes to `<state_dir>/reports/latest.html`,
//! with a dated copy beside it, and only the newest `[daemon] reports_kept` copies stay, so
//! the directory is bounded. Each file is written to a temporary name and renamed into
//! place, so a reader (or `/report`) never sees half a page.
//!
//! A report that cannot be written is logged and skipped: the run and its results are
//! already committed, and a report is a view of them.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::model::records::RunRecord;
use crate::report::{self, Format, ReviewReport};
use crate::store::Store;

/// Suites scheduled this far apart or more get the 30-day review.
const MONTHLY: chrono::Duration = chrono::Duration::days(27);

/// The directory the reports are kept in.
pub(crate) fn directory(state_dir: &Path) -> PathBuf {
    state_dir.join("reports")
}

/// The newest report, as `/report` serves it.
pub(crate) fn latest(state_dir: &Path) -> PathBuf {
    directory(state_dir).join("latest.html")
}

/// Writes the report after `run`, then prunes the copies beyond `kept`. Returns the path
/// of the dated copy.
pub(crate) fn keep(store: &Store, config: &Config, run: &RunRecord) -> Option<PathBuf> {
    let kept = config.daemon.reports_kept as usize;
    if kept == 0 || run.quick {
        return None;
    }
    let monthly = crate::detect::baseline::suite_period(config, &run.suite)
        .is_some_and(|period| period >= MONTHLY);
    let (period, since) = if monthly {
        (
            Some("30d".to_string()),
            Some(chrono::Utc::now() - chrono::Duration::days(30)),
        )
    } else {
        (None, None)
    };
    let html = match ReviewReport::build(store, None, period, since)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            report::render(&r, Format::Html, Default::default()).map_err(|e| e.to_string())
        }) {
        Ok(html) => html,
        Err(e) => {
            tracing::warn!(run = run.id, error = %e, "cannot build the report of the run");
            return None;
        }
    };
    let dir = directory(store.state_dir());
    let name = format!(
        "report-{}-run{:06}-{}.html",
        run.started_at.format("%Y%m%dT%H%M%SZ"),
        run.id,
        sanitize(&run.suite)
    );
    let dated = dir.join(&name);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| write_whole(&dated, &html))
        .and_then(|()| write_whole(&latest(store.state_dir()), &html));
    if let Err(e) = written {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot write the report; the run's results are kept");
        return None;
    }
    prune(&dir, kept);
    tracing::info!(run = run.id, report = %dated.display(), "report written");
    Some(dated)
}

/// A suite name as a file-name part: letters, digits, `-`, `_` and `.` only.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_whole(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("html.partial");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Removes the oldest dated reports beyond `kept` (names sort by time).
fn prune(dir: &Path, kept: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut dated: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("report-") && n.ends_with(".html"))
        })
        .collect();
    dated.sort();
    let excess = dated.len().saturating_sub(kept);
    for old in dated.into_iter().take(excess) {
        if let Err(e) = std::fs::remove_file(&old) {
            tracing::warn!(path = %old.display(), error = %e, "cannot remove an old report");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_reports_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(
                dir.path()
                    .join(format!("report-2026010{i}T030000Z-run00000{i}-weekly.html")),
                "x",
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("latest.html"), "x").unwrap();
        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "latest.html",
                "report-20260103T030000Z-run000003-weekly.html",
                "report-20260104T030000Z-run000004-weekly.html"
            ]
        );
    }

    #[test]
    fn suite_names_make_safe_file_names() {
        assert_eq!(sanitize("web/api peak"), "web_api_peak");
    }
}
