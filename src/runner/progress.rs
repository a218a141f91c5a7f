//! Progress of a run: on a terminal (stderr) one bar for the whole suite, measured in time
//! — each benchmark counts for as long as it took last time (or its warm-up plus minimum
//! time when it never ran), so the bar moves evenly and its ETA means something — and a
//! line per benchmark as it finishes, as hyperfine prints them. Off a terminal nothing is
//! drawn: a run under systemd or in CI stays quiet and its logs greppable.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{BenchmarkPlan, RunObserver};
use crate::model::records::BenchmarkResult;

/// Says what one finished benchmark measured, in one line (handed in by the CLI, which
/// knows how results are written for people).
pub(crate) type DescribeResult = Box<dyn Fn(&BenchmarkResult) -> String + Send>;

pub(crate) struct TerminalProgress {
    bar: Option<ProgressBar>,
    /// How long each benchmark took in its previous comparable run, by name.
    previous: HashMap<String, Duration>,
    describe: Option<DescribeResult>,
    /// Expected duration of each planned benchmark, in order.
    expected: Vec<Duration>,
    /// Expected time of the benchmarks already finished.
    done: Duration,
    current: usize,
    current_started: Instant,
}

impl TerminalProgress {
    /// A bar when stderr is a terminal, nothing otherwise. `previous` are the durations of
    /// the benchmarks' last runs; `describe` writes each finished benchmark's line.
    pub(crate) fn new(
        previous: HashMap<String, Duration>,
        describe: Option<DescribeResult>,
    ) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9} {msg:<24} [{bar:30}] {elapsed} elapsed, about {eta} left",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        TerminalProgress {
            bar,
            previous,
            describe,
            expected: Vec::new(),
            done: Duration::ZERO,
            current: 0,
            current_started: Instant::now(),
        }
    }

    /// What a benchmark is expected to take: its last duration, else warm-up plus minimum
    /// time, never more than its time budget.
    fn expect(&self, plan: &BenchmarkPlan) -> Duration {
        let o = &plan.options;
        let first_time = (o.warmup + o.min_time).min(o.time_budget);
        self.previous
            .get(&plan.name)
            .copied()
            .unwrap_or(first_time)
            .max(Duration::from_millis(10))
    }

    fn position(&self) -> u64 {
        let expected = self.expected.get(self.current).copied().unwrap_or_default();
        // Within a benchmark the bar follows the clock, stopping just short of its share
        // when the benchmark runs longer than expected.
        let within = self.current_started.elapsed().min(expected.mul_f64(0.98));
        (self.done + within).as_millis() as u64
    }
}

impl RunObserver for TerminalProgress {
    fn suite_planned(&mut self, plans: &[BenchmarkPlan]) {
        self.expected = plans.iter().map(|p| self.expect(p)).collect();
        if let Some(bar) = &self.bar {
            let total: Duration = self.expected.iter().sum();
            bar.set_length(total.as_millis().max(1) as u64);
            bar.reset_eta();
        }
    }

    fn benchmark_started(&mut self, index: usize, total: usize, plan: &BenchmarkPlan) {
        self.current = index;
        self.current_started = Instant::now();
        if let Some(bar) = &self.bar {
            bar.set_prefix(format!("[{}/{}]", index + 1, total));
            bar.set_message(plan.name.clone());
            bar.set_position(self.position());
        }
    }

    fn sample_taken(&mut self, _count: usize, _target: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.position());
        }
    }

    fn benchmark_finished(&mut self, result: &BenchmarkResult) {
        self.done += self.expected.get(self.current).copied().unwrap_or_default();
        if let Some(bar) = &self.bar {
            bar.set_position(self.done.as_millis() as u64);
            let line = match &self.describe {
                Some(describe) => describe(result),
                None => format!("{} {}", result.benchmark, result.status.as_str()),
            };
            bar.println(format!("  {line}"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric::MetricDef;
    use crate::model::options::BenchOptions;
    use crate::workload::fake::{FakeClock, FakeStep, FakeWorkload};

    fn plan(name: &str) -> BenchmarkPlan {
        BenchmarkPlan {
            name: name.into(),
            kind: "fake".into(),
            config_hash: "h".into(),
            options: BenchOptions {
                samples: 5,
                warmup: Duration::from_secs(1),
                min_time: Duration::from_secs(2),
                time_budget: Duration::from_secs(60),
                timeout: Duration::from_secs(120),
                tolerance: 0.05,
                major: 0.15,
                critical: 0.3,
                slo: Vec::new(),
            },
            workload: Box::new(FakeWorkload::new(
                MetricDef::duration("op"),
                FakeClock::new(),
                vec![FakeStep::Take(Duration::from_micros(1))],
            )),
        }
    }

    #[test]
    fn the_suite_is_expected_to_take_what_its_benchmarks_took_last_time() {
        let previous = HashMap::from([("known".to_string(), Duration::from_secs(30))]);
        let mut progress = TerminalProgress::new(previous, None);
        progress.suite_planned(&[plan("known"), plan("new")]);
        assert_eq!(
            progress.expected,
            vec![Duration::from_secs(30), Duration::from_secs(3)],
            "a known benchmark its last duration, a new one warm-up + min_time"
        );
    }
}
