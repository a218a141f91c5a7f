//! The redb store: round trip, time-series queries, retention, crash recovery, schema
//! version guard.

use chrono::{Duration as ChronoDuration, Utc};
use perfwarden::model::metric::MetricDef;
use perfwarden::model::options::BenchOptions;
use perfwarden::model::records::{BenchStatus, BenchmarkResult, RunRecord, RunStatus};
use perfwarden::stats;
use perfwarden::store::{Store, StoreError};
use std::time::Duration;

mod common;
use common::SmallDisk;

fn run_record(suite: &str, started_days_ago: i64) -> RunRecord {
    RunRecord {
        id: 0,
        suite: suite.into(),
        status: RunStatus::Running,
        quick: false,
        started_at: Utc::now() - ChronoDuration::days(started_days_ago),
        finished_at: None,
        host: "h".into(),
        agent_version: "test".into(),
        fingerprint: "abc".into(),
        environment: None,
        benchmarks: vec!["a".into(), "b".into()],
        note: None,
        trigger: None,
        gate: None,
        confirms: None,
    }
}

fn result(run: &RunRecord, bench: &str, samples: &[f64]) -> BenchmarkResult {
    BenchmarkResult {
        run_id: run.id,
        benchmark: bench.into(),
        kind: "cpu.primes".into(),
        config_hash: "cfg".into(),
        fingerprint: run.fingerprint.clone(),
        metric: MetricDef::throughput("event"),
        status: BenchStatus::Ok,
        error: None,
        started_at: run.started_at,
        duration_secs: 1.0,
        iterations_per_sample: 10,
        warmup_samples: 2,
        budget_exhausted: false,
        options: BenchOptions {
            samples: 10,
            warmup: std::time::Duration::from_secs(1),
            min_time: std::time::Duration::from_secs(5),
            time_budget: std::time::Duration::from_secs(30),
            timeout: std::time::Duration::from_secs(120),
            tolerance: 0.05,
            major: 0.15,
            critical: 0.30,
            slo: Vec::new(),
        },
        summary: Some(stats::summarize(samples)),
        latency: None,
        details: None,
        quick: false,
        busy_host: false,
    }
}

#[test]
fn everything_written_reads_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let samples = [1.5, 2.25, 3.125, 1e-9, 123456.789];
    let (run, written) = {
        let store = Store::open(dir.path()).unwrap();
        let mut run = store.begin_run(run_record("weekly", 0)).unwrap();
        let written = result(&run, "b", &samples);
        store.put_result(&written, &samples).unwrap();
        store
            .put_result(&result(&run, "a", &[1.0, 2.0]), &[1.0, 2.0])
            .unwrap();
        run.status = RunStatus::Success;
        run.finished_at = Some(Utc::now());
        store.update_run(&run).unwrap();
        (run, written)
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.run(run.id).unwrap().unwrap(), run);
    let results = store.results(run.id).unwrap();
    // In the planned order (a, b), not key order.
    assert_eq!(
        results
            .iter()
            .map(|r| r.benchmark.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(results[1], written);
    assert_eq!(store.samples(run.id, "b").unwrap(), samples);
    assert!(store.recovered_runs().is_empty());
}

#[test]
fn history_is_a_time_range_per_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for days_ago in [40, 20, 10, 1] {
        let run = store.begin_run(run_record("weekly", days_ago)).unwrap();
        store
            .put_result(&result(&run, "a", &[1.0, 2.0]), &[1.0, 2.0])
            .unwrap();
        if days_ago == 10 {
            store
                .put_result(&result(&run, "b", &[3.0, 4.0]), &[3.0, 4.0])
                .unwrap();
        }
    }
    assert_eq!(store.history("a", None).unwrap().len(), 4);
    let recent = store
        .history("a", Some(Utc::now() - ChronoDuration::days(30)))
        .unwrap();
    assert_eq!(
        recent.iter().map(|r| r.run_id).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(store.history("b", None).unwrap().len(), 1);
    assert_eq!(store.benchmark_names().unwrap(), vec!["a", "b"]);
    let since = store
        .runs(Some("weekly"), Some(Utc::now() - ChronoDuration::days(15)))
        .unwrap();
    assert_eq!(
        since.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![4, 3],
        "newest first"
    );
}

#[test]
fn retention_purges_old_runs_with_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for days_ago in [500, 450, 10] {
        let mut run = store.begin_run(run_record("weekly", days_ago)).unwrap();
        store
            .put_result(&result(&run, "a", &[1.0, 2.0]), &[1.0, 2.0])
            .unwrap();
        run.status = RunStatus::Success;
        store.update_run(&run).unwrap();
    }
    let purged = store
        .purge_before(Utc::now() - ChronoDuration::days(400))
        .unwrap();
    assert_eq!(purged, 2);
    assert_eq!(store.runs(None, None).unwrap().len(), 1);
    assert_eq!(store.history("a", None).unwrap().len(), 1);
    assert!(store.samples(1, "a").unwrap().is_empty());
    assert!(store.results(1).unwrap().is_empty());
}

