//! What the shipped schedules let the history analysis see within 30 days: seeded synthetic
//! histories of run medians on the default config's calendar, judged by the production
//! history analysis of a verdict (`super::verdict::series_findings`: change points over the
//! whole comparable history, drift over the trend window).
//!
//! **The calendar is the shipped one, read from the embedded default config**: a benchmark
//! runs at every scheduled time of every enabled suite that names it (Europe/Berlin, so
//! daylight-saving changes are crossed, plus a constant 17-minute splay), and its age limit
//! is the one the daemon derives from those schedules. Three benchmarks stand for the three
//! kinds the default config has: `cpu-primes-1t` (daily, weekly and monthly suites: ~35
//! runs in 30 days), `cpu-simd` (weekly and monthly: 5–6) and `cpu-sha256-all` (monthly
//! only: 1).
//!
//! Each history is a throughput (higher is better) at level 1000 with a year of stable
//! runs before the 30 days that matter, whose end is the moment judged. A run's median is
//! the median of 40 samples drawn as in `super::evaluation` (run-to-run noise, then
//! within-run noise), optionally with AR(1) run-to-run noise (a host whose state drifts
//! from run to run). Scenarios:
//! - *no change*: a drift flagged (either way) or a level shift found in the trend window,
//!   at the judged run: both false;
//! - *drift*: the level falls linearly from 30 days before the judged run, at a rate per 30
//!   days; found when the verdict's drift is flagged worse. The smallest rate of the grid
//!   found in at least 90% of trials is reported. Then what follows the first finding:
//!   while the drift goes on for 30 more days, the share of the runs in them that still
//!   flag it; when it stops at the judged run and the level holds, the share of trials
//!   where one trend window later (30 days, or 12 runs) the drift is no longer flagged;
//! - *step*: the level drops by a share 30 or 7 days before the judged run; found when a
//!   worse change point lies within 5 runs of it (TCPDBench's margin). The smallest step of
//!   the grid found in at least 90% of trials, and for it, the share still found 90 days
//!   later (it must not dissolve into a trend as history accumulates).
//!
//! A step at least the tolerance is also judged run by run by the verdicts (see
//! `super::evaluation`); this evaluation measures the history analysis alone, which is
//! what tells an SRE about what the run-by-run verdicts cannot see: a slow drift, whose
//! baseline follows it, and a step below the tolerance.

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::baseline::AgeLimits;
use super::evaluation::{NoiseModel, Shape, gaussian, run_samples};
use super::verdict::{self, HistoryFindings};
use crate::config::Config;
use crate::model::history::Movement;
use crate::model::metric::Direction;
use crate::scheduler::Schedule;
use crate::stats;

/// The host's splay after each scheduled time (as in `super::evaluation`).
const SPLAY_MINUTES: u64 = 17;
/// Days of stable history before the 30 days judged.
const HISTORY_DAYS: i64 = 365;
/// The span the findings are about.
const WINDOW_DAYS: i64 = 30;
/// Samples per run (what the default sampling options produce).
const SAMPLES_PER_RUN: usize = 40;
/// A change point within this many runs of the true step counts as finding it.
const MARGIN: usize = 5;
/// Recall a magnitude must reach to be reported as found.
const RECALL_TARGET: f64 = 0.9;
/// Days after the judged run at which a found step must still be found.
const STEP_LATER_DAYS: i64 = 90;
const TOLERANCE: f64 = 0.05;
/// Drift rates (relative fall per 30 days) and step sizes tried, smallest first.
const DRIFT_RATES: [f64; 15] = [
    0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50,
];
const STEP_SIZES: [f64; 14] = [
    0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15, 0.20, 0.25, 0.50,
];

/// The kinds of benchmark the default config schedules, by the suites that run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// In the daily suite (and the weekly and monthly ones).
    Daily,
    /// In the weekly and monthly suites.
    Weekly,
    /// In the monthly suite only.
    Monthly,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Daily, ProbeKind::Weekly, ProbeKind::Monthly];

    /// The default config's benchmark that stands for this kind.
    pub fn benchmark(self) -> &'static str {
        match self {
            ProbeKind::Daily => "cpu-primes-1t",
            ProbeKind::Weekly => "cpu-simd",
            ProbeKind::Monthly => "cpu-sha256-all",
        }
    }
}

