//! Which earlier runs a result is judged against: the baseline.
//!
//! A baseline is the last [`BASELINE_RUNS`] *clean*, comparable runs of the benchmark that
//! are no older than its **age limit**; fewer than [`MIN_BASELINE_RUNS`] of them and the
//! verdict is `insufficient_baseline`. Counting runs rather than days is what lets the
//! shipped calendars be judged at all: a weekly suite puts 4–5 runs in 30 days and a
//! monthly one 1, so a fixed 30-day window would never fill.
//!
//! The age limit follows the schedule: [`AGE_LIMIT_PERIODS`] periods of the most frequent
//! enabled suite that runs the benchmark (a weekly benchmark keeps runs for 12 weeks, a
//! monthly one for 12 months), never less than [`MIN_AGE_LIMIT_DAYS`] days; a benchmark in
//! no scheduled suite keeps runs for [`UNSCHEDULED_AGE_LIMIT_DAYS`] days. The limit only
//! retires runs so old that the host they describe may no longer exist; a count of 10
//! bounds the baseline long before it on a daily or hourly schedule.
//!
//! *Comparable* ([`comparable`]): same benchmark configuration (`config_hash`, which
//! covers the probe's kind, parameters and definition version) and the same hardware
//! lineage (`fingerprint`). *Clean* ([`clean`]): the benchmark succeeded with the full
//! sampling (not `--quick`). Runs on a busy host are kept: on a host that is always busy
//! they are its normal, and the verdict weighs the mismatch when a busy run meets a
//! baseline of quiet ones (`super::verdict`). And never part of a
//! regression ([`Exclusions`]): the runs of the open regression and of every regression
//! that ended other than by `baseline accept` stay out, so a step that came and went does
//! not widen the run-to-run spread that later verdicts are measured against. While a
//! regression is open, its baseline is frozen: every run since it opened stays out (those
//! that did not agree with it as much as those that did), and the age limit counts from the
//! run that opened it, so a regression open for months is still judged against the level
//! it fell from. The runs of an ended regression do not use up the age limit either: for
//! each one inside it, one more run from just beyond it may enter, so a step that came and
//! went leaves the next verdicts as many runs as a first step had. Runs before the
//! benchmark's baseline start (`baseline pin`, `reset`, `accept`) are not used.
//!
//! And not *outlying* while they are the latest: a run whose verdict found it worse than the
//! baseline (significant, and beyond the 95% run-to-run prediction bound) but not a
//! regression is held out while it and the runs after it form an unbroken streak of at most
//! [`HELD_OUTLYING_RUNS`]. A real step just above the tolerance, measured just below it by
//! one run's noise, would otherwise enter the baseline, widen its spread and lower its
//! level, and the next runs would no longer see the step. A streak longer than that is a
//! shift below the tolerance that stays: its runs then enter, so a baseline never freezes
//! on a small, accepted change.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
use crate::model::records::{BenchStatus, BenchmarkResult};
use crate::model::verdict::{Ending, Regression};
use crate::scheduler::Schedule;

/// Baseline runs used at most.
pub(crate) const BASELINE_RUNS: usize = 10;
/// Fewer baseline runs than this give `insufficient_baseline`.
pub(crate) const MIN_BASELINE_RUNS: usize = 5;
/// The latest runs are held out of the baseline while they are *outlying* (see the module
/// doc), up to this many in a row; a longer streak is the benchmark's new normal.
pub(crate) const HELD_OUTLYING_RUNS: usize = 3;
/// A baseline run may be this many schedule periods old.
pub(crate) const AGE_LIMIT_PERIODS: i32 = 12;
/// The age limit is never shorter than this.
pub(crate) const MIN_AGE_LIMIT_DAYS: i64 = 30;
/// Age limit of a benchmark that no enabled suite schedules (it only runs by hand).
pub(crate) const UNSCHEDULED_AGE_LIMIT_DAYS: i64 = 90;

/// The age limit of each benchmark's baseline runs.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeLimits {
    by_benchmark: HashMap<String, Duration>,
    unscheduled: Duration,
}

