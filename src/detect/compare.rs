//! Relative change of a result against earlier comparable results.
//!
//! *Comparable* means: same benchmark, same workload config hash (kind and parameters),
//! same hardware fingerprint, status `ok`, earlier run (whatever its age: this is the change
//! since the previous runs, shown next to the verdict, which has its own baseline). The
//! baseline is the pooled samples of the last [`BASELINE_RUNS`] such runs; the change is
//! `median(current) / median(baseline) − 1` with a seeded two-sample percentile bootstrap
//! 95% interval (see `stats::bootstrap`). The assessment says whether the move is in the
//! metric's worse or better direction, or whether the interval contains zero.

use serde::{Deserialize, Serialize};

use crate::model::metric::Direction;
use crate::model::records::{BenchStatus, BenchmarkResult, RunRecord};
use crate::runner::fingerprint::changed_fields;
use crate::stats::{self, Interval};
use crate::store::{Store, StoreError};

/// Previous comparable runs pooled into the baseline.
pub(crate) const BASELINE_RUNS: usize = 5;
const RESAMPLES: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    /// The interval lies entirely on the worse side of zero.
    Worse,
    /// The interval lies entirely on the better side of zero.
    Better,
    /// The interval contains zero: no change distinguishable from noise.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Runs whose samples form the baseline, oldest first.
    pub baseline_runs: Vec<u64>,
    pub baseline_median: f64,
    pub current_median: f64,
    /// `current / baseline − 1` (signed; see `assessment` for worse or better).
    pub relative: f64,
    /// 95% bootstrap interval of `relative`.
    pub interval: Option<Interval>,
    pub assessment: Assessment,
}

impl Change {
    /// Change from `baseline` samples to `current` samples of a metric with `direction`.
    pub(crate) fn between(
        baseline_runs: Vec<u64>,
        baseline: &[f64],
        current: &[f64],
        direction: Direction,
        seed: u64,
    ) -> Option<Change> {
        if baseline.is_empty() || current.is_empty() {
            return None;
        }
        let baseline_median = stats::median(baseline);
        let current_median = stats::median(current);
        if baseline_median == 0.0 {
            return None;
        }
        let relative = current_median / baseline_median - 1.0;
        let interval =
            stats::bootstrap_relative_change_ci(baseline, current, 0.95, RESAMPLES, seed);
        let assessment = match interval {
            Some(ci) if ci.low > 0.0 || ci.high < 0.0 => {
                if direction.is_worse(0.0, relative) {
                    Assessment::Worse
                } else {
                    Assessment::Better
                }
            }
            _ => Assessment::Unchanged,
        };
        Some(Change {
            baseline_runs,
            baseline_median,
            current_median,
            relative,
            interval,
            assessment,
        })
    }
}

