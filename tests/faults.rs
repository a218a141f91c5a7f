//! The fault drills as tests: a damaged database (bit flips, truncation, overwritten
//! blocks, one bad record) gives a clear error and never a panic; a read-only copy is
//! inspected with every read command; an export imported into an empty state directory
//! reproduces the read commands byte for byte; SIGKILL at random moments of `run` never
//! loses a committed result.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{RegressingTree, assert_valid_output, fixture, perfwarden, run};
use rand::{Rng, SeedableRng};

/// `perfwarden --config fast.toml ARGS` on `state`, with no daemon to reach.
fn fast_command(state: &Path, args: &[&str]) -> std::process::Command {
    let mut command = perfwarden(state);
    command
        .arg("--config")
        .arg(fixture("fast.toml"))
        .args(args)
        .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock");
    command
}

/// [`fast_command`], run to the end.
fn fast(state: &Path, args: &[&str]) -> (i32, String, String) {
    run(&mut fast_command(state, args))
}

/// A state directory with `runs` runs of the smoke suite.
fn smoke_history(dir: &Path, runs: usize) -> PathBuf {
    let state = dir.join("state");
    for _ in 0..runs {
        let (code, _, stderr) = fast(&state, &["run", "smoke"]);
        assert_eq!(code, 0, "{stderr}");
    }
    state
}

fn database(state: &Path) -> PathBuf {
    state.join("perfwarden.redb")
}

/// A fresh state directory holding `bytes` as its database.
fn state_with(parent: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let state = parent.join(name);
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(database(&state), bytes).unwrap();
    state
}

/// A command's outcome on a damaged file: no panic, and a failure says what is wrong and
/// what to do.
fn assert_clear(what: &str, (code, stdout, stderr): &(i32, String, String)) {
    assert_ne!(*code, 101, "{what} panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
    if *code != 0 && !(what.contains("db check") && *code == 3) {
        assert!(
            stderr.starts_with("error: ") || stderr.contains("\nerror: "),
            "{what}: {stderr}"
        );
        assert!(
            stderr.contains("hint:") || stderr.contains("cannot be read"),
            "{what} must say what to do:\n{stdout}{stderr}"
        );
    }
}

#[test]
fn a_damaged_database_gives_a_clear_error_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let source = smoke_history(dir.path(), 4);
    let original = std::fs::read(database(&source)).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_202);
    let mut outcomes = std::collections::BTreeMap::<i32, usize>::new();
    for case in 0..45 {
        let mut bytes = original.clone();
        let damage = match case % 3 {
            0 => {
                let flips = rng.random_range(1..=8);
                for _ in 0..flips {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] ^= 1 << rng.random_range(0..8);
                }
                format!("{flips} bit flips")
            }
            1 => {
                let keep = rng.random_range(0..bytes.len());
                bytes.truncate(keep);
                format!("truncated to {keep} bytes")
            }
            _ => {
                let at = rng.random_range(0..bytes.len());
                let len = rng.random_range(16..4096).min(bytes.len() - at);
                rng.fill(&mut bytes[at..at + len]);
                format!("{len} bytes overwritten at {at}")
            }
        };
        let state = state_with(dir.path(), &format!("case-{case}"), &bytes);
        let mut commands: Vec<Vec<&str>> = vec![
            vec!["runs"],
            vec!["show", "4"],
            vec!["history", "primes"],
            vec!["regressions", "--all"],
            vec!["report"],
            vec!["db", "check"],
            vec!["db", "export"],
        ];
        if case % 5 == 0 {
            commands.push(vec!["run", "smoke"]);
        }
        for args in commands {
            let outcome = fast(&state, &args);
            assert_clear(
                &format!("`{}` on a file with {damage}", args.join(" ")),
                &outcome,
            );
            *outcomes.entry(outcome.0).or_default() += 1;
        }
    }
    // The drill reaches both outcomes: readable damage and refused files.
    assert!(outcomes.get(&0).copied().unwrap_or(0) > 20, "{outcomes:?}");
    assert!(outcomes.get(&3).copied().unwrap_or(0) > 20, "{outcomes:?}");
}