impl AgeLimits {
    /// The limits the config's schedules imply (see the module doc).
    pub fn from_config(config: &Config) -> AgeLimits {
        let (timezone, _) = crate::scheduler::timing(config, "");
        let now = Utc::now();
        let mut by_benchmark: HashMap<String, Duration> = HashMap::new();
        for suite in config.suites.values().filter(|s| s.enabled) {
            let Ok(schedule) = Schedule::new(
                &suite.name,
                &suite.schedule,
                timezone,
                std::time::Duration::ZERO,
            ) else {
                continue;
            };
            let Some(period) = longest_gap(&schedule, now) else {
                continue;
            };
            let limit = (period * AGE_LIMIT_PERIODS).max(Duration::days(MIN_AGE_LIMIT_DAYS));
            for benchmark in &suite.benchmarks {
                by_benchmark
                    .entry(benchmark.clone())
                    .and_modify(|l| *l = (*l).min(limit))
                    .or_insert(limit);
            }
        }
        AgeLimits {
            by_benchmark,
            unscheduled: Duration::days(UNSCHEDULED_AGE_LIMIT_DAYS),
        }
    }

    /// One limit for every benchmark (tests and the evaluation).
    pub fn fixed(limit: Duration) -> AgeLimits {
        AgeLimits {
            by_benchmark: HashMap::new(),
            unscheduled: limit,
        }
    }

    /// The age limit of `benchmark`'s baseline runs.
    pub fn of(&self, benchmark: &str) -> Duration {
        self.by_benchmark
            .get(benchmark)
            .copied()
            .unwrap_or(self.unscheduled)
    }
}

/// The longest gap between consecutive scheduled times over the next ones (a month's
/// schedule has gaps of 28–31 days; the limit must hold the longest).
/// The longest gap between two of `suite`'s next scheduled runs: a week for `weekly`, up to
/// 31 days for `monthly`; `None` for a suite that is disabled, unknown or never scheduled.
pub fn suite_period(config: &Config, suite: &str) -> Option<Duration> {
    let (timezone, _) = crate::scheduler::timing(config, "");
    let suite = config.suites.get(suite).filter(|s| s.enabled)?;
    let schedule = Schedule::new(
        &suite.name,
        &suite.schedule,
        timezone,
        std::time::Duration::ZERO,
    )
    .ok()?;
    longest_gap(&schedule, Utc::now())
}

fn longest_gap(schedule: &Schedule, from: DateTime<Utc>) -> Option<Duration> {
    let mut slots = Vec::new();
    let mut at = from;
    for _ in 0..13 {
        let next = schedule.next_slot_after(at)?;
        slots.push(next);
        at = next;
    }
    slots.windows(2).map(|w| w[1] - w[0]).max()
}

/// Runs that never enter a baseline, whatever their age.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Exclusions {
    /// The first run baselines may use (`baseline pin`, `reset`, `accept`).
    pub start: u64,
    /// Runs of every regression that ended other than accepted, from its first to its last
    /// regressing run.
    pub runs: HashSet<u64>,
    /// The first run of the open regression: no run from it on is used, and ages count
    /// from it.
    pub open_since: Option<u64>,
}

impl Exclusions {
    /// From the benchmark's baseline start, its open regression and its regression log.
    pub(crate) fn of<'a>(
        start: Option<u64>,
        open: Option<&Regression>,
        log: impl IntoIterator<Item = &'a Regression>,
    ) -> Exclusions {
        let mut runs = HashSet::new();
        for r in log {
            if r.ended.is_some() && r.ended != Some(Ending::Accepted) {
                runs.extend(r.first_run..=r.last_run);
            }
        }
        Exclusions {
            start: start.unwrap_or(0),
            runs,
            open_since: open.map(|r| r.first_run),
        }
    }

    fn allows(&self, run_id: u64) -> bool {
        run_id >= self.start
            && !self.runs.contains(&run_id)
            && self.open_since.is_none_or(|first| run_id < first)
    }
}

/// `earlier` may be compared with `result`: the same benchmark configuration on the same
/// hardware lineage.
pub(crate) fn comparable(earlier: &BenchmarkResult, result: &BenchmarkResult) -> bool {
    earlier.config_hash == result.config_hash && earlier.fingerprint == result.fingerprint
}

/// `result` measured what a baseline needs: it succeeded with full sampling.
pub(crate) fn clean(result: &BenchmarkResult) -> bool {
    result.status == BenchStatus::Ok && result.summary.is_some() && !result.quick
}