/// A bootstrap seed from a starting state and a benchmark name (FNV-1a style mixing), so
/// that each (run, benchmark) pair always resamples the same way.
pub(crate) fn bootstrap_seed(init: u64, benchmark: &str) -> u64 {
    benchmark.bytes().fold(init, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn seed_for(run_id: u64, benchmark: &str) -> u64 {
    bootstrap_seed(run_id.wrapping_mul(0x9E37_79B9_7F4A_7C15), benchmark)
}

fn usable(result: &BenchmarkResult) -> bool {
    result.status == BenchStatus::Ok && result.summary.is_some()
}

/// Change of `result` against the previous comparable runs, if there are any.
pub fn change_against_history(
    store: &Store,
    result: &BenchmarkResult,
) -> Result<Option<Change>, StoreError> {
    if result.summary.is_none() {
        return Ok(None);
    }
    let mut comparable = store.results_before(result, BASELINE_RUNS, |r| {
        r.config_hash == result.config_hash && r.fingerprint == result.fingerprint && usable(r)
    })?;
    if comparable.is_empty() {
        return Ok(None);
    }
    comparable.reverse();
    let mut baseline = Vec::new();
    for r in &comparable {
        baseline.extend(store.samples(r.run_id, &r.benchmark)?);
    }
    let current = store.samples(result.run_id, &result.benchmark)?;
    Ok(Change::between(
        comparable.iter().map(|r| r.run_id).collect(),
        &baseline,
        &current,
        result.metric.direction,
        seed_for(result.run_id, &result.benchmark),
    ))
}

/// Per-benchmark change from run `a` to run `b` (benchmarks present in both).
pub fn compare_runs(
    store: &Store,
    a: &RunRecord,
    b: &RunRecord,
) -> Result<Vec<(BenchmarkResult, BenchmarkResult, Option<Change>)>, StoreError> {
    let results_a = store.results(a.id)?;
    let results_b = store.results(b.id)?;
    let mut rows = Vec::new();
    for rb in results_b {
        let Some(ra) = results_a.iter().find(|r| r.benchmark == rb.benchmark) else {
            continue;
        };
        let change = if usable(ra) && usable(&rb) && ra.config_hash == rb.config_hash {
            let sa = store.samples(a.id, &ra.benchmark)?;
            let sb = store.samples(b.id, &rb.benchmark)?;
            Change::between(
                vec![a.id],
                &sa,
                &sb,
                rb.metric.direction,
                seed_for(b.id, &rb.benchmark),
            )
        } else {
            None
        };
        rows.push((ra.clone(), rb, change));
    }
    Ok(rows)
}

/// What changed on the host since the suite's previous run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentChange {
    pub previous_run: u64,
    pub previous_fingerprint: String,
    pub fingerprint: String,
    /// Hardware fields that differ: a new baseline lineage (empty when only the software
    /// changed).
    pub changed_fields: Vec<String>,
    /// The software that changed: measured against the old baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<crate::model::records::EnvironmentDiff>,
}

impl EnvironmentChange {
    /// The hardware changed (a new lineage), not only the software.
    pub fn hardware_changed(&self) -> bool {
        self.previous_fingerprint != self.fingerprint
    }
}

/// A benchmark's level on the hardware before a change and on the new one: information
/// shown next to the first runs of a new lineage, never judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardwareLevels {
    pub previous_fingerprint: String,
    /// Runs on the previous hardware whose medians give its level, oldest first.
    pub previous_runs: Vec<u64>,
    /// Median of those runs' medians.
    pub before_median: f64,
    /// This run's median.
    pub after_median: f64,
    /// `after / before − 1`, signed (the metric's direction says which way is worse).
    pub relative: f64,
}

/// `result`'s level against the last [`BASELINE_RUNS`] successful runs of the same
/// configuration on the hardware `previous_fingerprint`.
pub fn level_on_previous_hardware(
    store: &Store,
    result: &BenchmarkResult,
    previous_fingerprint: &str,
) -> Result<Option<HardwareLevels>, StoreError> {
    let Some(after) = result.summary.as_ref().map(|s| s.median) else {
        return Ok(None);
    };
    let history = store.history(&result.benchmark, None)?;
    let before: Vec<&BenchmarkResult> = history
        .iter()
        .filter(|r| {
            r.run_id < result.run_id
                && r.config_hash == result.config_hash
                && r.fingerprint == previous_fingerprint
                && usable(r)
        })
        .collect();
    let before = &before[before.len().saturating_sub(BASELINE_RUNS)..];
    let medians: Vec<f64> = before
        .iter()
        .filter_map(|r| r.summary.as_ref().map(|s| s.median))
        .collect();
    if medians.is_empty() {
        return Ok(None);
    }
    let before_median = stats::median(&medians);
    Ok(Some(HardwareLevels {
        previous_fingerprint: previous_fingerprint.to_string(),
        previous_runs: before.iter().map(|r| r.run_id).collect(),
        before_median,
        after_median: after,
        relative: after / before_median - 1.0,
    }))
}

/// Whether `run`'s hardware or software differs from the previous run of the same suite.
pub fn environment_change(
    store: &Store,
    run: &RunRecord,
) -> Result<Option<EnvironmentChange>, StoreError> {
    let previous = store
        .runs(Some(&run.suite), None)?
        .into_iter()
        .find(|r| r.id < run.id);
    let Some(previous) = previous else {
        return Ok(None);
    };
    let (software, fields) =
        differences(store, &previous, run, &mut |hash| store.environment(hash))?;
    if previous.fingerprint == run.fingerprint && software.is_none() {
        return Ok(None);
    }
    Ok(Some(EnvironmentChange {
        previous_run: previous.id,
        previous_fingerprint: previous.fingerprint,
        fingerprint: run.fingerprint.clone(),
        changed_fields: fields,
        software,
    }))
}

