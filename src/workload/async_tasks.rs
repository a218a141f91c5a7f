//! `async.tasks` — the cost of the async runtime services use: spawn a task, run it,
//! join it.
//!
//! **Operation:** one task spawned on a multi-threaded tokio runtime (`threads` workers,
//! default every CPU) and joined; each iteration spawns `batch` (default 1000) tasks that
//! each yield once, then awaits them all. **Unit:** tasks per second (higher is better).
//! The runtime is built once in `setup`, so its start-up is not measured.

use serde::{Deserialize, Serialize};

use crate::model::metric::MetricDef;
use crate::workload::{LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncTasksConfig {
    #[serde(default)]
    pub threads: Threads,
    #[serde(default = "default_batch")]
    pub batch: usize,
}

fn default_batch() -> usize {
    1000
}

impl AsyncTasksConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=1_000_000).contains(&self.batch) {
            problems.push(("batch".into(), "must be between 1 and 1000000".into()));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

pub(crate) struct AsyncTasks {
    config: AsyncTasksConfig,
    runtime: Option<tokio::runtime::Runtime>,
}

impl AsyncTasks {
    pub(crate) fn new(config: AsyncTasksConfig) -> Self {
        AsyncTasks {
            config,
            runtime: None,
        }
    }
}

impl Workload for AsyncTasks {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("task")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.config.threads.resolve(ctx.available_cpus))
            .thread_name("async-tasks")
            .build()
            .map_err(|e| WorkloadError::io("cannot build the tokio runtime", e))?;
        self.runtime = Some(runtime);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| WorkloadError::not_set_up("the tokio runtime"))?;
        let batch = self.config.batch;
        let joined = runtime.block_on(async move {
            let mut joined = 0u64;
            for _ in 0..iterations {
                let handles: Vec<_> = (0..batch)
                    .map(|i| {
                        tokio::spawn(async move {
                            tokio::task::yield_now().await;
                            std::hint::black_box(i)
                        })
                    })
                    .collect();
                for handle in handles {
                    if handle.await.is_ok() {
                        joined += 1;
                    }
                }
            }
            joined
        });
        Ok(joined as f64)
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spawned_task_is_joined() {
        let mut probe = AsyncTasks::new(AsyncTasksConfig {
            threads: Threads::Count(2),
            batch: 100,
        });
        probe
            .setup(&super::super::fake::context_in(std::env::temp_dir(), 2))
            .unwrap();
        assert_eq!(probe.run(3, &mut LatencyRecorder::new()).unwrap(), 300.0);
        probe.teardown().unwrap();
    }
}