/// A run that could enter a baseline, as [`pick`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub run_id: u64,
    pub started_at: DateTime<Utc>,
    /// Comparable and clean (see the module doc).
    pub eligible: bool,
    /// Its verdict found it outlying (see the module doc).
    pub outlying: bool,
}

impl Candidate {
    /// `earlier` as a candidate for the baseline of `result`.
    pub(crate) fn of(
        earlier: &BenchmarkResult,
        result: &BenchmarkResult,
        outlying: bool,
    ) -> Candidate {
        Candidate {
            run_id: earlier.run_id,
            started_at: earlier.started_at,
            eligible: comparable(earlier, result) && clean(earlier),
            outlying,
        }
    }
}

/// The baseline of a run `run_id` starting at `at`: indices into `candidates` (every
/// stored result of the benchmark, oldest first) of at most [`BASELINE_RUNS`] eligible
/// earlier runs no older than `max_age`, outside `exclusions`, the newest ones, less a
/// trailing streak of at most [`HELD_OUTLYING_RUNS`] outlying runs. With an open regression,
/// ages count from the run that opened it.
pub(crate) fn pick(
    candidates: &[Candidate],
    run_id: u64,
    at: DateTime<Utc>,
    max_age: Duration,
    exclusions: &Exclusions,
) -> Vec<usize> {
    let reference = exclusions
        .open_since
        .and_then(|first| candidates.iter().find(|c| c.run_id == first))
        .map_or(at, |c| c.started_at.min(at));
    let since = reference - max_age;
    let earlier = |c: &&Candidate| c.eligible && c.run_id < run_id;
    // Runs of an ended regression do not use up the age limit: for each one inside it, one
    // more allowed run from just beyond it may enter, so a step that came and went leaves
    // the next verdicts as many runs as a first step had.
    let excluded_inside = candidates
        .iter()
        .filter(earlier)
        .filter(|c| c.started_at >= since && exclusions.runs.contains(&c.run_id))
        .count();
    let beyond: HashSet<u64> = candidates
        .iter()
        .rev()
        .filter(earlier)
        .filter(|c| c.started_at < since && exclusions.allows(c.run_id))
        .take(excluded_inside)
        .map(|c| c.run_id)
        .collect();
    let mut picked: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            earlier(c)
                && (c.started_at >= since || beyond.contains(&c.run_id))
                && exclusions.allows(c.run_id)
        })
        .map(|(i, _)| i)
        .collect();
    let streak = picked
        .iter()
        .rev()
        .take_while(|&&i| candidates[i].outlying)
        .count();
    if streak <= HELD_OUTLYING_RUNS {
        picked.truncate(picked.len() - streak);
    }
    let drop = picked.len().saturating_sub(BASELINE_RUNS);
    picked.drain(..drop);
    picked
}

/// When verdicts start, as `baseline show` says it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum NextVerdict {
    /// The next run is judged.
    Ready,
    /// The `runs`-th run from now is the first judged, at the scheduled time `at` when the
    /// benchmark is scheduled (assuming every run until then is clean).
    After {
        runs: usize,
        at: Option<DateTime<Utc>>,
    },
    /// Not within the next `scheduled_runs` scheduled runs (old runs age out faster than
    /// new ones arrive).
    Beyond { scheduled_runs: usize },
}

