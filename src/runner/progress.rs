//! Progress of a run: a bar on a terminal (stderr), structured log lines otherwise, so a
//! run under systemd or in CI stays quiet and greppable.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{BenchmarkPlan, RunObserver};
use crate::model::records::BenchmarkResult;

pub(crate) struct TerminalProgress {
    bar: Option<ProgressBar>,
}

impl TerminalProgress {
    /// A bar when stderr is a terminal, nothing otherwise.
    pub(crate) fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9} {msg:<22} [{bar:30}] {pos}/{len} samples",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar
        });
        TerminalProgress { bar }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl RunObserver for TerminalProgress {
    fn benchmark_started(&mut self, index: usize, total: usize, plan: &BenchmarkPlan) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(plan.options.samples as u64);
            bar.set_prefix(format!("[{}/{}]", index + 1, total));
            bar.set_message(plan.name.clone());
        }
    }

    fn sample_taken(&mut self, count: usize, target: usize) {
        if let Some(bar) = &self.bar {
            if count as u64 > bar.length().unwrap_or(0) {
                bar.set_length(count.max(target) as u64);
            }
            bar.set_position(count as u64);
        }
    }

    fn benchmark_finished(&mut self, result: &BenchmarkResult) {
        if let Some(bar) = &self.bar {
            bar.println(format!(
                "  {:<22} {}",
                result.benchmark,
                match result.status {
                    crate::model::records::BenchStatus::Ok => "done".to_string(),
                    other => other.as_str().to_string(),
                }
            ));
        }
    }
}

impl Drop for TerminalProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