#[test]
fn a_run_left_running_is_marked_interrupted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let run = store.begin_run(run_record("weekly", 0)).unwrap();
        store
            .put_result(&result(&run, "a", &[1.0, 2.0]), &[1.0, 2.0])
            .unwrap();
        // Dropped without finishing: the process "died".
    }
    // Read-only (no process holds the file, so nothing runs it): shown interrupted, and
    // the file is not changed.
    let file = dir.path().join("perfwarden.redb");
    let before = std::fs::read(&file).unwrap();
    {
        let reader = Store::open_read_only(dir.path()).unwrap().unwrap();
        let seen = reader.run(1).unwrap().unwrap();
        assert_eq!(seen.status, RunStatus::Interrupted);
        assert!(seen.note.unwrap().contains("when perfwarden next writes"));
        assert_eq!(
            reader.runs(None, None).unwrap()[0].status,
            RunStatus::Interrupted
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.recovered_runs(), &[1]);
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    assert!(run.note.unwrap().contains("crash, SIGKILL"));
    assert_eq!(store.results(1).unwrap().len(), 1);
    // New runs continue the id sequence.
    assert_eq!(store.begin_run(run_record("weekly", 0)).unwrap().id, 2);
}

#[test]
fn a_database_from_a_newer_schema_is_refused_and_left_at_its_version() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let path = dir.path().join("perfwarden.redb");
    {
        // Simulate a future perfwarden having written the file.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(perfwarden::store::schema::META).unwrap();
            meta.insert("schema_version", 99).unwrap();
        }
        txn.commit().unwrap();
    }
    match Store::open(dir.path()) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
    // The refused open rolled back: the version is still the newer one.
    use redb::ReadableDatabase;
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(perfwarden::store::schema::META).unwrap();
    assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), 99);
}

#[test]
fn a_second_opener_is_told_the_database_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(StoreError::Locked { .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("redb allows one opener"),
    }
}

#[test]
fn a_patient_opener_waits_for_a_short_lived_holder_and_gives_up_after_its_patience() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    let mut told = 0;
    match Store::open_patiently(dir.path(), Duration::from_millis(300), || told += 1) {
        Err(StoreError::Locked { .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("redb allows one opener"),
    }
    assert_eq!(told, 1, "told once that it waits");
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    let started = std::time::Instant::now();
    Store::open_patiently(dir.path(), Duration::from_secs(10), || {}).expect("opens once released");
    assert!(started.elapsed() >= Duration::from_millis(250));
    holder.join().unwrap();
}

#[test]
fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let run = store.begin_run(run_record("weekly", 0)).unwrap();
        store
            .put_result(&result(&run, "a", &[1.0, 2.0]), &[1.0, 2.0])
            .unwrap();
    }
    let path = dir.path().join("perfwarden.redb");
    {
        // What schema 1 had: no verdict tables, version 1.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(perfwarden::store::schema::VERDICTS)
            .unwrap();
        txn.delete_table(perfwarden::store::schema::OPEN_REGRESSIONS)
            .unwrap();
        txn.delete_table(perfwarden::store::schema::REGRESSION_LOG)
            .unwrap();
        txn.delete_table(perfwarden::store::schema::BASELINE_START)
            .unwrap();
        {
            let mut meta = txn.open_table(perfwarden::store::schema::META).unwrap();
            meta.insert("schema_version", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.results(1).unwrap().len(), 1, "data kept");
    assert!(store.open_regressions().unwrap().is_empty());
    assert_eq!(store.baseline_start("a").unwrap(), None);
    drop(store);
    use redb::ReadableDatabase;
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(perfwarden::store::schema::META).unwrap();
    assert_eq!(
        meta.get("schema_version").unwrap().unwrap().value(),
        perfwarden::store::schema::SCHEMA_VERSION
    );
}

#[test]
fn run_counters_count_each_ended_run_once_and_survive_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for days_ago in [40, 20, 1] {
        let mut run = store.begin_run(run_record("weekly", days_ago)).unwrap();
        run.status = RunStatus::Success;
        store.update_run(&run).unwrap();
        // A second update of an ended run (a note, say) does not count again.
        run.note = Some("x".into());
        store.update_run(&run).unwrap();
    }
    let running = store.begin_run(run_record("weekly", 0)).unwrap();
    let counts = store.run_counts().unwrap();
    assert_eq!(counts, vec![(("weekly".into(), "success".into()), 3)]);
    store
        .purge_before(Utc::now() - ChronoDuration::days(30))
        .unwrap();
    drop(store);
    // Reopening marks the running run interrupted and counts it.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.recovered_runs(), &[running.id]);
    let counts = store.run_counts().unwrap();
    assert_eq!(
        counts,
        vec![
            (("weekly".into(), "interrupted".into()), 1),
            (("weekly".into(), "success".into()), 3)
        ]
    );
}

