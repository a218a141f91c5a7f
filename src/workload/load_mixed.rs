//! `load.mixed` — CPU, memory and disk I/O at once: how much each slows the others.
//!
//! Solo probes miss what production sees: a service computing, streaming memory and
//! writing its journal at the same time, contending for shared caches, the memory
//! controller, interrupts and the scheduler. A new kernel, a CPU microcode update, a
//! neighbour VM or a storage driver can leave every solo number alone and still make the
//! mix slower.
//!
//! **Operation:** three components, one thread each:
//! - `cpu`: sysbench prime events (the `cpu.primes` kernel, no shared memory);
//! - `memory`: 1 MiB copies walking two buffers of `memory_mib / 2` each (larger than the
//!   last-level cache, so they reach DRAM);
//! - `io`: `io_block_kib` writes cycling through an `io_file_mib` scratch file, each
//!   followed by `fdatasync` (unless `fsync = false`).
//!
//! Setup calibrates one *unit* of each component to take about the same time alone (at
//! least 1 ms, or one write and sync when that is slower), so no component dominates the
//! mix. Each sample runs `n` units of each component alone, one after the other, then all
//! three together (started behind a barrier; a component that finishes its `n` units
//! keeps working until the others are done, so every timed unit ran under contention).
//! **Value:** the geometric mean of the three slowdowns `t(mixed) / t(alone)`, lower is
//! better (1.0: no interference). Measurements: each component's slowdown over the run,
//! and its solo rate.
//!
//! On a host with fewer than three free CPUs the slowdown includes time-sharing; it is
//! still comparable run to run on the same host, which is what the verdicts compare.

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cpu_primes::sysbench_event;
use crate::model::metric::{Direction, Measurement, MetricDef, ResultDetails};
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadMixedConfig {
    /// Upper bound of the numbers tested per CPU event (as `cpu.primes`).
    #[serde(default = "super::cpu_primes::default_max_prime")]
    pub max_prime: u64,
    /// Memory the memory component copies through (two buffers of half each).
    #[serde(default = "default_memory_mib")]
    pub memory_mib: usize,
    /// Size of one write of the I/O component.
    #[serde(default = "default_io_block_kib")]
    pub io_block_kib: usize,
    /// Size of the scratch file the writes cycle through.
    #[serde(default = "default_io_file_mib")]
    pub io_file_mib: usize,
    /// `fdatasync` after every write (the journal pattern); `false` measures the page
    /// cache only.
    #[serde(default = "default_fsync")]
    pub fsync: bool,
}

fn default_memory_mib() -> usize {
    128
}
fn default_io_block_kib() -> usize {
    64
}
fn default_io_file_mib() -> usize {
    16
}
fn default_fsync() -> bool {
    true
}

impl LoadMixedConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.max_prime < 3 {
            problems.push(("max_prime".into(), "must be at least 3".into()));
        }
        if !(2..=4096).contains(&self.memory_mib) {
            problems.push(("memory_mib".into(), "must be between 2 and 4096".into()));
        }
        if !(4..=16 * 1024).contains(&self.io_block_kib) {
            problems.push(("io_block_kib".into(), "must be between 4 and 16384".into()));
        }
        if !(1..=4096).contains(&self.io_file_mib) {
            problems.push(("io_file_mib".into(), "must be between 1 and 4096".into()));
        } else if self.io_file_mib * 1024 < self.io_block_kib {
            problems.push((
                "io_file_mib".into(),
                "must hold at least one block of io_block_kib".into(),
            ));
        }
        problems
    }
}

const COMPONENTS: [&str; 3] = ["cpu", "memory", "io"];
const CHUNK: usize = 1 << 20;

/// One component's state and its work.
enum Component {
    Cpu {
        max_prime: u64,
    },
    Memory {
        from: Vec<u8>,
        to: Vec<u8>,
        offset: usize,
    },
    Io {
        file: File,
        block: Vec<u8>,
        file_len: u64,
        offset: u64,
        fsync: bool,
    },
}

impl Component {
    /// One base step: an event, a 1 MiB copy, or a write (and sync).
    fn step(&mut self) -> Result<(), WorkloadError> {
        match self {
            Component::Cpu { max_prime } => {
                black_box(sysbench_event(black_box(*max_prime)));
            }
            Component::Memory { from, to, offset } => {
                let end = *offset + CHUNK;
                to[*offset..end].copy_from_slice(&from[*offset..end]);
                black_box(&to[*offset]);
                *offset = if end + CHUNK > from.len() { 0 } else { end };
            }
            Component::Io {
                file,
                block,
                file_len,
                offset,
                fsync,
            } => {
                block[0] = block[0].wrapping_add(1);
                file.write_all_at(block, *offset)
                    .map_err(|e| WorkloadError::io("cannot write the scratch file", e))?;
                if *fsync {
                    file.sync_data()
                        .map_err(|e| WorkloadError::io("cannot sync the scratch file", e))?;
                }
                *offset += block.len() as u64;
                if *offset + block.len() as u64 > *file_len {
                    *offset = 0;
                }
            }
        }
        Ok(())
    }

