//! The whole pipeline in-process with a fake workload and a fake clock: runner → stats →
//! store → detect → report, with exact expected values.

mod common;

use std::sync::Arc;
use std::time::Duration;

use perfwarden::detect::Assessment;
use perfwarden::model::metric::MetricDef;
use perfwarden::model::options::BenchOptions;
use perfwarden::model::records::{BenchStatus, RunStatus, SoftwareEnvironment, Trigger};
use perfwarden::report::{self, RunReport};
use perfwarden::runner::{self, BenchmarkPlan, RunContext, Silent, fingerprint};
use perfwarden::store::Store;
use perfwarden::workload::CancelToken;
use perfwarden::workload::fake::{FakeClock, FakeStep, FakeWorkload};

fn plan(name: &str, clock: &FakeClock, steps: Vec<FakeStep>) -> BenchmarkPlan {
    BenchmarkPlan {
        name: name.into(),
        kind: "fake".into(),
        config_hash: "fakehash".into(),
        options: common::fake_options(),
        workload: Box::new(FakeWorkload::new(
            MetricDef::duration("op"),
            clock.clone(),
            steps,
        )),
    }
}

fn context<'a>(store: &'a Store, clock: &FakeClock, cancel: CancelToken) -> RunContext<'a> {
    RunContext {
        store,
        suite: "test".into(),
        quick: false,
        fingerprint: fingerprint::collect(),
        environment: software("6.1.0-26-amd64"),
        host: "test-host".into(),
        clock: Arc::new(clock.clone()),
        cancel,
        trigger: Trigger::Manual,
        gate: None,
        confirms: None,
    }
}

/// A software environment with this kernel (and microcode 0xa0011d1).
fn software(kernel: &str) -> SoftwareEnvironment {
    SoftwareEnvironment {
        kernel: Some(kernel.into()),
        microcode: Some("0xa0011d1".into()),
        agent_version: Some("0.1.0".into()),
        ..SoftwareEnvironment::default()
    }
}

/// Baseline runs of any age (the fake clock's runs are minutes apart).
fn ages() -> perfwarden::detect::AgeLimits {
    perfwarden::detect::AgeLimits::fixed(chrono::Duration::days(90))
}

#[test]
fn results_are_stored_summarised_and_compared_with_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();

    let first = runner::run_suite(
        &context(&store, &clock, CancelToken::new()),
        vec![plan("steady", &clock, common::wobbly(100))],
        &mut Silent,
    )
    .unwrap();
    assert_eq!(first.run.status, RunStatus::Success);
    let result = &first.results[0];
    assert_eq!(result.status, BenchStatus::Ok);
    let summary = result.summary.as_ref().unwrap();
    // Target sample 200 ms / 40 = 5 ms, clamped to 10 ms → about 100 iterations of
    // ~100 µs (calibrated on the last ±1% warm-up sample); 200 ms → about 20 samples.
    assert!(
        (99..=101).contains(&result.iterations_per_sample),
        "{}",
        result.iterations_per_sample
    );
    assert!((19..=21).contains(&summary.count), "{}", summary.count);
    assert!(
        (summary.median - 100e-6).abs() < 1.5e-6,
        "{}",
        summary.median
    );
    let stored = store.samples(first.run.id, "steady").unwrap();
    assert_eq!(stored.len(), summary.count);

    // 10% slower per operation: a duration metric, so "worse".
    let second = runner::run_suite(
        &context(&store, &clock, CancelToken::new()),
        vec![plan("steady", &clock, common::wobbly(110))],
        &mut Silent,
    )
    .unwrap();
    let report = RunReport::build(&store, second.run).unwrap();
    let change = report.results[0]
        .change
        .as_ref()
        .expect("compared with run 1");
    assert_eq!(change.baseline_runs, vec![first.run.id]);
    assert!((change.relative - 0.10).abs() < 0.02, "{}", change.relative);
    assert_eq!(change.assessment, Assessment::Worse);
    assert!(change.interval.unwrap().low > 0.05);
    assert!(report.environment_change.is_none());

    let text = report::render(&report, report::Format::Text, Default::default()).unwrap();
    assert!(text.contains("steady") && text.contains("worse"), "{text}");
    common::assert_valid_output(&report::json::render("run", &report));
}