/// A noise model of this evaluation: `super::evaluation`'s, plus the lag-1 autocorrelation
/// of the run-to-run noise.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TrendNoise {
    pub model: NoiseModel,
    pub autocorrelation: f64,
}

pub fn noise_models() -> Vec<TrendNoise> {
    let model = |shape, run_sigma| NoiseModel {
        shape,
        within_sigma: 0.03,
        run_sigma,
    };
    vec![
        TrendNoise {
            model: model(Shape::Normal, 0.005),
            autocorrelation: 0.0,
        },
        TrendNoise {
            model: model(Shape::Normal, 0.01),
            autocorrelation: 0.0,
        },
        TrendNoise {
            model: model(Shape::Normal, 0.02),
            autocorrelation: 0.0,
        },
        TrendNoise {
            model: model(Shape::HeavyTails, 0.01),
            autocorrelation: 0.0,
        },
        TrendNoise {
            model: model(Shape::Normal, 0.01),
            autocorrelation: 0.5,
        },
    ]
}

/// The run times of one benchmark on the shipped calendar and its age limit.
#[derive(Debug, Clone)]
pub struct ProbeCalendar {
    pub kind: ProbeKind,
    pub suites: Vec<String>,
    /// Every run from the start of the history to well past the judged run.
    pub times: Vec<DateTime<Utc>>,
    /// Index of the judged run: the last at or before the end of the 30 days.
    pub judged: usize,
    pub max_age: Duration,
}

fn start_day() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
        .expect("a date")
        .with_timezone(&Utc)
}

impl ProbeCalendar {
    pub fn of(config: &Config, kind: ProbeKind) -> ProbeCalendar {
        let benchmark = kind.benchmark();
        let start = start_day();
        let end = start + Duration::days(HISTORY_DAYS + WINDOW_DAYS);
        // Far enough for a monthly benchmark's follow-up (12 runs after the judged one).
        let horizon = end + Duration::days(400);
        let mut suites = Vec::new();
        let mut times = Vec::new();
        for suite in config.suites.values().filter(|s| s.enabled) {
            if !suite.benchmarks.iter().any(|b| b == benchmark) {
                continue;
            }
            suites.push(suite.name.clone());
            let schedule = Schedule::new(
                &suite.name,
                &suite.schedule,
                chrono_tz::Europe::Berlin,
                std::time::Duration::from_secs(SPLAY_MINUTES * 60),
            )
            .expect("the shipped schedules parse");
            let mut at = start;
            while let Some(next) = schedule.next_slot_after(at) {
                if next > horizon {
                    break;
                }
                times.push(next);
                at = next;
            }
        }
        times.sort();
        times.dedup();
        let judged = times.partition_point(|t| *t <= end) - 1;
        ProbeCalendar {
            kind,
            suites,
            times,
            judged,
            max_age: AgeLimits::from_config(config).of(benchmark),
        }
    }

    fn end(&self) -> DateTime<Utc> {
        self.times[self.judged]
    }

    /// The index of the first run at or after `at`.
    fn index_at(&self, at: DateTime<Utc>) -> usize {
        self.times.partition_point(|t| *t < at)
    }

    /// Runs in the 30 days up to the judged run.
    pub fn runs_in_30_days(&self) -> usize {
        self.judged + 1 - self.index_at(self.end() - Duration::days(WINDOW_DAYS))
    }

    /// The trend window at the judged run: runs and days.
    pub fn trend_window(&self) -> (usize, f64) {
        let times = &self.times[..=self.judged];
        let start = verdict::trend_window(times, self.max_age);
        (
            times.len() - start,
            (times[self.judged] - times[start]).num_hours() as f64 / 24.0,
        )
    }

