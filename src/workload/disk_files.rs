//! `disk.files` — small-file durability cost, the pattern of queues, spools and databases
//! that fsync what they write.
//!
//! **Operation:** one file lifecycle in a scratch folder under the state directory:
//! create, write `file_kib` (default 4 KiB), fsync, read back, delete. Each iteration runs
//! `files` (default 100) lifecycles concurrently on `min(files, workers)` threads, like
//! fio's `--numjobs` with `--fsync=1`. The latency recorded is that of a whole lifecycle.
//!
//! **Unit:** file lifecycles per second (`files/s`), plus lifecycle latency percentiles.
//! **Direction:** higher is better. The scratch folder is removed by the runner after the
//! benchmark whatever happened, and stale ones from a crashed run are removed at start.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskFilesConfig {
    /// Concurrent lifecycles per iteration.
    #[serde(default = "default_files")]
    pub files: usize,
    #[serde(default = "default_file_kib")]
    pub file_kib: usize,
    /// Threads doing the lifecycles (default: up to 16).
    #[serde(default = "default_workers")]
    pub workers: usize,
    #[serde(default = "default_true")]
    pub fsync: bool,
}

fn default_files() -> usize {
    100
}
fn default_file_kib() -> usize {
    4
}
fn default_workers() -> usize {
    16
}
fn default_true() -> bool {
    true
}

impl DiskFilesConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=10_000).contains(&self.files) {
            problems.push(("files".into(), "must be between 1 and 10000".into()));
        }
        if !(1..=65_536).contains(&self.file_kib) {
            problems.push(("file_kib".into(), "must be between 1 and 65536".into()));
        }
        if !(1..=256).contains(&self.workers) {
            problems.push(("workers".into(), "must be between 1 and 256".into()));
        }
        problems
    }
}

pub(crate) struct DiskFiles {
    config: DiskFilesConfig,
    dir: PathBuf,
    payload: Vec<u8>,
}

impl DiskFiles {
    pub(crate) fn new(config: DiskFilesConfig) -> Self {
        DiskFiles {
            config,
            dir: PathBuf::new(),
            payload: Vec::new(),
        }
    }
}

fn lifecycle(path: &Path, payload: &[u8], fsync: bool) -> Result<(), WorkloadError> {
    let ctx = |what: &str| format!("{what} {}", path.display());
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| WorkloadError::io(ctx("create"), e))?;
    file.write_all(payload)
        .map_err(|e| WorkloadError::io(ctx("write"), e))?;
    if fsync {
        file.sync_all()
            .map_err(|e| WorkloadError::io(ctx("fsync"), e))?;
    }
    drop(file);
    let mut back = Vec::with_capacity(payload.len());
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut back))
        .map_err(|e| WorkloadError::io(ctx("read"), e))?;
    if back.len() != payload.len() {
        return Err(WorkloadError::Invalid(format!(
            "read back {} bytes of {} from {}",
            back.len(),
            payload.len(),
            path.display()
        )));
    }
    fs::remove_file(path).map_err(|e| WorkloadError::io(ctx("delete"), e))
}

impl Workload for DiskFiles {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("file")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.dir = ctx.scratch_dir.join("disk-files");
        fs::create_dir_all(&self.dir)
            .map_err(|e| WorkloadError::io(format!("create {}", self.dir.display()), e))?;
        self.payload = (0..self.config.file_kib * 1024)
            .map(|i| (i % 251) as u8)
            .collect();
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let files = self.config.files;
        let workers = self.config.workers.min(files).max(1);
        for iteration in 0..iterations {
            let next = AtomicUsize::new(0);
            let results: Vec<Result<LatencyRecorder, WorkloadError>> =
                std::thread::scope(|scope| {
                    let handles: Vec<_> = (0..workers)
                        .map(|_| {
                            scope.spawn(|| {
                                let mut local = LatencyRecorder::new();
                                loop {
                                    let index = next.fetch_add(1, Ordering::Relaxed);
                                    if index >= files {
                                        return Ok(local);
                                    }
                                    let path = self.dir.join(format!("f{iteration}-{index}.dat"));
                                    let start = Instant::now();
                                    lifecycle(&path, &self.payload, self.config.fsync)?;
                                    local.record_nanos(start.elapsed().as_nanos() as u64);
                                }
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(WorkloadError::Invalid("a worker thread panicked".into()))
                            })
                        })
                        .collect()
                });
            for result in results {
                latencies.merge(&result?);
            }
        }
        Ok((iterations as usize * files) as f64)
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        if self.dir.as_os_str().is_empty() || !self.dir.exists() {
            return Ok(());
        }
        fs::remove_dir_all(&self.dir)
            .map_err(|e| WorkloadError::io(format!("remove {}", self.dir.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycles_leave_nothing_behind_and_record_latency() {
        let ctx = super::super::fake::test_context();
        let mut w = DiskFiles::new(DiskFilesConfig {
            files: 8,
            file_kib: 1,
            workers: 3,
            fsync: false,
        });
        w.setup(&ctx).unwrap();
        let mut latencies = LatencyRecorder::new();
        assert_eq!(w.run(2, &mut latencies).unwrap(), 16.0);
        assert_eq!(latencies.summary().unwrap().count, 16);
        assert_eq!(fs::read_dir(&w.dir).unwrap().count(), 0);
        w.teardown().unwrap();
        assert!(!w.dir.exists());
    }
}