#[test]
fn a_failing_benchmark_is_data_and_the_suite_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    let outcome = runner::run_suite(
        &context(&store, &clock, CancelToken::new()),
        vec![
            plan(
                "broken",
                &clock,
                vec![FakeStep::Fail("device not ready".into())],
            ),
            plan("fine", &clock, common::wobbly(50)),
        ],
        &mut Silent,
    )
    .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Failed);
    assert_eq!(outcome.results[0].status, BenchStatus::Failed);
    assert_eq!(
        outcome.results[0].error.as_deref(),
        Some("device not ready")
    );
    assert_eq!(outcome.results[1].status, BenchStatus::Ok);
    assert_eq!(store.results(outcome.run.id).unwrap().len(), 2);
}

#[test]
fn cancel_keeps_finished_benchmarks_and_marks_the_run_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    let cancel = CancelToken::new();
    let mut interrupting = common::wobbly(100);
    interrupting.truncate(5);
    interrupting.push(FakeStep::Cancel(cancel.clone(), Duration::from_micros(100)));
    let outcome = runner::run_suite(
        &context(&store, &clock, cancel),
        vec![
            plan("done", &clock, common::wobbly(100)),
            plan("interrupted", &clock, interrupting),
            plan("never", &clock, common::wobbly(100)),
        ],
        &mut Silent,
    )
    .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Interrupted);
    let stored = store.results(outcome.run.id).unwrap();
    let names: Vec<&str> = stored.iter().map(|r| r.benchmark.as_str()).collect();
    assert_eq!(names, vec!["done", "interrupted"]);
    assert_eq!(stored[0].status, BenchStatus::Ok);
    assert_eq!(stored[1].status, BenchStatus::Interrupted);
    // The samples taken before the stop are kept (3 warm-up calls, then 3 samples).
    assert!(
        !store
            .samples(outcome.run.id, "interrupted")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.run(outcome.run.id).unwrap().unwrap().status,
        RunStatus::Interrupted
    );
}