    /// Bytes one step moves (0 for the CPU component).
    fn step_bytes(&self) -> usize {
        match self {
            Component::Cpu { .. } => 0,
            Component::Memory { .. } => CHUNK,
            Component::Io { block, .. } => block.len(),
        }
    }
}

/// A component with its calibrated unit (`steps` base steps).
struct Worker {
    component: Component,
    steps: u64,
    solo: Duration,
    mixed: Duration,
}

impl Worker {
    fn units(&mut self, units: u64) -> Result<(), WorkloadError> {
        for _ in 0..units * self.steps {
            self.component.step()?;
        }
        Ok(())
    }
}

pub(crate) struct LoadMixed {
    config: LoadMixedConfig,
    workers: Vec<Worker>,
    units: u64,
}

impl LoadMixed {
    pub(crate) fn new(config: LoadMixedConfig) -> Self {
        LoadMixed {
            config,
            workers: Vec::new(),
            units: 0,
        }
    }
}

/// The time one base step takes alone, from steps repeated for at least 20 ms.
fn step_time(component: &mut Component) -> Result<Duration, WorkloadError> {
    let started = Instant::now();
    let mut steps = 0u32;
    while started.elapsed() < Duration::from_millis(20) || steps < 3 {
        component.step()?;
        steps += 1;
    }
    Ok(started.elapsed() / steps)
}

/// Runs `units` of every worker at once; each worker's time for its own `units`. A worker
/// that is done keeps stepping until all are, so its units all ran beside the others.
fn run_mixed(workers: &mut [Worker], units: u64) -> Result<Vec<Duration>, WorkloadError> {
    let barrier = Barrier::new(workers.len());
    let done = AtomicUsize::new(0);
    let count = workers.len();
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .iter_mut()
            .map(|worker| {
                let (barrier, done) = (&barrier, &done);
                scope.spawn(move || -> Result<Duration, WorkloadError> {
                    barrier.wait();
                    let started = Instant::now();
                    let outcome = worker.units(units);
                    let elapsed = started.elapsed();
                    done.fetch_add(1, Ordering::AcqRel);
                    outcome?;
                    while done.load(Ordering::Acquire) < count {
                        worker.component.step()?;
                    }
                    Ok(elapsed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| WorkloadError::Invalid("a worker thread panicked".into()))?
            })
            .collect()
    })
}