    /// The history analysis as a verdict at run `index` stores it.
    fn findings(&self, medians: &[f64], index: usize) -> HistoryFindings {
        verdict::series_findings(
            &medians[..=index],
            &self.times[..=index],
            self.max_age,
            Direction::HigherIsBetter,
            TOLERANCE,
        )
    }
}

/// The true level at a time.
#[derive(Debug, Clone, Copy)]
enum Truth {
    Flat,
    /// Falls by `rate` per 30 days from `from` to `until`, then holds.
    Drift {
        rate: f64,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// Drops by `size` at `at`.
    Step {
        size: f64,
        at: DateTime<Utc>,
    },
}

impl Truth {
    fn level(self, t: DateTime<Utc>) -> f64 {
        match self {
            Truth::Flat => 1000.0,
            Truth::Drift { rate, from, until } => {
                let days = (t.min(until) - from).num_seconds().max(0) as f64 / 86_400.0;
                1000.0 * (1.0 - rate * days / WINDOW_DAYS as f64)
            }
            Truth::Step { size, at } => {
                if t >= at {
                    1000.0 * (1.0 - size)
                } else {
                    1000.0
                }
            }
        }
    }
}

/// The run medians of one trial, up to run `last`.
fn medians(
    calendar: &ProbeCalendar,
    noise: &TrendNoise,
    truth: Truth,
    last: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let rho = noise.autocorrelation;
    let mut previous = 0.0;
    calendar.times[..=last]
        .iter()
        .map(|&t| {
            let run_noise = rho * previous + (1.0 - rho * rho).sqrt() * gaussian(rng);
            previous = run_noise;
            let samples = run_samples(
                &noise.model,
                truth.level(t),
                run_noise,
                SAMPLES_PER_RUN,
                rng,
            );
            stats::median(&samples)
        })
        .collect()
}

fn drift_flagged(findings: &HistoryFindings) -> bool {
    findings
        .drift
        .as_ref()
        .is_some_and(|t| t.drift && t.movement == Movement::Worse)
}

/// What a report shows of a fall: the drift flagged, or a worse level shift in the window.
fn fall_seen(findings: &HistoryFindings) -> bool {
    drift_flagged(findings)
        || findings
            .shifts
            .iter()
            .any(|s| s.recent && s.point.movement == Movement::Worse)
}

fn step_found(findings: &HistoryFindings, step_index: usize) -> bool {
    findings.shifts.iter().any(|s| {
        s.point.movement == Movement::Worse && s.point.point.index.abs_diff(step_index) <= MARGIN
    })
}

/// One row: one benchmark kind under one noise model.
#[derive(Debug, Clone, Serialize)]
pub struct TrendRow {
    pub kind: ProbeKind,
    pub noise: TrendNoise,
    /// No change: share of trials with a drift flagged, and with a shift in the window.
    pub false_drift: f64,
    pub false_shift: f64,
    /// Smallest drift rate (per 30 days) flagged as a drift in ≥ 90% of trials, if any on
    /// the grid; and the smallest seen, as a drift or as a worse level shift in the window.
    pub smallest_drift: Option<f64>,
    pub smallest_drift_seen: Option<f64>,
    /// At the smallest rate seen: share of the runs of the next 30 days that still show it
    /// while it goes on, and share of trials where no drift is flagged one trend window
    /// after it stopped (a level shift may stay: the level did move).
    pub drift_stays: Option<f64>,
    pub drift_clears: Option<f64>,
    /// Smallest step found in ≥ 90% of trials 30 and 7 days after it.
    pub smallest_step_30_days: Option<f64>,
    pub smallest_step_7_days: Option<f64>,
    /// At the 30-day smallest step: share still found 90 days later.
    pub step_stays: Option<f64>,
}

/// Trials per magnitude and per scenario.
#[derive(Debug, Clone, Copy)]
pub struct TrendPlan {
    pub trials: usize,
    pub seed: u64,
}

impl Default for TrendPlan {
    fn default() -> Self {
        TrendPlan {
            trials: 200,
            seed: 2026,
        }
    }
}

fn rng_for(plan: &TrendPlan, parts: &[u64]) -> ChaCha8Rng {
    let mut seed = plan.seed;
    for &p in parts {
        seed = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(p.wrapping_add(1));
    }
    ChaCha8Rng::seed_from_u64(seed)
}

/// Share of `trials` for which `hit` holds, each with its own generator.
fn share(plan: &TrendPlan, parts: &[u64], hit: impl Fn(&mut ChaCha8Rng) -> bool) -> f64 {
    let hits = (0..plan.trials as u64)
        .filter(|&trial| {
            let mut all = parts.to_vec();
            all.push(trial);
            hit(&mut rng_for(plan, &all))
        })
        .count();
    hits as f64 / plan.trials as f64
}

/// The first magnitude of `grid` whose recall reaches the target.
fn smallest(grid: &[f64], recall: impl Fn(usize, f64) -> f64) -> Option<f64> {
    grid.iter()
        .enumerate()
        .find(|&(i, &m)| recall(i, m) >= RECALL_TARGET)
        .map(|(_, &m)| m)
}

pub fn evaluate_row(
    calendar: &ProbeCalendar,
    noise: &TrendNoise,
    model_index: u64,
    plan: &TrendPlan,
) -> TrendRow {
    let judged = calendar.judged;
    let end = calendar.end();
    let window_start = end - Duration::days(WINDOW_DAYS);
    let kind = calendar.kind as u64;
    let id = |scenario: u64, magnitude: usize| [kind, model_index, scenario, magnitude as u64];

    // No change.
    let mut false_drift = 0usize;
    let mut false_shift = 0usize;
    for trial in 0..plan.trials as u64 {
        let mut rng = rng_for(plan, &[kind, model_index, 0, 0, trial]);
        let series = medians(calendar, noise, Truth::Flat, judged, &mut rng);
        let findings = calendar.findings(&series, judged);
        false_drift += usize::from(findings.drift.as_ref().is_some_and(|t| t.drift));
        false_shift += usize::from(findings.shifts.iter().any(|s| s.recent));
    }

    // Drift from 30 days before the judged run.
    let drifting = |rate: f64, until: DateTime<Utc>| Truth::Drift {
        rate,
        from: window_start,
        until,
    };
    let forever = end + Duration::days(10_000);
    let drift_recall = |seen: fn(&HistoryFindings) -> bool| {
        smallest(&DRIFT_RATES, move |i, rate| {
            share(plan, &id(1, i), |rng| {
                let series = medians(calendar, noise, drifting(rate, forever), judged, rng);
                seen(&calendar.findings(&series, judged))
            })
        })
    };
    let smallest_drift = drift_recall(drift_flagged);
    let smallest_drift_seen = drift_recall(fall_seen);
    let later = calendar.index_at(end + Duration::days(WINDOW_DAYS) + Duration::seconds(1));
    let (drift_stays, drift_clears) = match smallest_drift_seen {
        Some(rate) => {
            let mut flagged = 0usize;
            let mut runs = 0usize;
            for trial in 0..plan.trials as u64 {
                let mut rng = rng_for(plan, &[kind, model_index, 2, 0, trial]);
                let last = later.saturating_sub(1).max(judged + 1);
                let series = medians(calendar, noise, drifting(rate, forever), last, &mut rng);
                for index in judged + 1..=last {
                    runs += 1;
                    flagged += usize::from(fall_seen(&calendar.findings(&series, index)));
                }
            }
            // One trend window after the judged run: 30 days, or 12 runs.
            let after = (judged + verdict::MIN_TREND_RUNS).max(later.saturating_sub(1));
            let clears = share(plan, &[kind, model_index, 3, 0], |rng| {
                let series = medians(calendar, noise, drifting(rate, end), after, rng);
                !drift_flagged(&calendar.findings(&series, after))
            });
            (Some(flagged as f64 / runs.max(1) as f64), Some(clears))
        }
        None => (None, None),
    };

    // Steps 30 and 7 days before the judged run.
    let step_recall = |days: i64, scenario: u64| {
        let at = end - Duration::days(days);
        let step_index = calendar.index_at(at);
        move |i: usize, size: f64| {
            if step_index > judged {
                return 0.0;
            }
            share(plan, &id(scenario, i), |rng| {
                let series = medians(calendar, noise, Truth::Step { size, at }, judged, rng);
                step_found(&calendar.findings(&series, judged), step_index)
            })
        }
    };
    let smallest_step_30_days = smallest(&STEP_SIZES, step_recall(WINDOW_DAYS, 4));
    let smallest_step_7_days = smallest(&STEP_SIZES, step_recall(7, 5));
    let step_stays = smallest_step_30_days.map(|size| {
        let at = window_start;
        let step_index = calendar.index_at(at);
        let later = calendar.index_at(end + Duration::days(STEP_LATER_DAYS)) - 1;
        share(plan, &[kind, model_index, 6, 0], |rng| {
            let series = medians(calendar, noise, Truth::Step { size, at }, later, rng);
            step_found(&calendar.findings(&series, later), step_index)
        })
    });

    TrendRow {
        kind: calendar.kind,
        noise: *noise,
        false_drift: false_drift as f64 / plan.trials as f64,
        false_shift: false_shift as f64 / plan.trials as f64,
        smallest_drift,
        smallest_drift_seen,
        drift_stays,
        drift_clears,
        smallest_step_30_days,
        smallest_step_7_days,
        step_stays,
    }
}

/// Every row, the benchmark kinds and noise models on `threads` threads.
pub fn evaluate_trends(config: &Config, plan: &TrendPlan) -> Vec<(ProbeCalendar, Vec<TrendRow>)> {
    let models = noise_models();
    ProbeKind::ALL
        .iter()
        .map(|&kind| {
            let calendar = ProbeCalendar::of(config, kind);
            let rows = std::thread::scope(|scope| {
                let handles: Vec<_> = models
                    .iter()
                    .enumerate()
                    .map(|(m, noise)| {
                        let calendar = &calendar;
                        scope.spawn(move || evaluate_row(calendar, noise, m as u64, plan))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("an evaluation thread"))
                    .collect()
            });
            (calendar, rows)
        })
        .collect()
}

fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) => {
            let text = format!("{:.1}", v * 100.0);
            format!("{}%", text.trim_end_matches(".0"))
        }
        None => "not found".into(),
    }
}