/// When the first verdict comes: the baseline now holds runs started at `baseline_times`;
/// the next runs come at `upcoming` (scheduled times, soonest first; empty when the
/// benchmark only runs by hand). A run at time `t` is judged when at least
/// [`MIN_BASELINE_RUNS`] of the runs before it are no older than `max_age` at `t`.
pub(crate) fn next_verdict(
    baseline_times: &[DateTime<Utc>],
    max_age: Duration,
    upcoming: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> NextVerdict {
    if baseline_times.len() >= MIN_BASELINE_RUNS
        && baseline_times
            .iter()
            .filter(|t| **t >= upcoming.first().copied().unwrap_or(now) - max_age)
            .count()
            >= MIN_BASELINE_RUNS
    {
        return NextVerdict::Ready;
    }
    if upcoming.is_empty() {
        // By hand, back to back: the runs still missing.
        let within = baseline_times
            .iter()
            .filter(|t| **t >= now - max_age)
            .count();
        return NextVerdict::After {
            runs: MIN_BASELINE_RUNS.saturating_sub(within) + 1,
            at: None,
        };
    }
    for (k, &at) in upcoming.iter().enumerate() {
        let kept = baseline_times
            .iter()
            .filter(|t| **t >= at - max_age)
            .count()
            + upcoming[..k].iter().filter(|t| **t >= at - max_age).count();
        if kept >= MIN_BASELINE_RUNS {
            return NextVerdict::After {
                runs: k + 1,
                at: Some(at),
            };
        }
    }
    NextVerdict::Beyond {
        scheduled_runs: upcoming.len(),
    }
}

/// The next `count` scheduled times of `benchmark` over the enabled suites of `config`
/// (with the host's splay), soonest first.
pub(crate) fn upcoming_runs(
    config: &Config,
    benchmark: &str,
    after: DateTime<Utc>,
    count: usize,
) -> Vec<DateTime<Utc>> {
    let (timezone, splay) = crate::scheduler::timing(config, &crate::scheduler::splay::host_id());
    let mut times = Vec::new();
    for suite in config
        .suites
        .values()
        .filter(|s| s.enabled && s.benchmarks.iter().any(|b| b == benchmark))
    {
        let Ok(schedule) = Schedule::new(&suite.name, &suite.schedule, timezone, splay) else {
            continue;
        };
        let mut at = after;
        for _ in 0..count {
            let Some(slot) = schedule.next_slot_after(at) else {
                break;
            };
            times.push(schedule.due(slot));
            at = slot;
        }
    }
    times.sort();
    times.dedup();
    times.truncate(count);
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly_times(n: usize, from: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        (0..n).map(|i| from + Duration::weeks(i as i64)).collect()
    }

    /// Runs 1, 2, … at `times`, all eligible.
    fn eligible_runs(times: &[DateTime<Utc>]) -> Vec<Candidate> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| Candidate {
                run_id: i as u64 + 1,
                started_at: *t,
                eligible: true,
                outlying: false,
            })
            .collect()
    }

    #[test]
    fn outlying_runs_are_held_out_while_they_are_the_latest_three_at_most() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let times = weekly_times(20, start);
        let mut candidates = eligible_runs(&times);
        // Runs 12–15 are outlying, the others normal.
        for c in candidates
            .iter_mut()
            .filter(|c| (12..=15).contains(&c.run_id))
        {
            c.outlying = true;
        }
        let none = Exclusions::default();
        let runs = |run: u64| -> Vec<u64> {
            pick(
                &candidates,
                run,
                times[run as usize - 1],
                Duration::weeks(12),
                &none,
            )
            .iter()
            .map(|&i| candidates[i].run_id)
            .collect()
        };
        // Run 13 and 15: the streak before them (1 and 3 runs) is held out.
        assert_eq!(runs(13), (2..=11).collect::<Vec<u64>>());
        assert_eq!(runs(15), (3..=11).collect::<Vec<u64>>(), "run 2 aged out");
        // Run 16: four in a row are the new normal and enter.
        assert_eq!(runs(16), (6..=15).collect::<Vec<u64>>());
        // Run 17: a normal run 16 ends the streak; the outlying runs before it count.
        assert_eq!(runs(17), (7..=16).collect::<Vec<u64>>());
    }

    #[test]
    fn the_shipped_schedules_get_limits_that_hold_ten_runs() {
        let limits = AgeLimits::from_config(&Config::embedded());
        // In the daily suite (and the others): 12 days, raised to the 30-day floor.
        assert_eq!(
            limits.of("cpu-primes-1t"),
            Duration::days(MIN_AGE_LIMIT_DAYS)
        );
        // In the weekly suite and the monthly one: the weekly cadence decides.
        assert_eq!(limits.of("cpu-simd"), Duration::weeks(12));
        // Only in the monthly suite: 12 months of 31 days at most.
        let monthly_only = Config::embedded().suites["monthly"]
            .benchmarks
            .iter()
            .find(|b| !Config::embedded().suites["weekly"].benchmarks.contains(b))
            .cloned()
            .expect("a monthly-only benchmark");
        assert_eq!(limits.of(&monthly_only), Duration::days(31 * 12));
        assert_eq!(
            limits.of("by-hand"),
            Duration::days(UNSCHEDULED_AGE_LIMIT_DAYS)
        );
    }

    #[test]
    fn weekly_runs_fill_a_baseline_by_the_sixth_run() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let times = weekly_times(8, start);
        let candidates = eligible_runs(&times);
        let none = Exclusions::default();
        for (i, t) in times.iter().enumerate() {
            let picked = pick(&candidates, i as u64 + 1, *t, Duration::weeks(12), &none);
            assert_eq!(picked.len(), i, "run {} at {t}", i + 1);
        }
        // A 30-day window would have kept 4 at most.
        let picked = pick(&candidates, 8, times[7], Duration::days(30), &none);
        assert_eq!(picked.len(), 4);
    }

    #[test]
    fn regression_runs_stay_out_unless_accepted() {
        let regression = |runs: Vec<u64>, ended: Option<Ending>| Regression {
            benchmark: "b".into(),
            suite: "s".into(),
            config_hash: "h".into(),
            fingerprint: "f".into(),
            state: crate::model::verdict::RegressionState::Confirmed,
            severity: crate::model::verdict::Severity::Minor,
            first_run: runs[0],
            last_run: *runs.last().unwrap(),
            runs,
            worse_change: None,
            worse_change_low: None,
            baseline_median: None,
            current_median: None,
            explanation: String::new(),
            ended,
            ended_run: None,
            recovering_runs: 0,
            cause: None,
            changes: Vec::new(),
        };
        let open = regression(vec![9, 11], None);
        let log = [
            regression(vec![3, 4], Some(Ending::Resolved)),
            regression(vec![6], Some(Ending::Accepted)),
            // The open one is in the log too, not ended.
            regression(vec![9, 11], None),
        ];
        let e = Exclusions::of(Some(2), Some(&open), &log);
        let allowed: Vec<u64> = (1..=12).filter(|r| e.allows(*r)).collect();
        assert_eq!(allowed, vec![2, 5, 6, 7, 8]);
    }

    #[test]
    fn runs_of_an_ended_regression_do_not_use_up_the_age_limit() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let times = weekly_times(20, start);
        let candidates = eligible_runs(&times);
        // Runs 11–16 were a regression that resolved; run 20 is 19 weeks after run 1.
        let e = Exclusions {
            runs: (11..=16).collect(),
            ..Exclusions::default()
        };
        let runs: Vec<u64> = pick(&candidates, 20, times[19], Duration::weeks(12), &e)
            .iter()
            .map(|&i| candidates[i].run_id)
            .collect();
        // The 12-week window holds runs 8–19, six of them excluded: runs 2–7 from beyond
        // it take their places; the newest 10 are kept.
        assert_eq!(runs, vec![4, 5, 6, 7, 8, 9, 10, 17, 18, 19]);
    }

    #[test]
    fn an_open_regression_keeps_the_baseline_it_fell_from() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let times = weekly_times(40, start);
        let candidates = eligible_runs(&times);
        // Open since run 11; run 40 comes 29 weeks later, far past the 12-week limit.
        let open = Exclusions {
            open_since: Some(11),
            ..Exclusions::default()
        };
        let picked = pick(&candidates, 40, times[39], Duration::weeks(12), &open);
        let runs: Vec<u64> = picked.iter().map(|&i| candidates[i].run_id).collect();
        assert_eq!(runs, (1..=10).collect::<Vec<u64>>());
    }

    #[test]
    fn the_next_verdict_counts_scheduled_runs_and_ageing() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let now = start + Duration::weeks(2) + Duration::days(1);
        let upcoming = weekly_times(10, start + Duration::weeks(3));
        // Three weekly runs so far: the 3rd run from now has 5 before it.
        let done = weekly_times(3, start);
        assert_eq!(
            next_verdict(&done, Duration::weeks(12), &upcoming, now),
            NextVerdict::After {
                runs: 3,
                at: Some(upcoming[2])
            }
        );
        // Under a 30-day limit the old runs age out and it never fills.
        assert_eq!(
            next_verdict(&done, Duration::days(30), &upcoming, now),
            NextVerdict::Beyond { scheduled_runs: 10 }
        );
        let done = weekly_times(5, start);
        assert_eq!(
            next_verdict(&done, Duration::weeks(12), &upcoming, now),
            NextVerdict::Ready
        );
        // By hand: runs still missing, no time.
        assert_eq!(
            next_verdict(&weekly_times(2, start), Duration::weeks(12), &[], now),
            NextVerdict::After { runs: 4, at: None }
        );
    }
}
