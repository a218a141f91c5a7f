//! `disk.mmap` — reading a file through a memory mapping, the way databases (LMDB, redb's
//! readers, search indexes) and the dynamic loader read.
//!
//! **Operation:** one byte of a `file_mib` file (default 256 MiB, written once in the
//! scratch folder during setup) read through a fresh read-only mapping: each iteration
//! maps the file (`MADV_SEQUENTIAL`), reads it as 64-bit words and unmaps it, so every
//! page is faulted into the mapping again from the page cache. **Unit:** bytes/s (higher
//! is better). What it measures is the kernel's mapping and page-cache path, not the
//! device: after the first pass the file is cached (as a hot index file would be).

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskMmapConfig {
    #[serde(default = "default_file_mib")]
    pub file_mib: usize,
}

fn default_file_mib() -> usize {
    256
}

impl DiskMmapConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        if (1..=16 * 1024).contains(&self.file_mib) {
            Vec::new()
        } else {
            vec![("file_mib".into(), "must be between 1 and 16384".into())]
        }
    }
}

pub(crate) struct DiskMmap {
    config: DiskMmapConfig,
    path: Option<PathBuf>,
    /// Opened once in `setup`; each pass maps it anew.
    file: Option<std::fs::File>,
    bytes: usize,
}

impl DiskMmap {
    pub(crate) fn new(config: DiskMmapConfig) -> Self {
        DiskMmap {
            config,
            path: None,
            file: None,
            bytes: 0,
        }
    }

    /// Maps the file, sums it as u64 words, unmaps it.
    fn read_once(&self, file: &std::fs::File) -> Result<u64, WorkloadError> {
        use std::os::fd::AsRawFd;
        // SAFETY: a read-only shared mapping of `bytes` bytes of an open file; checked for
        // MAP_FAILED, unmapped below, and read only within its length.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                self.bytes,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(WorkloadError::io(
                "cannot map the scratch file",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: advice on the mapping just made.
        unsafe { libc::madvise(address, self.bytes, libc::MADV_SEQUENTIAL) };
        // SAFETY: the mapping is `bytes` long, page-aligned (so u64-aligned), and the file
        // is not truncated while mapped (it is ours, in scratch).
        let words = unsafe { std::slice::from_raw_parts(address.cast::<u64>(), self.bytes / 8) };
        let sum = words.iter().fold(0u64, |a, w| a.wrapping_add(*w));
        // SAFETY: unmapping exactly the mapping above; `words` is not used after this.
        unsafe { libc::munmap(address, self.bytes) };
        Ok(sum)
    }
}

impl Workload for DiskMmap {
    fn metric(&self) -> MetricDef {
        MetricDef::bandwidth()
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let path = ctx.scratch_dir.join("mapped.bin");
        self.bytes = self.config.file_mib << 20;
        let mut file = std::fs::File::create(&path)
            .map_err(|e| WorkloadError::io(format!("cannot create {}", path.display()), e))?;
        let chunk: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..self.config.file_mib {
            if ctx.cancel.is_cancelled() {
                return Err(WorkloadError::Cancelled);
            }
            file.write_all(&chunk)
                .map_err(|e| WorkloadError::io(format!("cannot write {}", path.display()), e))?;
        }
        self.file = Some(
            std::fs::File::open(&path)
                .map_err(|e| WorkloadError::io(format!("cannot open {}", path.display()), e))?,
        );
        self.path = Some(path);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| WorkloadError::not_set_up("the scratch file"))?;
        let mut check = 0u64;
        for _ in 0..iterations {
            check = check.wrapping_add(self.read_once(file)?);
        }
        std::hint::black_box(check);
        Ok((self.bytes as u64 * iterations) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_of_the_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut probe = DiskMmap::new(DiskMmapConfig { file_mib: 1 });
        probe
            .setup(&super::super::fake::context_in(dir.path().to_path_buf(), 1))
            .unwrap();
        let file = std::fs::File::open(probe.path.as_ref().unwrap()).unwrap();
        let bytes = std::fs::read(probe.path.as_ref().unwrap()).unwrap();
        let expected = bytes
            .chunks_exact(8)
            .map(|w| u64::from_ne_bytes(w.try_into().unwrap()))
            .fold(0u64, |a, w| a.wrapping_add(w));
        assert_eq!(probe.read_once(&file).unwrap(), expected);
        assert_eq!(
            probe.run(2, &mut LatencyRecorder::new()).unwrap(),
            (2 << 20) as f64
        );
    }
}