fn geometric_mean(values: &[f64]) -> f64 {
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

impl Workload for LoadMixed {
    fn metric(&self) -> MetricDef {
        MetricDef::ratio("slowdown", Direction::LowerIsBetter)
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let half = (self.config.memory_mib << 20) / 2;
        let memory = Component::Memory {
            from: vec![0x5a; half],
            to: vec![0; half],
            offset: 0,
        };
        let path = ctx.scratch_dir.join("mixed-io.bin");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| WorkloadError::io(format!("cannot create {}", path.display()), e))?;
        let file_len = (self.config.io_file_mib as u64) << 20;
        file.set_len(file_len)
            .map_err(|e| WorkloadError::io(format!("cannot size {}", path.display()), e))?;
        let io = Component::Io {
            file,
            block: vec![0xa5; self.config.io_block_kib << 10],
            file_len,
            offset: 0,
            fsync: self.config.fsync,
        };
        let cpu = Component::Cpu {
            max_prime: self.config.max_prime,
        };
        let mut components = vec![cpu, memory, io];
        let mut times = Vec::with_capacity(components.len());
        for component in &mut components {
            if ctx.cancel.is_cancelled() {
                return Err(WorkloadError::Cancelled);
            }
            times.push(step_time(component)?);
        }
        let unit = times
            .iter()
            .copied()
            .max()
            .unwrap_or_default()
            .max(Duration::from_millis(1));
        self.workers = components
            .into_iter()
            .zip(times)
            .map(|(component, step)| Worker {
                component,
                steps: (unit.as_secs_f64() / step.as_secs_f64().max(1e-9))
                    .round()
                    .max(1.0) as u64,
                solo: Duration::ZERO,
                mixed: Duration::ZERO,
            })
            .collect();
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        if self.workers.is_empty() {
            return Err(WorkloadError::not_set_up("the components"));
        }
        let mut solo = Vec::with_capacity(self.workers.len());
        for worker in &mut self.workers {
            let started = Instant::now();
            worker.units(iterations)?;
            solo.push(started.elapsed());
        }
        let mixed = run_mixed(&mut self.workers, iterations)?;
        let mut slowdowns = Vec::with_capacity(solo.len());
        for ((worker, solo), mixed) in self.workers.iter_mut().zip(solo).zip(mixed) {
            worker.solo += solo;
            worker.mixed += mixed;
            slowdowns.push(mixed.as_secs_f64() / solo.as_secs_f64().max(1e-9));
        }
        self.units += iterations;
        Ok(geometric_mean(&slowdowns))
    }

    fn warmup_done(&mut self) {
        for worker in &mut self.workers {
            worker.solo = Duration::ZERO;
            worker.mixed = Duration::ZERO;
        }
        self.units = 0;
    }

    fn details(&mut self) -> Option<ResultDetails> {
        if self.units == 0 {
            return None;
        }
        let mut measurements = Vec::new();
        for (name, worker) in COMPONENTS.iter().zip(&self.workers) {
            let solo = worker.solo.as_secs_f64().max(1e-9);
            measurements.push(Measurement::new(
                &format!("{name}_slowdown"),
                worker.mixed.as_secs_f64() / solo,
                "1",
            ));
            let steps = (self.units * worker.steps) as f64;
            measurements.push(match worker.component.step_bytes() {
                0 => Measurement::new(&format!("{name}_solo_rate"), steps / solo, "{event}/s"),
                bytes => Measurement::new(
                    &format!("{name}_solo_rate"),
                    steps * bytes as f64 / solo,
                    "By/s",
                ),
            });
        }
        Some(ResultDetails {
            outcomes: None,
            measurements,
        })
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        // The runner removes the scratch folder with the file.
        self.workers.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LoadMixedConfig {
        LoadMixedConfig {
            max_prime: 2000,
            memory_mib: 8,
            io_block_kib: 16,
            io_file_mib: 1,
            fsync: false,
        }
    }

    #[test]
    fn components_are_calibrated_and_slowdowns_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut probe = LoadMixed::new(config());
        probe
            .setup(&super::super::fake::context_in(dir.path().to_path_buf(), 2))
            .unwrap();
        assert_eq!(probe.workers.len(), 3);
        assert!(probe.workers.iter().all(|w| w.steps >= 1));
        let mut latencies = LatencyRecorder::new();
        let value = probe.run(5, &mut latencies).unwrap();
        assert!(value.is_finite() && value > 0.0, "slowdown {value}");
        let details = probe.details().unwrap();
        let names: Vec<&str> = details
            .measurements
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "cpu_slowdown",
                "cpu_solo_rate",
                "memory_slowdown",
                "memory_solo_rate",
                "io_slowdown",
                "io_solo_rate"
            ]
        );
        // The scratch file was written where the runner will clean up.
        assert!(dir.path().join("mixed-io.bin").exists());
        probe.teardown().unwrap();
    }

    #[test]
    fn contention_shows_as_a_slowdown() {
        // Three CPU-bound workers per CPU cannot all run at once: the slowest takes well
        // over its time alone.
        let worker = || Worker {
            component: Component::Cpu { max_prime: 3000 },
            steps: 20,
            solo: Duration::ZERO,
            mixed: Duration::ZERO,
        };
        let started = Instant::now();
        worker().units(10).unwrap();
        let solo = started.elapsed();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut crowd: Vec<Worker> = (0..cpus * 3).map(|_| worker()).collect();
        let mixed = run_mixed(&mut crowd, 10).unwrap();
        let slowest = mixed.iter().max().unwrap();
        assert!(
            slowest.as_secs_f64() > 1.5 * solo.as_secs_f64(),
            "solo {solo:?}, mixed {mixed:?}"
        );
    }

    #[test]
    fn the_geometric_mean_of_equal_slowdowns_is_that_slowdown() {
        assert!((geometric_mean(&[2.0, 2.0, 2.0]) - 2.0).abs() < 1e-12);
        assert!((geometric_mean(&[1.0, 4.0]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_file_smaller_than_a_block_is_refused() {
        let mut bad = config();
        bad.io_block_kib = 4096;
        bad.io_file_mib = 1;
        assert_eq!(bad.validate()[0].0, "io_file_mib");
    }
}
