//! `scan.tree` — directory walking speed (what backup agents, indexers, `find` and
//! `du` do).
//!
//! **Operation:** visit one file: one directory-entry read plus one `lstat` of the entry,
//! as `find -printf '%s'` does, through `walkdir`. One iteration walks the whole tree; the
//! units are the files (non-directories) visited. By default the tree is generated in the
//! scratch folder (`files` files, 20 per directory, 3 levels of fan-out 10 — shaped like a
//! source checkout) so results are comparable across hosts; `path` walks a real directory
//! instead (capped at `max_files` entries per walk so a huge tree cannot blow the time
//! budget).
//!
//! **Unit:** files per second. **Direction:** higher is better.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanTreeConfig {
    /// A real directory to walk; when absent a tree is generated in scratch.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Files in the generated tree.
    #[serde(default = "default_files")]
    pub files: usize,
    /// Stop each walk after this many entries (real paths only).
    #[serde(default = "default_max_files")]
    pub max_files: usize,
}

fn default_files() -> usize {
    10_000
}
fn default_max_files() -> usize {
    200_000
}

impl ScanTreeConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(path) = &self.path {
            match fs::metadata(path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => problems.push((
                    "path".into(),
                    format!(
                        "{} is not a directory; give a directory to walk, or remove `path` to scan a generated tree",
                        path.display()
                    ),
                )),
                Err(e) => problems.push((
                    "path".into(),
                    format!(
                        "{} cannot be read ({e}); give an existing directory, or remove `path` to scan a generated tree",
                        path.display()
                    ),
                )),
            }
        }
        if !(1..=1_000_000).contains(&self.files) {
            problems.push(("files".into(), "must be between 1 and 1000000".into()));
        }
        if self.max_files == 0 {
            problems.push(("max_files".into(), "must be at least 1".into()));
        }
        problems
    }
}

pub(crate) struct ScanTree {
    config: ScanTreeConfig,
    root: PathBuf,
}

impl ScanTree {
    pub(crate) fn new(config: ScanTreeConfig) -> Self {
        ScanTree {
            config,
            root: PathBuf::new(),
        }
    }
}

/// Creates `files` empty-ish files, 20 per leaf directory, leaves spread over a tree of
/// fan-out 10.
fn generate_tree(root: &std::path::Path, files: usize) -> Result<(), WorkloadError> {
    const PER_DIR: usize = 20;
    for index in 0..files {
        let leaf = index / PER_DIR;
        let dir = root
            .join(format!("d{}", leaf % 10))
            .join(format!("d{}", (leaf / 10) % 10))
            .join(format!("d{}", leaf / 100));
        if index % PER_DIR == 0 {
            fs::create_dir_all(&dir)
                .map_err(|e| WorkloadError::io(format!("create {}", dir.display()), e))?;
        }
        let file = dir.join(format!("f{index}.rs"));
        fs::write(&file, b"// generated\n")
            .map_err(|e| WorkloadError::io(format!("write {}", file.display()), e))?;
    }
    Ok(())
}

impl Workload for ScanTree {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("file")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        match &self.config.path {
            Some(path) => {
                if !path.is_dir() {
                    return Err(WorkloadError::Invalid(format!(
                        "scan path {} is not a readable directory",
                        path.display()
                    )));
                }
                if let Err(e) = std::fs::read_dir(path) {
                    return Err(WorkloadError::Invalid(format!(
                        "scan path {} cannot be read: {e} (the agent runs as its own user; grant it read access, e.g. with a group or an ACL)",
                        path.display()
                    )));
                }
                self.root = path.clone();
            }
            None => {
                self.root = ctx.scratch_dir.join("scan-tree");
                generate_tree(&self.root, self.config.files)?;
            }
        }
        Ok(())
    }

    fn run(&mut self, iterations: u64, _: &mut LatencyRecorder) -> Result<f64, WorkloadError> {
        let mut files = 0usize;
        let mut unreadable = 0usize;
        let mut first_unreadable: Option<String> = None;
        for _ in 0..iterations {
            for entry in WalkDir::new(&self.root)
                .into_iter()
                .take(self.config.max_files)
            {
                // Unreadable entries in a real tree are skipped, as `find` reports and
                // goes on; they are not files visited.
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        unreadable += 1;
                        first_unreadable.get_or_insert_with(|| e.to_string());
                        continue;
                    }
                };
                if let Ok(meta) = entry.metadata() {
                    if !meta.is_dir() {
                        files += 1;
                    }
                    black_box(meta.len());
                }
            }
        }
        if files == 0 {
            return Err(WorkloadError::Invalid(match first_unreadable {
                Some(first) => format!(
                    "no file under {} could be read: {unreadable} entries were unreadable (first: {first})",
                    self.root.display()
                ),
                None => format!("no files found under {}", self.root.display()),
            }));
        }
        Ok(files as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tree_is_walked_completely() {
        let ctx = super::super::fake::test_context();
        let mut w = ScanTree::new(ScanTreeConfig {
            path: None,
            files: 250,
            max_files: 1000,
        });
        w.setup(&ctx).unwrap();
        assert_eq!(w.run(2, &mut LatencyRecorder::new()).unwrap(), 500.0);
    }

    #[test]
    fn missing_path_is_a_config_problem() {
        let problems = ScanTreeConfig {
            path: Some("/nonexistent/perfwarden".into()),
            files: 10,
            max_files: 10,
        }
        .validate();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.contains("cannot be read"), "{problems:?}");
    }

    #[test]
    fn a_tree_that_cannot_be_read_says_so_not_that_it_is_empty() {
        let ctx = super::super::fake::test_context();
        let dir = tempfile::tempdir().unwrap();
        let mut w = ScanTree::new(ScanTreeConfig {
            path: Some(dir.path().join("tree")),
            files: 10,
            max_files: 10,
        });
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        w.setup(&ctx).unwrap();
        // Gone between the setup and the walk: every entry is an error.
        std::fs::remove_dir(dir.path().join("tree")).unwrap();
        let error = w
            .run(1, &mut LatencyRecorder::new())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("could be read") && error.contains("unreadable"),
            "{error}"
        );
        let empty = tempfile::tempdir().unwrap();
        let mut w = ScanTree::new(ScanTreeConfig {
            path: Some(empty.path().to_path_buf()),
            files: 10,
            max_files: 10,
        });
        w.setup(&ctx).unwrap();
        let error = w
            .run(1, &mut LatencyRecorder::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("no files found"), "{error}");
    }
}