/// A database written by the release before the fingerprint split (schema 4: four runs of
/// two probes, the last one `--quick`; `tests/fixtures/schema-v4/`, made with that
/// release's `perfwarden run` on `config.toml`) opens with every result and sample intact,
/// its combined fingerprint mapped onto a hardware lineage and its kernel, OS and agent
/// version kept as each run's software environment.
#[test]
fn a_schema_4_database_keeps_every_result_through_the_fingerprint_split() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v4");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture.join("perfwarden.redb"),
        dir.path().join("perfwarden.redb"),
    )
    .unwrap();
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
            .unwrap();
    let store = Store::open(dir.path()).unwrap();
    let runs = store.runs(None, None).unwrap();
    assert_eq!(runs.len(), 4);
    let lineage = &runs[0].fingerprint;
    assert_ne!(lineage, "629ebadb51fd", "the combined hash is replaced");
    let hardware = store
        .fingerprint(lineage)
        .unwrap()
        .expect("hardware record");
    assert_eq!(hardware.cpu_model, "AMD EPYC");
    assert_eq!(hardware.short_hash(), *lineage);
    assert!(store.fingerprint("629ebadb51fd").unwrap().is_none());
    for run in &runs {
        assert_eq!(&run.fingerprint, lineage, "one lineage");
        let environment = store
            .environment(run.environment.as_deref().expect("environment hash"))
            .unwrap()
            .expect("environment record");
        assert_eq!(environment.kernel.as_deref(), Some("6.18.44-fc-v1045"));
        assert_eq!(environment.os_version.as_deref(), Some("12"));
        assert_eq!(environment.agent_version.as_deref(), Some("0.1.0"));
        assert_eq!(environment.microcode, None, "not recorded then: unknown");
    }
    for row in &expected {
        let run_id = row["run_id"].as_u64().unwrap();
        let benchmark = row["benchmark"].as_str().unwrap();
        let result = store
            .results(run_id)
            .unwrap()
            .into_iter()
            .find(|r| r.benchmark == benchmark)
            .expect("result kept");
        let summary = result.summary.as_ref().unwrap();
        assert_eq!(summary.median, row["median"].as_f64().unwrap());
        assert_eq!(summary.count as u64, row["count"].as_u64().unwrap());
        assert_eq!(result.config_hash, row["config_hash"].as_str().unwrap());
        assert_eq!(result.quick, row["quick"].as_bool().unwrap());
        assert_eq!(&result.fingerprint, lineage);
        assert_eq!(
            store.samples(run_id, benchmark).unwrap().len() as u64,
            row["count"].as_u64().unwrap()
        );
    }
    drop(store);
    // Opening again changes nothing.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(&store.runs(None, None).unwrap()[0].fingerprint, lineage);
}

#[test]
fn a_full_disk_fails_the_writes_while_it_lasts_and_the_same_store_works_once_space_is_back() {
    let disk = SmallDisk::mount("4m");
    let state = disk.path().join("state");
    let store = Store::open(&state).unwrap();
    let samples: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    // One successful run with one result, committed.
    let finished_run = || {
        let mut run = store.begin_run(run_record("weekly", 0)).unwrap();
        store
            .put_result(&result(&run, "a", &samples), &samples)
            .unwrap();
        run.status = RunStatus::Success;
        run.finished_at = Some(Utc::now());
        store.update_run(&run).unwrap();
        run
    };
    let committed = finished_run();

    // A run under way when the disk fills.
    let stopped = store.begin_run(run_record("weekly", 0)).unwrap();
    let filler = disk.fill();
    // Writes fail while the disk is full (the database file may hold some free pages, so
    // keep writing until one fails).
    let mut failure = None;
    for k in 0..2000 {
        let mut bench = result(&stopped, "a", &samples);
        bench.benchmark = format!("b{k}");
        if let Err(e) = store.put_result(&bench, &samples) {
            failure = Some(e);
            break;
        }
    }
    let failure = failure.expect("a write fails on a full disk");
    assert!(
        failure.to_string().contains("no space left on the device")
            || failure.to_string().contains("I/O error"),
        "{failure}"
    );
    // And keep failing, without a panic, while it lasts; the stopped run cannot be
    // recorded as failed yet.
    assert!(store.begin_run(run_record("weekly", 0)).is_err());
    assert!(store.abandon_unfinished("the disk is full").is_empty());

    std::fs::remove_file(&filler).unwrap();
    // The same store (a daemon's, never restarted) writes again...
    let after = finished_run();
    // ... the run the full disk stopped is recorded as failed, not left running...
    let stopped = store.run(stopped.id).unwrap().unwrap();
    assert_eq!(stopped.status, RunStatus::Failed, "{stopped:?}");
    assert!(
        stopped
            .note
            .as_deref()
            .unwrap_or("")
            .contains("could not be written"),
        "{stopped:?}"
    );
    // ... and nothing committed before the disk filled is lost.
    assert_eq!(store.run(committed.id).unwrap().unwrap(), committed);
    assert_eq!(store.samples(committed.id, "a").unwrap(), samples);
    assert_eq!(store.run(after.id).unwrap().unwrap(), after);
    drop(store);
    let reopened = Store::open(&state).unwrap();
    assert_eq!(reopened.run(committed.id).unwrap().unwrap(), committed);
    assert_eq!(reopened.run(after.id).unwrap().unwrap(), after);
}