/// Overwrites the stored record of run `id` with bytes that are not a run.
fn damage_run_record(state: &Path, id: u64) {
    const RUNS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("runs");
    let db = redb::Database::open(database(state)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(RUNS)
        .unwrap()
        .insert(id, b"{\"id\": 2, \"suite\": \xff".as_slice())
        .unwrap();
    txn.commit().unwrap();
}

#[test]
fn one_unreadable_record_is_skipped_and_named_and_the_rest_is_rescued() {
    let dir = tempfile::tempdir().unwrap();
    let state = smoke_history(dir.path(), 3);
    damage_run_record(&state, 2);

    let (code, stdout, stderr) = fast(&state, &["--format", "json", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<u64> = assert_valid_output(&stdout)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [3, 1]);
    assert!(
        stderr.contains("the stored record runs 2 cannot be read"),
        "{stderr}"
    );

    // A new run still opens the file (the recovery scan skips the bad record).
    let (code, _, stderr) = fast(&state, &["run", "smoke"]);
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = fast(&state, &["--format", "json", "db", "check"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let check = assert_valid_output(&stdout);
    assert_eq!(check["healthy"], false);
    assert_eq!(check["unreadable"], serde_json::json!(["runs 2"]));
    assert_eq!(check["integrity"], "ok");
    let (_, text, _) = fast(&state, &["db", "check"]);
    assert!(
        text.contains("runs 2") && text.contains("db export"),
        "{text}"
    );

    // Rescue: export what is readable, import it into a new state directory.
    let export = dir.path().join("rescue.jsonl");
    let (code, _, stderr) = fast(
        &state,
        &["db", "export", "--output", export.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 unreadable record"), "{stderr}");
    let rescued = dir.path().join("rescued");
    let (code, stdout, stderr) = fast(&rescued, &["db", "import", export.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("3 runs"), "{stdout}");
    let (code, stdout, stderr) = fast(&rescued, &["--format", "json", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        assert_valid_output(&stdout)["runs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(stderr.is_empty(), "{stderr}");
    let (code, _, stderr) = fast(&rescued, &["db", "check"]);
    assert_eq!(code, 0, "{stderr}");
}

/// A state directory with a confirmed critical regression: five runs of a directory scan,
/// then the tree made ten times slower and two more runs. The quiet-host gate is off: the
/// tests beside it load the machine, and runs it flagged busy would not be judged alike.
fn history_with_a_regression(dir: &Path) -> (PathBuf, PathBuf) {
    let tree = RegressingTree::create(dir, "tree");
    let config = dir.join("perfwarden.toml");
    let text = std::fs::read_to_string(fixture("fast.toml")).unwrap()
        + "\n[daemon.quiet]\nenabled = false\n"
        + "\n[suites.tree]\nschedule = \"@daily\"\nbenchmarks = [\"tree\", \"primes\"]\n\n"
        + &tree.benchmark_toml("tree");
    std::fs::write(&config, text).unwrap();
    let state = dir.join("state");
    let run_tree = || {
        let (code, _, stderr) = run(perfwarden(&state)
            .arg("--config")
            .arg(&config)
            .args(["run", "tree"])
            .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock"));
        assert!(code == 0, "{stderr}");
    };
    for _ in 0..5 {
        run_tree();
    }
    tree.slow_down();
    run_tree();
    run_tree();
    (state, config)
}

/// The read commands a person or a script runs on a history, text and JSON.
const READ_COMMANDS: &[&[&str]] = &[
    &["runs"],
    &["show", "7"],
    &["show", "1"],
    &["history", "tree"],
    &["history", "primes"],
    &["compare", "1", "7"],
    &["regressions"],
    &["regressions", "--all"],
    &["changes"],
    &["baseline", "show"],
    &["report"],
];

fn read_outputs(state: &Path, config: &Path) -> Vec<(String, i32, String)> {
    let mut outputs = Vec::new();
    for args in READ_COMMANDS {
        for format in ["text", "json"] {
            let (code, stdout, stderr) = run(perfwarden(state)
                .arg("--config")
                .arg(config)
                .args(["--format", format])
                .args(*args)
                .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock"));
            assert!(stderr.is_empty(), "{args:?}: {stderr}");
            outputs.push((format!("{format} {}", args.join(" ")), code, stdout));
        }
    }
    outputs
}

#[test]
fn an_export_imported_into_an_empty_state_directory_reproduces_every_read_command() {
    let dir = tempfile::tempdir().unwrap();
    let (state, config) = history_with_a_regression(dir.path());
    let (_, regressions, _) = run(perfwarden(&state)
        .args(["--config", config.to_str().unwrap(), "regressions"])
        .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock"));
    assert!(
        regressions.contains("tree"),
        "the history must hold a regression: {regressions}"
    );

    let export = dir.path().join("history.jsonl");
    let (code, _, stderr) = fast(&state, &["db", "export", "-o", export.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let moved = dir.path().join("new-hardware");
    let (code, stdout, stderr) = fast(
        &moved,
        &["--format", "json", "db", "import", export.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(assert_valid_output(&stdout)["runs"], 7);

    let before = read_outputs(&state, &config);
    let after = read_outputs(&moved, &config);
    for ((what, code, output), (_, moved_code, moved_output)) in before.iter().zip(&after) {
        assert_eq!(code, moved_code, "{what}");
        let first_difference = output
            .lines()
            .zip(moved_output.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b);
        assert!(
            first_difference.is_none() && output.len() == moved_output.len(),
            "{what} differs after export and import: {first_difference:?}"
        );
    }
    // The export of the imported history is the same file but for its header's time.
    let again = dir.path().join("again.jsonl");
    let (code, _, stderr) = fast(&moved, &["db", "export", "-o", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let body = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().skip(1).map(str::to_string).collect::<Vec<_>>()
    };
    let (exported, reexported) = (body(&export), body(&again));
    for (line, (a, b)) in exported.iter().zip(&reexported).enumerate() {
        assert_eq!(
            a,
            b,
            "line {} of the export differs after the import",
            line + 2
        );
    }
    assert_eq!(exported.len(), reexported.len());

    // Never merged into a history, never written over a file, never from a cut-short file.
    let (code, _, stderr) = fast(&moved, &["db", "import", export.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already holds runs"), "{stderr}");
    let (code, _, stderr) = fast(&state, &["db", "export", "-o", export.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("never overwritten"), "{stderr}");
    let text = std::fs::read_to_string(&export).unwrap();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() * 2 / 3]).unwrap();
    let (code, _, stderr) = fast(
        &dir.path().join("cut-state"),
        &["db", "import", cut.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cut short") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    let (code, stdout, _) = fast(&dir.path().join("cut-state"), &["runs"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("no runs recorded"), "{stdout}");
}

/// Runs `args` as `nobody` with a copy of the binary it may execute.
fn as_nobody(binary: &Path, state: &Path, args: &[&str]) -> (i32, String, String) {
    run(std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(binary)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock")
        .env("HOME", "/nonexistent")
        .env("NO_COLOR", "1"))
}

fn public_dir(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_read_only_copy_is_inspected_with_every_read_command_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    public_dir(dir.path());
    let (state, config) = history_with_a_regression(dir.path());
    // A copy `nobody` may read but not write: root's directory and file, 0755 and 0644.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    public_dir(&copy);
    std::fs::copy(database(&state), database(&copy)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(database(&copy), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    public_dir(&config.parent().unwrap().join("tree"));
    let binary = dir.path().join("perfwarden");
    std::fs::copy(common::bin(), &binary).unwrap();
    let before = std::fs::read(database(&copy)).unwrap();
    let config_arg = ["--config", config.to_str().unwrap()];
    for args in READ_COMMANDS.iter().copied().chain([
        &["db", "check"][..],
        &["db", "export"][..],
        &["status"][..],
    ]) {
        let args: Vec<&str> = config_arg
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        let (code, stdout, stderr) = as_nobody(&binary, &copy, &args);
        let expected = if args.contains(&"status") { 4 } else { 0 };
        assert_eq!(
            code, expected,
            "{args:?} on a read-only copy: {stdout}{stderr}"
        );
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert!(!stdout.is_empty(), "{args:?}");
    }
    assert_eq!(
        std::fs::read(database(&copy)).unwrap(),
        before,
        "a read command changed the file"
    );
    // Writing is refused with the reason, and the file stays as it was.
    let (code, _, stderr) = as_nobody(&binary, &copy, &["baseline", "reset", "tree"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert_eq!(std::fs::read(database(&copy)).unwrap(), before);
}

#[test]
fn read_commands_work_on_a_full_disk() {
    let disk = common::SmallDisk::mount("4m");
    let state = disk.path().join("state");
    for _ in 0..2 {
        let (code, _, stderr) = fast(&state, &["run", "smoke"]);
        assert_eq!(code, 0, "{stderr}");
    }
    let _filler = disk.fill();
    for args in [
        &["runs"][..],
        &["show", "2"],
        &["history", "primes"],
        &["report"],
        &["db", "check"],
    ] {
        let (code, stdout, stderr) = fast(&state, args);
        assert_eq!(code, 0, "{args:?} on a full disk: {stdout}{stderr}");
    }
}

#[test]
fn a_run_the_disk_fills_under_prints_what_it_measured_and_is_recorded_as_failed() {
    let disk = common::SmallDisk::mount("4m");
    let state = disk.path().join("state");
    let (code, _, stderr) = fast(&state, &["run", "smoke"]);
    assert_eq!(code, 0, "{stderr}");
    let child = fast_command(&state, &["run", "slow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The runner makes each benchmark's scratch directory as it starts it: once slow-2
    // starts, slow-1 is committed. Then the disk fills.
    let second = state.join("scratch/run-2/slow-2");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !second.exists() {
        assert!(std::time::Instant::now() < deadline, "slow-2 never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let filler = disk.fill();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains("error: no space left on the device"),
        "{stderr}"
    );
    // The report of what was measured before the disk filled.
    assert!(
        stdout.starts_with("run 2 · suite slow · failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: failed: no space left on the device"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("slow-1 ")),
        "{stdout}"
    );
    assert!(
        stdout.contains("not run: ") && stdout.contains("slow-4"),
        "{stdout}"
    );

    // While the disk is full, and after space is back and another run: failed, with the
    // reason, never the crash note of an interrupted run.
    let run_two = |state: &Path| {
        let (code, stdout, stderr) = fast(state, &["--format", "json", "show", "2"]);
        assert_eq!(code, 0, "{stderr}");
        let run = assert_valid_output(&stdout)["run"].clone();
        assert_eq!(run["status"], "failed", "{run}");
        let note = run["note"].as_str().unwrap().to_string();
        assert!(
            note.starts_with("failed: no space left on the device"),
            "{note}"
        );
        assert!(!note.contains("hint:"), "{note}");
    };
    run_two(&state);
    std::fs::remove_file(filler).unwrap();
    run_two(&state);
    let (code, _, stderr) = fast(&state, &["run", "smoke"]);
    assert_eq!(code, 0, "once space is back: {stderr}");
    run_two(&state);
    assert!(!state.join("perfwarden.run-end").exists());
}

/// The `results` and `samples` lines of `db export`: what a committed result is.
fn committed_results(state: &Path) -> std::collections::BTreeSet<String> {
    let (code, stdout, stderr) = fast(state, &["db", "export"]);
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("{\"table\":\"results\"") || l.starts_with("{\"table\":\"samples\"")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn sigkill_at_random_moments_of_a_run_never_loses_a_committed_result() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut committed = std::collections::BTreeSet::new();
    let mut kills = 0;
    for _ in 0..22 {
        let mut child = fast_command(&state, &["run", "slow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(50..4000)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let now = committed_results(&state);
        let lost: Vec<_> = committed.difference(&now).collect();
        assert!(lost.is_empty(), "results lost after a SIGKILL: {lost:?}");
        committed = now;
    }
    assert!(kills >= 20, "only {kills} runs were killed");
    assert!(
        committed.len() >= 20,
        "too few results were committed: {}",
        committed.len()
    );
    // Every killed run is recorded as interrupted, none is left running.
    let (code, stdout, stderr) = fast(&state, &["--format", "json", "runs"]);
    assert_eq!(code, 0, "{stderr}");
    let runs = assert_valid_output(&stdout);
    let statuses: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    // (A kill before the run was recorded leaves no run.)
    assert!(
        statuses
            .iter()
            .all(|s| ["interrupted", "success"].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == "interrupted").count() >= 15,
        "{statuses:?}"
    );
}