/// What changed between run `before` and `run`: the software (`None` when nothing did, or
/// an environment is not recorded) and the hardware fields (empty when the hardware is the
/// same; `["fingerprint"]` when a fingerprint record is missing). `environment` reads a
/// stored software environment by hash.
fn differences(
    store: &Store,
    before: &RunRecord,
    run: &RunRecord,
    environment: &mut dyn FnMut(
        &str,
    ) -> Result<
        Option<crate::model::records::SoftwareEnvironment>,
        StoreError,
    >,
) -> Result<(Option<crate::model::records::EnvironmentDiff>, Vec<String>), StoreError> {
    let software = match (&before.environment, &run.environment) {
        (Some(old), Some(new)) if old != new => match (environment(old)?, environment(new)?) {
            (Some(old), Some(new)) => crate::runner::environment::diff(before.id, &old, &new),
            _ => None,
        },
        _ => None,
    };
    let hardware = if before.fingerprint == run.fingerprint {
        Vec::new()
    } else {
        match (
            store.fingerprint(&before.fingerprint)?,
            store.fingerprint(&run.fingerprint)?,
        ) {
            (Some(old), Some(new)) => changed_fields(&old, &new),
            _ => vec!["fingerprint".to_string()],
        }
    };
    Ok((software, hardware))
}

/// One run at which something changed on the host since the run before it (any suite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostChange {
    pub run_id: u64,
    pub suite: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The software that changed (field, before, after).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<crate::model::records::EnvironmentDiff>,
    /// Hardware fields that changed (a new baseline lineage); empty when none did.
    pub hardware: Vec<String>,
}

impl HostChange {
    /// What changed, in one line: "kernel 6.1.0-26 → 6.1.0-28; hardware: cpu_model".
    pub fn describe(&self) -> String {
        match (&self.software, self.hardware.is_empty()) {
            (Some(s), true) => s.summary(),
            (Some(s), false) => format!("{}; hardware: {}", s.summary(), self.hardware.join(", ")),
            (None, _) => format!("hardware: {}", self.hardware.join(", ")),
        }
    }
}

/// Every change on the host from run to run, oldest first; only runs started at or after
/// `since` are listed (the run before the first listed one is still compared with).
pub fn host_changes(
    store: &Store,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<HostChange>, StoreError> {
    let mut runs = store.runs(None, None)?;
    runs.sort_by_key(|r| r.id);
    let mut environments = std::collections::HashMap::new();
    let mut environment =
        |hash: &str| -> Result<Option<crate::model::records::SoftwareEnvironment>, StoreError> {
            if let Some(known) = environments.get(hash) {
                return Ok(Clone::clone(known));
            }
            let read = store.environment(hash)?;
            environments.insert(hash.to_string(), read.clone());
            Ok(read)
        };
    let mut out = Vec::new();
    for pair in runs.windows(2) {
        let (before, run) = (&pair[0], &pair[1]);
        if since.is_some_and(|s| run.started_at < s) {
            continue;
        }
        let (software, hardware) = differences(store, before, run, &mut environment)?;
        if software.is_some() || !hardware.is_empty() {
            out.push(HostChange {
                run_id: run.id,
                suite: run.suite.clone(),
                started_at: run.started_at,
                software,
                hardware,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_decides_worse_or_better() {
        let base: Vec<f64> = (0..30).map(|i| 100.0 + (i % 3) as f64).collect();
        let slower: Vec<f64> = base.iter().map(|v| v * 0.8).collect();
        let c = Change::between(vec![1], &base, &slower, Direction::HigherIsBetter, 1).unwrap();
        assert_eq!(c.assessment, Assessment::Worse);
        assert!((c.relative + 0.2).abs() < 1e-9);
        let c = Change::between(vec![1], &base, &slower, Direction::LowerIsBetter, 1).unwrap();
        assert_eq!(c.assessment, Assessment::Better);
    }

    #[test]
    fn noise_alone_is_unchanged() {
        let base: Vec<f64> = (0..30).map(|i| 100.0 + (i % 7) as f64).collect();
        let mut again = base.clone();
        again.reverse();
        let c = Change::between(vec![1], &base, &again, Direction::HigherIsBetter, 1).unwrap();
        assert_eq!(c.assessment, Assessment::Unchanged);
        assert_eq!(c.relative, 0.0);
    }
}