#[test]
fn the_hard_timeout_fails_a_hung_benchmark_and_keeps_its_samples() {
    /// Takes real time so the runner's wall-clock timeout applies.
    struct Sleepy;
    impl perfwarden::workload::Workload for Sleepy {
        fn metric(&self) -> MetricDef {
            MetricDef::duration("nap")
        }
        fn run(
            &mut self,
            _: u64,
            _: &mut perfwarden::workload::LatencyRecorder,
        ) -> Result<f64, perfwarden::workload::WorkloadError> {
            std::thread::sleep(Duration::from_millis(100));
            Ok(1.0)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = perfwarden::model::clock::MonotonicClock::default();
    let ctx = RunContext {
        store: &store,
        suite: "test".into(),
        quick: false,
        fingerprint: fingerprint::collect(),
        environment: software("6.1.0-26-amd64"),
        host: "h".into(),
        clock: Arc::new(clock),
        cancel: CancelToken::new(),
        trigger: Trigger::Manual,
        gate: None,
        confirms: None,
    };
    let started = std::time::Instant::now();
    let outcome = runner::run_suite(
        &ctx,
        vec![BenchmarkPlan {
            name: "hangs".into(),
            kind: "fake".into(),
            config_hash: "x".into(),
            options: BenchOptions {
                samples: 1000,
                warmup: Duration::ZERO,
                min_time: Duration::from_secs(60),
                time_budget: Duration::from_secs(60),
                timeout: Duration::from_millis(700),
                tolerance: 0.05,
                major: 0.15,
                critical: 0.30,
                slo: Vec::new(),
            },
            workload: Box::new(Sleepy),
        }],
        &mut Silent,
    )
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let result = &outcome.results[0];
    assert_eq!(result.status, BenchStatus::TimedOut);
    assert!(
        result
            .error
            .as_ref()
            .unwrap()
            .contains("timed out after 700ms")
    );
    assert!(result.summary.as_ref().unwrap().count >= 3);
    assert_eq!(outcome.run.status, RunStatus::Failed);
}

#[test]
fn other_hardware_is_not_compared_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    runner::run_suite(
        &context(&store, &clock, CancelToken::new()),
        vec![plan("steady", &clock, common::wobbly(100))],
        &mut Silent,
    )
    .unwrap();
    let mut moved = context(&store, &clock, CancelToken::new());
    moved.fingerprint.logical_cores += 2;
    let second = runner::run_suite(
        &moved,
        vec![plan("steady", &clock, common::wobbly(150))],
        &mut Silent,
    )
    .unwrap();
    let report = RunReport::build(&store, second.run).unwrap();
    assert!(
        report.results[0].change.is_none(),
        "no comparison across hardware"
    );
    let env = report
        .environment_change
        .as_ref()
        .expect("hardware change noticed");
    assert_eq!(env.changed_fields, vec!["logical_cores"]);
    assert!(env.software.is_none());
    // The levels on both sides are shown as information: 150 µs/op against 100.
    let levels = report.results[0]
        .previous_hardware
        .as_ref()
        .expect("levels before and after");
    assert_eq!(levels.previous_runs, vec![1]);
    assert!((levels.relative - 0.5).abs() < 0.02, "{levels:?}");
    let text = report::render(&report, report::Format::Text, Default::default()).unwrap();
    assert!(text.contains("hardware changed since run 1"), "{text}");
    assert!(
        text.contains("Levels on the previous hardware")
            && text.contains("(+50.0%: worse; median of runs 1)"),
        "{text}"
    );
    common::assert_valid_output(
        &report::render(&report, report::Format::Json, Default::default()).unwrap(),
    );
}

#[test]
fn a_kernel_upgrade_is_compared_with_the_old_baseline_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    runner::run_suite(
        &context(&store, &clock, CancelToken::new()),
        vec![plan("steady", &clock, common::wobbly(100))],
        &mut Silent,
    )
    .unwrap();
    let mut upgraded = context(&store, &clock, CancelToken::new());
    upgraded.environment = software("6.1.0-28-amd64");
    upgraded.environment.microcode = Some("0xa0011d5".into());
    let second = runner::run_suite(
        &upgraded,
        vec![plan("steady", &clock, common::wobbly(150))],
        &mut Silent,
    )
    .unwrap();
    let report = RunReport::build(&store, second.run).unwrap();
    let change = report.results[0]
        .change
        .as_ref()
        .expect("compared across the upgrade");
    assert!((change.relative - 0.5).abs() < 0.02, "{change:?}");
    let env = report.environment_change.as_ref().expect("upgrade noticed");
    assert!(!env.hardware_changed());
    assert_eq!(
        env.software.as_ref().unwrap().summary(),
        "kernel 6.1.0-26-amd64 → 6.1.0-28-amd64; microcode 0xa0011d1 → 0xa0011d5"
    );
    let text = report::render(&report, report::Format::Text, Default::default()).unwrap();
    assert!(
        text.contains("software changed since run 1: kernel 6.1.0-26-amd64 → 6.1.0-28-amd64"),
        "{text}"
    );
    let changes = perfwarden::detect::host_changes(&store, None).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].run_id, 2);
    assert!(changes[0].hardware.is_empty());
}

/// Six runs at 100 µs/op under kernel 26, then one under kernel 28 at `after_us`.
fn judged_across_a_kernel_upgrade(
    store: &Store,
    clock: &FakeClock,
    after_us: u64,
) -> perfwarden::model::verdict::Verdict {
    for _ in 0..6 {
        run_and_judge(store, clock, 100);
    }
    let mut upgraded = context(store, clock, CancelToken::new());
    upgraded.environment = software("6.1.0-28-amd64");
    let outcome = runner::run_suite(
        &upgraded,
        vec![plan("steady", clock, common::wobbly(after_us))],
        &mut Silent,
    )
    .unwrap();
    perfwarden::detect::evaluate_run(store, &outcome.run, &ages())
        .unwrap()
        .remove(0)
}

