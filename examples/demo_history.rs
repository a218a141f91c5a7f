//! Writes a made-up but fully judged history into a state directory, for the report's
//! screenshot in the docs and for `scripts/bench-report.sh`: weekly runs of one suite, each
//! benchmark measured through the real runner, stats, store and verdicts with the fake
//! workload (a programmed time per operation, with seeded run-to-run noise), runs dated a
//! week apart by the fake wall clock.
//!
//! The story: a kernel upgrade two thirds of the way through slows `memory.alloc` by 18%
//! (suspected, confirmed by a re-run, and still open), `cpu.sha256` recovers from a short
//! regression, `disk.files` drifts slowly, and a load test's requests take 9% longer after the
//! kernel upgrade (a minor regression).
//!
//! Run: `cargo run --release --example demo_history -- DIR [--weeks N] [--benchmarks N]
//! [--until-now]` (`--benchmarks` adds steady benchmarks up to N, for size and speed
//! measurements; `--until-now` ends the history a day ago instead of on 2026-04-20, so a
//! `--since 30d` window holds its last runs).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use perfwarden::model::metric::MetricDef;
use perfwarden::model::options::BenchOptions;
use perfwarden::model::records::{SoftwareEnvironment, Trigger};
use perfwarden::runner::{self, BenchmarkPlan, RunContext, Silent, fingerprint};
use perfwarden::store::Store;
use perfwarden::workload::CancelToken;
use perfwarden::workload::fake::{FakeClock, FakeStep, FakeWorkload};
use rand::{Rng, SeedableRng};

fn options() -> BenchOptions {
    BenchOptions {
        samples: 30,
        warmup: Duration::from_millis(10),
        min_time: Duration::from_millis(100),
        time_budget: Duration::from_secs(10),
        timeout: Duration::from_secs(60),
        tolerance: 0.05,
        major: 0.15,
        critical: 0.30,
        slo: Vec::new(),
    }
}

/// Per-iteration times around `nanos` with ±`spread` sample-to-sample noise.
fn noisy(nanos: f64, spread: f64, rng: &mut impl Rng) -> Vec<FakeStep> {
    (0..200)
        .map(|_| {
            let factor = 1.0 + spread * (rng.random::<f64>() * 2.0 - 1.0);
            FakeStep::Take(Duration::from_nanos((nanos * factor).max(1.0) as u64))
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: demo_history DIR [--weeks N] [--benchmarks N]");
        std::process::exit(1);
    };
    let (mut weeks, mut extra, mut until_now) = (16usize, 0usize, false);
    while let Some(flag) = args.next() {
        if flag == "--until-now" {
            until_now = true;
            continue;
        }
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--weeks" => weeks = value,
            "--benchmarks" => extra = value.saturating_sub(5),
            other => panic!("unknown flag {other}"),
        }
    }
    let store = Store::open(std::path::Path::new(&dir)).expect("the state directory opens");
    let clock = FakeClock::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let last = if until_now {
        Utc::now() - chrono::Duration::days(1)
    } else {
        Utc.with_ymd_and_hms(2026, 4, 20, 3, 0, 0).unwrap()
    };
    let first = last - chrono::Duration::weeks(weeks.saturating_sub(1) as i64);
    let upgrade = weeks * 2 / 3;
    let ages = perfwarden::detect::AgeLimits::fixed(chrono::Duration::weeks(12));
    let run_once = |week: usize,
                    at: chrono::DateTime<Utc>,
                    trigger: Trigger,
                    only: Option<&str>,
                    rng: &mut rand_chacha::ChaCha8Rng| {
        clock.set_now(at);
        let upgraded = week >= upgrade;
        let mut level = || 1.0 + 0.01 * (rng.random::<f64>() * 2.0 - 1.0);
        let sha_slow = week + 4 == upgrade || week + 3 == upgrade;
        let mut wanted: Vec<(String, &str, MetricDef, f64)> = vec![
            (
                "memory.alloc".into(),
                "memory.alloc",
                MetricDef::duration("op"),
                820.0 * level() * if upgraded { 1.18 } else { 1.0 },
            ),
            (
                "cpu.sha256".into(),
                "cpu.sha256",
                MetricDef::throughput("digest"),
                2_400.0 * level() * if sha_slow { 1.12 } else { 1.0 },
            ),
            (
                "disk.files".into(),
                "disk.files",
                MetricDef::throughput("file"),
                52_000.0 * level() * (1.0 + 0.006 * week as f64),
            ),
            (
                "http.api".into(),
                "load.http",
                MetricDef::throughput("request"),
                310_000.0 * level() * if upgraded { 1.09 } else { 1.0 },
            ),
            (
                "parse.config".into(),
                "parse.config",
                MetricDef::duration("parse"),
                41_000.0 * level(),
            ),
        ];
        for i in 0..extra {
            wanted.push((
                format!("probe.{i:03}"),
                "cpu.primes",
                MetricDef::duration("op"),
                (1_000.0 + 10.0 * i as f64) * level(),
            ));
        }
        let plans: Vec<BenchmarkPlan> = wanted
            .into_iter()
            .filter(|(name, ..)| only.is_none_or(|o| o == name))
            .map(|(name, kind, metric, nanos)| BenchmarkPlan {
                config_hash: format!("{name}-v1"),
                name,
                kind: kind.into(),
                options: options(),
                workload: Box::new(FakeWorkload::new(
                    metric,
                    clock.clone(),
                    noisy(nanos, 0.04, &mut *rng),
                )),
            })
            .collect();
        let ctx = RunContext {
            store: &store,
            suite: "weekly".into(),
            quick: false,
            fingerprint: fingerprint::collect(),
            environment: SoftwareEnvironment {
                kernel: Some(
                    if upgraded {
                        "6.1.0-28-amd64"
                    } else {
                        "6.1.0-26-amd64"
                    }
                    .into(),
                ),
                microcode: Some(if upgraded { "0xa0011d5" } else { "0xa0011d1" }.into()),
                agent_version: Some(env!("CARGO_PKG_VERSION").into()),
                ..SoftwareEnvironment::default()
            },
            host: "db-7.example.internal".into(),
            clock: Arc::new(clock.clone()),
            cancel: CancelToken::new(),
            trigger,
            gate: None,
            confirms: None,
        };
        let outcome = runner::run_suite(&ctx, plans, &mut Silent).expect("the run is stored");
        perfwarden::detect::evaluate_run(&store, &outcome.run, &ages).expect("the run is judged");
        outcome
    };
    let mut next_run_id = 0;
    for week in 0..weeks {
        let at = first + chrono::Duration::weeks(week as i64);
        let outcome = run_once(week, at, Trigger::Scheduled, None, &mut rng);
        next_run_id = outcome.run.id;
        // The daemon re-runs what a scheduled run suspects ten minutes later.
        let suspected: Vec<String> = store
            .open_regressions()
            .unwrap()
            .into_iter()
            .filter(|r| r.last_run == outcome.run.id && r.runs.len() == 1)
            .map(|r| r.benchmark)
            .collect();
        for name in suspected {
            run_once(
                week,
                at + chrono::Duration::minutes(10),
                Trigger::Confirmation,
                Some(&name),
                &mut rng,
            );
        }
    }
    eprintln!("{weeks} weekly runs (up to run {next_run_id}) written to {dir}");
}
