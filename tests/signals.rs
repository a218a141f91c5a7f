//! Signals against the real binary: SIGKILL mid-suite leaves a database that opens with
//! every committed result intact; Ctrl-C (SIGINT) stops at the next sample boundary, keeps
//! what finished, marks the run interrupted and exits 130.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, perfwarden};
use perfwarden::model::records::{BenchStatus, RunStatus};
use perfwarden::store::Store;

/// Starts the `slow` suite with info logs and waits until `results` results are stored.
fn start_and_wait_for_results(state: &std::path::Path, results: usize) -> Child {
    let mut child = perfwarden(state)
        .args(["run", "slow", "--config"])
        .arg(fixture("fast.toml"))
        .env("PERFWARDEN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perfwarden starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stored = 0;
    while stored < results {
        assert!(Instant::now() < deadline, "no progress from perfwarden");
        match lines.next() {
            Some(Ok(line)) if line.contains("result stored") => stored += 1,
            Some(Ok(_)) => {}
            _ => panic!("perfwarden ended early"),
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

#[test]
fn sigkill_mid_suite_keeps_every_committed_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_and_wait_for_results(dir.path(), 2);
    // The third benchmark is now sampling.
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = Store::open(dir.path()).expect("the database opens after SIGKILL");
    assert_eq!(store.recovered_runs(), &[1]);
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    let results = store.results(1).unwrap();
    assert!(
        results.len() >= 2,
        "committed results survive: {}",
        results.len()
    );
    for result in &results {
        assert_eq!(result.status, BenchStatus::Ok);
        let samples = store.samples(1, &result.benchmark).unwrap();
        assert_eq!(samples.len(), result.summary.as_ref().unwrap().count);
    }
    drop(store);
    // And the CLI reads it.
    let (code, stdout, _) = common::run(perfwarden(dir.path()).args(["show", "1"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("interrupted") && stdout.contains("slow-1"),
        "{stdout}"
    );
}

#[test]
fn sigint_stops_at_a_sample_boundary_and_keeps_what_finished() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_and_wait_for_results(dir.path(), 1);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));

    let store = Store::open(dir.path()).unwrap();
    assert!(
        store.recovered_runs().is_empty(),
        "the run was closed properly"
    );
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    let results = store.results(1).unwrap();
    assert_eq!(results[0].status, BenchStatus::Ok);
    let last = results.last().unwrap();
    assert_eq!(last.status, BenchStatus::Interrupted);
    assert!(!store.samples(1, &last.benchmark).unwrap().is_empty());
    assert!(results.len() < 4, "the suite stopped early");
}