fn noise_name(noise: &TrendNoise) -> String {
    let shape = match noise.model.shape {
        Shape::Normal => "normal",
        Shape::Bimodal => "bimodal",
        Shape::HeavyTails => "heavy tails",
        Shape::SlowDrift => "slow drift",
    };
    let mut name = format!(
        "{shape}, run-to-run σ {}",
        percent(Some(noise.model.run_sigma))
    );
    if noise.autocorrelation > 0.0 {
        name.push_str(&format!(", AR(1) ρ {}", noise.autocorrelation));
    }
    name
}

/// The tables of `docs/verdicts.md`.
pub fn markdown(results: &[(ProbeCalendar, Vec<TrendRow>)], plan: &TrendPlan) -> String {
    let mut out = format!(
        "{} trials per scenario and magnitude, within-run σ 3%, {SAMPLES_PER_RUN} samples per run, tolerance {}; \"found\" means in at least {}% of trials, the smallest on the grid (drift rates {}–{}% per 30 days, steps {}–{}%).\n",
        plan.trials,
        percent(Some(TOLERANCE)),
        RECALL_TARGET * 100.0,
        DRIFT_RATES[0] * 100.0,
        DRIFT_RATES[DRIFT_RATES.len() - 1] * 100.0,
        STEP_SIZES[0] * 100.0,
        STEP_SIZES[STEP_SIZES.len() - 1] * 100.0,
    );
    for (calendar, rows) in results {
        let (window_runs, window_days) = calendar.trend_window();
        out.push_str(&format!(
            "\n**`{}`** (suites {}): {} runs in 30 days; trend window {} runs over {:.0} days; age limit {} days.\n\n",
            calendar.kind.benchmark(),
            calendar.suites.join(", "),
            calendar.runs_in_30_days(),
            window_runs,
            window_days,
            calendar.max_age.num_days()
        ));
        out.push_str("| noise | no change: drift flagged | no change: shift in the window | smallest drift flagged as a drift (per 30 days) | smallest drift seen (drift or shift) | … still seen while it goes on | … no drift one window after it stops | smallest step found 30 days after it | … still found 90 days later | smallest step found 7 days after it |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for row in rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                noise_name(&row.noise),
                percent(Some(row.false_drift)),
                percent(Some(row.false_shift)),
                percent(row.smallest_drift),
                percent(row.smallest_drift_seen),
                row.drift_stays.map_or("–".into(), |v| percent(Some(v))),
                row.drift_clears.map_or("–".into(), |v| percent(Some(v))),
                percent(row.smallest_step_30_days),
                row.step_stays.map_or("–".into(), |v| percent(Some(v))),
                percent(row.smallest_step_7_days),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_calendar_gives_daily_probes_a_month_of_runs_and_weekly_ones_twelve() {
        let config = Config::embedded();
        let daily = ProbeCalendar::of(&config, ProbeKind::Daily);
        assert_eq!(daily.suites, ["daily", "monthly", "weekly"]);
        assert!((34..=37).contains(&daily.runs_in_30_days()), "{daily:?}");
        let (runs, days) = daily.trend_window();
        assert_eq!(runs, daily.runs_in_30_days());
        assert!((29.0..=30.0).contains(&days), "{days}");

        let weekly = ProbeCalendar::of(&config, ProbeKind::Weekly);
        assert_eq!(weekly.suites, ["monthly", "weekly"]);
        let (runs, days) = weekly.trend_window();
        assert_eq!(runs, verdict::MIN_TREND_RUNS);
        assert!((60.0..=80.0).contains(&days), "{days}");

        let monthly = ProbeCalendar::of(&config, ProbeKind::Monthly);
        assert_eq!(monthly.suites, ["monthly"]);
        assert_eq!(monthly.runs_in_30_days(), 1);
        let (runs, days) = monthly.trend_window();
        assert_eq!(runs, verdict::MIN_TREND_RUNS);
        assert!((330.0..=340.0).contains(&days), "{days}");
    }

    #[test]
    fn a_daily_probe_flags_a_steep_drift_and_finds_a_large_step_and_stays_quiet_without_either() {
        let config = Config::embedded();
        let calendar = ProbeCalendar::of(&config, ProbeKind::Daily);
        let noise = noise_models()[1];
        let plan = TrendPlan {
            trials: 20,
            seed: 7,
        };
        let end = calendar.end();
        let rate = share(&plan, &[1], |rng| {
            let truth = Truth::Drift {
                rate: 0.2,
                from: end - Duration::days(WINDOW_DAYS),
                until: end + Duration::days(1000),
            };
            let series = medians(&calendar, &noise, truth, calendar.judged, rng);
            drift_flagged(&calendar.findings(&series, calendar.judged))
        });
        assert!(rate >= 0.9, "{rate}");
        let at = end - Duration::days(WINDOW_DAYS);
        let step = share(&plan, &[2], |rng| {
            let truth = Truth::Step { size: 0.1, at };
            let series = medians(&calendar, &noise, truth, calendar.judged, rng);
            step_found(
                &calendar.findings(&series, calendar.judged),
                calendar.index_at(at),
            )
        });
        assert!(step >= 0.9, "{step}");
        let quiet = share(&plan, &[3], |rng| {
            let series = medians(&calendar, &noise, Truth::Flat, calendar.judged, rng);
            let findings = calendar.findings(&series, calendar.judged);
            !findings.drift.as_ref().is_some_and(|t| t.drift) && findings.shifts.is_empty()
        });
        assert!(quiet >= 0.9, "{quiet}");
    }
}