#[test]
fn a_step_at_a_kernel_upgrade_opens_a_regression_naming_it() {
    use perfwarden::model::verdict::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    let v = judged_across_a_kernel_upgrade(&store, &clock, 125);
    assert_eq!(v.outcome, Outcome::Regression, "{}", v.explanation);
    assert_eq!(
        v.evidence.as_ref().unwrap().baseline_runs,
        vec![1, 2, 3, 4, 5, 6],
        "judged against the baseline from before the upgrade"
    );
    assert!(
        v.explanation
            .contains("the software changed since run 6: kernel 6.1.0-26-amd64 → 6.1.0-28-amd64"),
        "{}",
        v.explanation
    );
    let open = store.open_regressions().unwrap();
    assert_eq!(
        open[0].cause.as_deref(),
        Some("kernel 6.1.0-26-amd64 → 6.1.0-28-amd64")
    );
}

#[test]
fn a_kernel_upgrade_without_a_step_is_a_notice_and_the_baseline_goes_on() {
    use perfwarden::model::verdict::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    let v = judged_across_a_kernel_upgrade(&store, &clock, 100);
    assert_eq!(v.outcome, Outcome::NoChange, "{}", v.explanation);
    assert!(v.environment_change.is_some());
    assert!(store.open_regressions().unwrap().is_empty());
    // The next run's baseline holds runs from both sides of the upgrade.
    let mut upgraded = context(&store, &clock, CancelToken::new());
    upgraded.environment = software("6.1.0-28-amd64");
    let outcome = runner::run_suite(
        &upgraded,
        vec![plan("steady", &clock, common::wobbly(100))],
        &mut Silent,
    )
    .unwrap();
    let next = perfwarden::detect::evaluate_run(&store, &outcome.run, &ages())
        .unwrap()
        .remove(0);
    assert_eq!(next.outcome, Outcome::NoChange);
    assert_eq!(
        next.evidence.unwrap().baseline_runs,
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    assert!(
        next.environment_change.is_none(),
        "nothing changed since run 7"
    );
}

/// Runs one suite of a single fake benchmark at `per_op_us` µs per operation (±1%), then
/// judges it.
fn run_and_judge(
    store: &Store,
    clock: &FakeClock,
    per_op_us: u64,
) -> perfwarden::model::verdict::Verdict {
    let outcome = runner::run_suite(
        &context(store, clock, CancelToken::new()),
        vec![plan("steady", clock, common::wobbly(per_op_us))],
        &mut Silent,
    )
    .unwrap();
    let mut verdicts = perfwarden::detect::evaluate_run(store, &outcome.run, &ages()).unwrap();
    verdicts.remove(0)
}

#[test]
fn a_regression_is_suspected_then_confirmed_then_resolved() {
    use perfwarden::model::verdict::{Outcome, RegressionState, Severity, Transition};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    for _ in 0..5 {
        let v = run_and_judge(&store, &clock, 100);
        assert_eq!(v.outcome, Outcome::InsufficientBaseline);
    }
    let v = run_and_judge(&store, &clock, 100);
    assert_eq!(v.outcome, Outcome::NoChange, "{}", v.explanation);

    // 25% slower: major, suspected.
    let v = run_and_judge(&store, &clock, 125);
    assert_eq!(v.outcome, Outcome::Regression, "{}", v.explanation);
    assert_eq!(v.severity, Some(Severity::Major));
    assert_eq!(v.state, Some(RegressionState::Suspected));
    assert_eq!(v.transition, Some(Transition::Opened));
    // The regressed run is not part of the baseline of the next one: still confirmed.
    let v = run_and_judge(&store, &clock, 125);
    assert_eq!(
        v.state,
        Some(RegressionState::Confirmed),
        "{}",
        v.explanation
    );
    assert_eq!(v.transition, Some(Transition::Confirmed));
    let open = store.open_regressions().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].runs, vec![7, 8]);

    // The health report counts it and says what to do.
    let health = perfwarden::detect::health::HealthReport::build(&store, None).unwrap();
    assert_eq!(
        health.host_score,
        Some(80.0),
        "a confirmed major costs 20 points"
    );
    assert_eq!(health.host_grade, Some('B'));
    let review = report::ReviewReport::build(&store, None, None, None).unwrap();
    let text = report::render(&review, report::Format::Text, Default::default()).unwrap();
    assert!(
        text.contains("-20  steady: major regression, confirmed"),
        "{text}"
    );
    assert!(text.contains("perfwarden baseline accept steady"), "{text}");
    common::assert_valid_output(&report::json::render("report", &review));

    // Back to normal: one run is not evidence enough; the second resolves it.
    let v = run_and_judge(&store, &clock, 100);
    assert_eq!(v.transition, None, "{}", v.explanation);
    assert!(
        v.explanation.contains("1 of 2 consecutive runs back"),
        "{}",
        v.explanation
    );
    assert_eq!(store.open_regressions().unwrap()[0].recovering_runs, 1);
    let v = run_and_judge(&store, &clock, 100);
    assert_eq!(
        v.transition,
        Some(Transition::Resolved),
        "{}",
        v.explanation
    );
    assert!(store.open_regressions().unwrap().is_empty());
    let log = store.regression_log().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].ended,
        Some(perfwarden::model::verdict::Ending::Resolved)
    );
    assert_eq!(log[0].ended_run, Some(10));

    let report = report::ReviewReport::build(&store, None, None, None).unwrap();
    assert_eq!(
        report.health.host_score,
        Some(100.0),
        "resolved: nothing open"
    );
    common::assert_valid_output(&report::json::render("report", &report));

    // The run report shows it.
    let report = RunReport::build(&store, store.run(8).unwrap().unwrap()).unwrap();
    let text = report::render(&report, report::Format::Text, Default::default()).unwrap();
    assert!(text.contains("major regression (confirmed)"), "{text}");
    common::assert_valid_output(&report::json::render("run", &report));
}

