//! The shipped schedules in calendar time: the embedded default config's `daily` suite run
//! eight nights in a row, its `weekly` suite eight times a week apart and its `monthly`
//! suite seven times a month apart, the wall clock moved with libfaketime (the monotonic
//! clock, which times the samples, is left alone). Verdicts must start at the 6th run of
//! each: the baseline's age limit follows the schedule, so runs a day, a week or a month
//! apart fill it.
//!
//! One benchmark of each suite is run (`--bench`), which is judged exactly as in the whole
//! suite; `weekly` and `monthly` each use one that no more frequent suite runs, so its age
//! limit comes from that suite's schedule.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_valid_output, perfwarden, run};

/// Debian's libfaketime (package `faketime`, installed by scripts/install-test-servers.sh).
fn libfaketime() -> PathBuf {
    let path = PathBuf::from("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    assert!(
        path.exists(),
        "{} is missing: install it with `apt-get install faketime` (scripts/install-test-servers.sh does)",
        path.display()
    );
    path
}

/// Runs `suite --bench bench` with the wall clock at `at` (UTC); returns the verdict outcome
/// and the run's recorded start.
fn run_at(state: &Path, suite: &str, bench: &str, at: &str) -> (String, String) {
    let (code, stdout, stderr) = run(perfwarden(state)
        .args(["--format", "json", "run", suite, "--bench", bench])
        .env("TZ", "UTC")
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", format!("@{at}"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1"));
    assert!(code == 0 || code == 2, "{at}: exit {code}\n{stderr}");
    let report = assert_valid_output(&stdout);
    let started = report["run"]["started_at"].as_str().unwrap().to_string();
    let outcome = report["results"][0]["verdict"]["outcome"]
        .as_str()
        .unwrap()
        .to_string();
    (outcome, started)
}

fn judged_from_the_sixth_run(suite: &str, bench: &str, times: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut outcomes = Vec::new();
    for at in times {
        let (outcome, started) = run_at(&state, suite, bench, at);
        assert!(
            started.starts_with(&at.replace(' ', "T")[..13]),
            "the run's clock is the simulated one: {started} for {at}"
        );
        outcomes.push(outcome);
    }
    for (index, outcome) in outcomes.iter().enumerate() {
        let judged = outcome != "insufficient_baseline";
        assert_eq!(
            judged,
            index >= 5,
            "{suite} run {} at {}: {outcome}; all: {outcomes:?}",
            index + 1,
            times[index]
        );
    }
}

#[test]
fn eight_daily_runs_a_night_apart_are_judged_from_the_sixth() {
    // 02:47 each night (the daily schedule, 30 2 * * *, plus a splay).
    let times: Vec<String> = (0..8)
        .map(|night| {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
                + chrono::Duration::days(night);
            format!("{day} 02:47:00")
        })
        .collect();
    judged_from_the_sixth_run("daily", "cpu-primes-1t", &times);
}

#[test]
fn eight_weekly_runs_a_week_apart_are_judged_from_the_sixth() {
    // Mondays at 03:17 (the weekly schedule, 0 3 * * MON, plus a splay).
    let times: Vec<String> = (0..8)
        .map(|week| {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
                + chrono::Duration::weeks(week);
            format!("{day} 03:17:00")
        })
        .collect();
    // cpu-simd: weekly and monthly, not daily.
    judged_from_the_sixth_run("weekly", "cpu-simd", &times);
}

#[test]
fn seven_monthly_runs_a_month_apart_are_judged_from_the_sixth() {
    // The 1st of each month at 04:17 (0 4 1 * *), across February's short month.
    let times: Vec<String> = (0..7)
        .map(|month| {
            let (year, month) = (2026 + (10 + month) / 12, (10 + month) % 12 + 1);
            format!("{year}-{month:02}-01 04:17:00")
        })
        .collect();
    assert_eq!(times[2], "2027-01-01 04:17:00");
    judged_from_the_sixth_run("monthly", "cpu-sha256-all", &times);
}