#[test]
fn the_same_results_under_another_fingerprint_are_a_new_epoch_not_a_regression() {
    use perfwarden::model::verdict::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    for _ in 0..6 {
        run_and_judge(&store, &clock, 100);
    }
    let mut moved = context(&store, &clock, CancelToken::new());
    moved.fingerprint.cpu_model = "Another CPU".into();
    let outcome = runner::run_suite(
        &moved,
        vec![plan("steady", &clock, common::wobbly(150))],
        &mut Silent,
    )
    .unwrap();
    let verdicts = perfwarden::detect::evaluate_run(&store, &outcome.run, &ages()).unwrap();
    assert_eq!(
        verdicts[0].outcome,
        Outcome::NewEpoch,
        "{}",
        verdicts[0].explanation
    );
    assert!(store.open_regressions().unwrap().is_empty());
    let report = RunReport::build(&store, outcome.run).unwrap();
    let env = report.environment_change.unwrap();
    assert_eq!(env.changed_fields, vec!["cpu_model"]);
}

#[test]
fn a_benchmark_failing_from_its_first_run_is_failing_and_a_later_failure_is_critical() {
    use perfwarden::model::verdict::{Outcome, Severity};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    let fail = |store: &Store| {
        let outcome = runner::run_suite(
            &context(store, &clock, CancelToken::new()),
            vec![plan(
                "steady",
                &clock,
                vec![FakeStep::Fail("no such device".into())],
            )],
            &mut Silent,
        )
        .unwrap();
        perfwarden::detect::evaluate_run(store, &outcome.run, &ages())
            .unwrap()
            .remove(0)
    };
    let v = fail(&store);
    assert_eq!(v.outcome, Outcome::Failing, "{}", v.explanation);
    assert_eq!(v.severity, None);
    assert!(
        v.explanation.contains("never succeeded"),
        "{}",
        v.explanation
    );
    assert!(v.explanation.contains("no such device"));
    assert!(store.open_regressions().unwrap().is_empty());

    // Once it has worked, a failure is a critical regression.
    run_and_judge(&store, &clock, 100);
    let v = fail(&store);
    assert_eq!(v.outcome, Outcome::Regression);
    assert_eq!(v.severity, Some(Severity::Critical));
    assert!(v.explanation.contains("no such device"));
}

#[test]
fn a_level_shift_in_the_history_is_stored_with_the_verdict_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    for _ in 0..8 {
        run_and_judge(&store, &clock, 100);
    }
    let mut last = None;
    for _ in 0..4 {
        last = Some(run_and_judge(&store, &clock, 130));
    }
    let verdict = last.unwrap();
    let shift = verdict
        .change_points
        .iter()
        .find(|s| s.recent)
        .expect("the step is a change point");
    assert_eq!(shift.run_id, 9);
    assert!((shift.point.point.relative_change - 0.30).abs() < 0.02);
    assert_eq!(
        shift.point.movement,
        perfwarden::model::history::Movement::Worse
    );
    let noise = verdict.noise.as_ref().unwrap();
    assert!(noise.within_run_cv.unwrap() < 0.02);
    let report = RunReport::build(&store, store.run(12).unwrap().unwrap()).unwrap();
    let text = report::render(&report, report::Format::Text, Default::default()).unwrap();
    assert!(text.contains("level shift at run 9: +30"), "{text}");
    let health = perfwarden::detect::health::HealthReport::build(&store, None).unwrap();
    assert_eq!(health.suites[0].shifts.len(), 1);
    let review = report::ReviewReport::build(&store, None, None, None).unwrap();
    common::assert_valid_output(&report::json::render("report", &review));
    common::assert_valid_output(&report::json::render("run", &report));
}

#[test]
fn a_benchmark_noisier_than_its_tolerance_is_reported_with_its_detectable_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    // Run levels alternating by 15%: a run-to-run CV near 8%, far above a 5% tolerance.
    for i in 0..7 {
        run_and_judge(&store, &clock, if i % 2 == 0 { 100 } else { 115 });
    }
    let report = report::ReviewReport::build(&store, None, None, None).unwrap();
    let noisy = &report.health.suites[0].too_noisy;
    assert_eq!(noisy.len(), 1, "{noisy:?}");
    assert_eq!(noisy[0].benchmark, "steady");
    assert!(noisy[0].minimum_detectable_change > 0.15, "{noisy:?}");
    assert_eq!(noisy[0].tolerance, 0.05);
    let text = report::render(&report, report::Format::Text, Default::default()).unwrap();
    assert!(text.contains("too noisy for their tolerance"), "{text}");
    common::assert_valid_output(&report::json::render("report", &report));
}

#[test]
fn a_run_worse_than_the_baseline_by_less_than_the_tolerance_is_held_out_of_the_next_baselines() {
    use perfwarden::model::verdict::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    for _ in 0..6 {
        run_and_judge(&store, &clock, 100);
    }
    // 4% slower: beyond the baseline's spread, below the 5% tolerance.
    let outlying = run_and_judge(&store, &clock, 104);
    assert_eq!(
        outlying.outcome,
        Outcome::NoChange,
        "{}",
        outlying.explanation
    );
    let baselines: Vec<Vec<u64>> = (0..4)
        .map(|_| {
            run_and_judge(&store, &clock, 104)
                .evidence
                .unwrap()
                .baseline_runs
        })
        .collect();
    // Runs 8–10 are judged against runs 1–6 (the streak of 7… is held out); at run 11 the
    // streak is four runs long, a shift that stays: it enters.
    assert_eq!(baselines[0], vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(baselines[2], vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(baselines[3], (1..=10).collect::<Vec<u64>>());
}

#[test]
fn an_agent_upgrade_alone_keeps_every_baseline() {
    use perfwarden::model::verdict::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = FakeClock::new();
    for _ in 0..6 {
        run_and_judge(&store, &clock, 100);
    }
    let mut upgraded = context(&store, &clock, CancelToken::new());
    upgraded.environment.agent_version = Some("0.2.0".into());
    let outcome = runner::run_suite(
        &upgraded,
        vec![plan("steady", &clock, common::wobbly(100))],
        &mut Silent,
    )
    .unwrap();
    let v = perfwarden::detect::evaluate_run(&store, &outcome.run, &ages())
        .unwrap()
        .remove(0);
    assert_eq!(v.outcome, Outcome::NoChange, "{}", v.explanation);
    assert_eq!(
        v.evidence.unwrap().baseline_runs,
        vec![1, 2, 3, 4, 5, 6],
        "the baseline goes on across the agent upgrade"
    );
    let change = v.environment_change.expect("the upgrade is noticed");
    assert_eq!(change.summary(), "agent_version 0.1.0 → 0.2.0");
}
