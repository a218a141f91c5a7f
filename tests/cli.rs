//! The binary as a user runs it: exit codes, JSON output against the schema, a second run
//! showing the change against the first, read commands on an empty state directory.

mod common;

use common::{assert_valid_output, fixture, perfwarden, run};

#[test]
fn help_and_version_exit_zero_usage_errors_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(perfwarden(dir.path()).arg("--version")).0, 0);
    assert_eq!(run(perfwarden(dir.path()).arg("--help")).0, 0);
    let (code, _, stderr) = run(perfwarden(dir.path()).arg("--no-such-flag"));
    assert_eq!(code, 1, "{stderr}");
    let (code, _, _) = run(perfwarden(dir.path()).arg("explode"));
    assert_eq!(code, 1);
}

#[test]
fn run_stores_results_and_a_second_run_shows_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("fast.toml");
    let (code, stdout, stderr) = run(perfwarden(dir.path())
        .args(["run", "smoke", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("run 1 · suite smoke · success"), "{stdout}");
    assert!(
        stdout.contains("primes") && stdout.contains("events/s"),
        "{stdout}"
    );
    assert!(stdout.contains("(first run)"), "{stdout}");

    let (code, stdout, stderr) = run(perfwarden(dir.path())
        .args(["run", "smoke", "--format", "json", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{stderr}");
    let value = assert_valid_output(&stdout);
    assert_eq!(value["kind"], "run");
    assert_eq!(value["run"]["id"], 2);
    for result in value["results"].as_array().unwrap() {
        assert_eq!(result["status"], "ok");
        let change = &result["change"];
        assert_eq!(change["baseline_runs"], serde_json::json!([1]), "{result}");
        assert!(change["relative"].is_number());
        let ci = &change["interval"];
        assert!(ci["low"].as_f64().unwrap() <= ci["high"].as_f64().unwrap());
    }

    // Every read command, in text and JSON.
    for args in [
        vec!["runs"],
        vec!["runs", "--suite", "smoke", "--since", "1d"],
        vec!["show", "1"],
        vec!["history", "primes"],
        vec!["history", "primes", "--since", "30d"],
        vec!["compare", "1", "2"],
        vec!["fingerprint"],
        vec!["check"],
        vec!["regressions"],
        vec!["regressions", "--all"],
        vec!["baseline", "show"],
        vec!["baseline", "show", "primes"],
        vec!["report"],
        vec!["report", "--suite", "smoke"],
    ] {
        let (code, text, stderr) = run(perfwarden(dir.path()).args(&args));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!text.trim().is_empty(), "{args:?}");
        let (code, json, stderr) = run(perfwarden(dir.path())
            .args(&args)
            .args(["--format", "json"]));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert_valid_output(&json);
    }
    let (_, history, _) =
        run(perfwarden(dir.path()).args(["history", "primes", "--format", "json"]));
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history["points"].as_array().unwrap().len(), 2);
    assert_eq!(history["unit"], "events/s");
    let (_, compare, _) = run(perfwarden(dir.path()).args(["compare", "1", "2"]));
    assert!(
        compare.contains("primes") && compare.contains('%'),
        "{compare}"
    );
}

#[test]
fn run_only_the_named_benchmarks() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(perfwarden(dir.path())
        .args([
            "run", "smoke", "--bench", "json", "--format", "json", "--config",
        ])
        .arg(fixture("fast.toml")));
    assert_eq!(code, 0, "{stderr}");
    let value = assert_valid_output(&stdout);
    let names: Vec<&str> = value["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["benchmark"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["json"]);
    assert_eq!(value["results"][0]["metric"]["quantity"], "bandwidth");
}

#[test]
fn unknown_suite_or_benchmark_is_a_usage_error_naming_the_alternatives() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["run", "weakly"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no suite named \"weakly\""), "{stderr}");
    assert!(stderr.contains("did you mean `weekly`?"), "{stderr}");
    let (code, _, stderr) =
        run(perfwarden(dir.path()).args(["run", "weekly", "--bench", "cpu-primes-2t"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("has no benchmark \"cpu-primes-2t\""),
        "{stderr}"
    );
    // Nothing was created for a command that could not start.
    assert!(!dir.path().join("perfwarden.redb").exists());
}

#[test]
fn read_commands_on_an_empty_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("never-used");
    let (code, stdout, _) = run(perfwarden(&state).arg("runs"));
    assert_eq!(code, 0);
    assert!(stdout.contains("no runs recorded yet"), "{stdout}");
    let (code, _, stderr) = run(perfwarden(&state).args(["show", "1"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("nothing was recorded there yet"),
        "{stderr}"
    );
    assert!(
        !state.exists(),
        "read commands must not create the state directory"
    );
}

#[test]
fn unknown_run_id_and_benchmark_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, _) = run_smoke_json(dir.path());
    assert_eq!(code, 0);
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["show", "42"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no run 42"), "{stderr}");
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["history", "nope"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("benchmarks with results: json"), "{stderr}");
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["compare", "1", "9"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no run 9"), "{stderr}");
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["report", "--suite", "nope"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no runs of suite \"nope\""), "{stderr}");
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["runs", "--since", "30"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no unit"), "{stderr}");
}

#[test]
fn unusable_state_directory_exits_three_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let (code, _, stderr) = run(perfwarden(&file.join("state"))
        .args(["run", "smoke", "--config"])
        .arg(fixture("fast.toml")));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("cannot create the state directory"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: pass --state-dir"), "{stderr}");
}

#[test]
fn a_failing_benchmark_exits_two_and_the_suite_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-tree");
    std::fs::create_dir(&empty).unwrap();
    let config = dir.path().join("failing.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nsamples = 3\nwarmup = \"0s\"\nmin_time = \"20ms\"\n\n[suites.mixed]\nschedule = \"@daily\"\nbenchmarks = [\"empty-scan\", \"json\"]\n\n[benchmarks.empty-scan]\nkind = \"scan.tree\"\npath = \"{}\"\n\n[benchmarks.json]\nkind = \"parse.config\"\nformat = \"json\"\n",
            empty.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = run(perfwarden(&state)
        .args(["run", "mixed", "--format", "json", "--config"])
        .arg(&config));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    let value = assert_valid_output(&stdout);
    assert_eq!(value["run"]["status"], "failed");
    assert_eq!(value["results"][0]["status"], "failed");
    assert!(
        value["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no files found")
    );
    assert_eq!(value["results"][1]["status"], "ok");
    let (_, text, _) = run(perfwarden(&state).args(["show", "1"]));
    assert!(
        text.contains("problems:") && text.contains("no files found"),
        "{text}"
    );
}

/// `run smoke --bench json` on the fast test config, in `state`.
fn run_smoke_json(state: &std::path::Path) -> (i32, String, String) {
    run(perfwarden(state)
        .args(["run", "smoke", "--bench", "json", "--config"])
        .arg(fixture("fast.toml")))
}

#[test]
fn state_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, _, stderr) = run_smoke_json(&state);
    assert_eq!(code, 0, "{stderr}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("perfwarden.redb")), 0o600);
    assert!(
        !state.join("scratch").exists(),
        "scratch space is removed after a run"
    );
}

#[test]
fn config_default_prints_the_embedded_config_which_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(perfwarden(dir.path()).args(["config", "default"]));
    assert_eq!(code, 0);
    assert_eq!(stdout, perfwarden::config::DEFAULT_CONFIG);
    let file = dir.path().join("default.toml");
    std::fs::write(&file, &stdout).unwrap();
    let (code, stdout, _) = run(perfwarden(dir.path())
        .args(["check", "--config"])
        .arg(&file));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(": ok (3 suites: daily, monthly, weekly;"),
        "{stdout}"
    );
}

#[test]
fn analyze_finds_a_step_in_a_csv_and_rejects_bad_input_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("latency.csv");
    let mut csv = String::from("timestamp,value\n");
    for i in 0..24 {
        let level = if i < 14 { 200.0 } else { 250.0 };
        let wobble = [0.0, 1.5, -1.0, 0.5, -0.5][i % 5];
        csv.push_str(&format!(
            "2026-03-{:02}T03:00:00Z,{}\n",
            i + 1,
            level + wobble
        ));
    }
    std::fs::write(&series, csv).unwrap();
    let (code, stdout, stderr) = run(perfwarden(dir.path())
        .args(["analyze", "--format", "json", "--input"])
        .arg(&series));
    assert_eq!(code, 0, "{stderr}");
    let value = assert_valid_output(&stdout);
    let points = value["change_points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{stdout}");
    assert_eq!(points[0]["index"], 14);
    assert_eq!(points[0]["timestamp"], "2026-03-15T03:00:00Z");
    assert_eq!(points[0]["movement"], "worse");
    assert_eq!(value["slope_per"], "second");
    let (code, text, _) = run(perfwarden(dir.path())
        .args(["analyze", "--direction", "higher", "--input"])
        .arg(&series));
    assert_eq!(code, 0);
    assert!(text.contains("better"), "{text}");
    assert!(
        !dir.path().join("perfwarden.redb").exists(),
        "analyze never touches the database"
    );

    for (content, message) in [
        ("", "no values (the input is empty)"),
        ("1.0\n2.0\ntwelve\n", "line 3: \"twelve\" is not a number"),
        ("[1.0, 2.0, NaN]", "line 1: not a JSON array"),
        ("1\nnan\n", "line 2: \"nan\" is not a finite number"),
    ] {
        let file = dir.path().join("bad.txt");
        std::fs::write(&file, content).unwrap();
        let (code, _, stderr) = run(perfwarden(dir.path())
            .args(["analyze", "--input"])
            .arg(&file));
        assert_eq!(code, 1, "{content:?}");
        assert!(stderr.contains(message), "{content:?}: {stderr}");
    }
}

#[test]
fn baseline_commands_pin_reset_and_refuse_to_accept_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let (code, _, stderr) = run_smoke_json(dir.path());
        assert_eq!(code, 0, "{stderr}");
    }
    // Real probes are noisy (tests run in parallel): run 2 may even open a critical
    // regression against a one-run baseline, which then keeps it out of the baseline. So
    // only what pin/reset guarantee is asserted.
    let baseline_runs = |value: &serde_json::Value| -> Vec<u64> {
        value["baselines"][0]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap())
            .collect()
    };
    let (code, stdout, _) =
        run(perfwarden(dir.path()).args(["baseline", "show", "json", "--format", "json"]));
    assert_eq!(code, 0);
    let value = assert_valid_output(&stdout);
    let runs = baseline_runs(&value);
    assert!(
        runs.first() == Some(&1) && runs.iter().all(|r| *r <= 2),
        "{runs:?}"
    );
    assert_eq!(value["baselines"][0]["sufficient"], false);

    let (code, stdout, _) = run(perfwarden(dir.path()).args(["baseline", "pin", "2"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("now start at run 2"), "{stdout}");
    let (_, stdout, _) =
        run(perfwarden(dir.path()).args(["baseline", "show", "json", "--format", "json"]));
    let value = assert_valid_output(&stdout);
    assert!(baseline_runs(&value).iter().all(|r| *r >= 2), "{stdout}");
    assert_eq!(value["baselines"][0]["starts_at_run"], 2);

    let (code, _, stderr) = run(perfwarden(dir.path()).args(["baseline", "accept", "json"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no open regression") || stderr.contains("only suspected"),
        "{stderr}"
    );
    let (code, stdout, _) = run(perfwarden(dir.path()).args(["baseline", "reset", "json"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("rebuilds from run 3"), "{stdout}");
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["baseline", "accept", "json"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no open regression"),
        "reset closed any regression: {stderr}"
    );
    let (code, _, stderr) = run(perfwarden(dir.path()).args(["baseline", "reset", "nope"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no results for benchmark \"nope\""),
        "{stderr}"
    );
    let (code, _, _) = run(perfwarden(dir.path()).args(["baseline", "pin", "99"]));
    assert_eq!(code, 1);
    let (code, stdout, _) = run(perfwarden(dir.path()).arg("regressions"));
    assert_eq!(code, 0);
    assert!(stdout.contains("no open regressions"), "{stdout}");
}

#[test]
fn slos_are_evaluated_on_every_run_and_reported_apart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("slo.toml");
    std::fs::write(
        &config,
        "[defaults]\nsamples = 3\nwarmup = \"0s\"\nmin_time = \"20ms\"\n\n[suites.s]\nschedule = \"@daily\"\nbenchmarks = [\"json\"]\n\n[benchmarks.json]\nkind = \"parse.config\"\nformat = \"json\"\nslo = [\"bandwidth > 1KiB/s\", \"median > 1000GiB/s\", \"cv < 1000%\"]\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = run(perfwarden(&state)
        .args(["run", "s", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("SLO violations:"), "{stdout}");
    assert!(stdout.contains("`median > 1000GiB/s` not met"), "{stdout}");
    assert!(!stdout.contains("`bandwidth > 1KiB/s` not met"), "{stdout}");
    let (_, json, _) = run(perfwarden(&state).args(["show", "1", "--format", "json"]));
    let value = assert_valid_output(&json);
    let slo = &value["results"][0]["verdict"]["slo"];
    assert_eq!(slo[0]["met"], true);
    assert_eq!(slo[1]["met"], false);
    assert_eq!(slo[1]["threshold"], 1000.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(slo[2]["met"], true);
    // The summary line says it; --fail-on slo makes it the exit code, as CI needs.
    assert!(
        stderr.contains("✗ s run 1: 1 SLO missed (json `median > 1000GiB/s`)"),
        "{stderr}"
    );
    let (code, _, stderr) = run(perfwarden(&state)
        .args([
            "run",
            "s",
            "--fail-on",
            "slo",
            "--fail-on",
            "confirmed",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("--fail-on slo: exit 5"), "{stderr}");
    // A regression is not an SLO miss: --fail-on regression alone passes this run.
    let (code, _, stderr) = run(perfwarden(&state)
        .args(["run", "s", "--fail-on", "regression", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn every_run_ends_with_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(perfwarden(dir.path())
        .args(["run", "smoke", "--fail-on", "regression", "--config"])
        .arg(common::fixture("fast.toml")));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("✓ smoke run 1: 2 benchmarks, no regression, every SLO met"),
        "{stderr}"
    );
}

#[test]
fn a_shared_state_directory_is_refused_and_left_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let existing = |name: &str, mode: u32| {
        let path = dir.path().join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let shared = existing("shared", 0o1777);
    let (code, _, stderr) = run_smoke_json(&shared);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("anybody may write to it (mode 1777)"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: pass --state-dir"), "{stderr}");
    assert_eq!(mode(&shared), 0o1777, "never chmod-ed");
    assert!(!shared.join("perfwarden.redb").exists());
    // A directory of its own under it works, created 0700.
    let own = shared.join("perfwarden");
    let (code, _, stderr) = run_smoke_json(&own);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(mode(&own), 0o700);
    // An existing directory of its owner keeps its mode.
    let open = existing("open", 0o755);
    let (code, _, stderr) = run_smoke_json(&open);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(mode(&open), 0o755);
}

#[test]
fn a_socket_path_naming_a_file_fails_check_and_the_daemon_and_the_file_stays() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "keep me").unwrap();
    let (code, stdout, _) = run(perfwarden(&state)
        .env("PERFWARDEN_SOCKET", &notes)
        .args(["check", "--config"])
        .arg(fixture("fast.toml")));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("daemon.socket"), "{stdout}");
    assert!(stdout.contains("not a socket"), "{stdout}");
    let (code, _, stderr) = run(perfwarden(&state)
        .env("PERFWARDEN_SOCKET", &notes)
        .args(["daemon", "--config"])
        .arg(fixture("fast.toml")));
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("is taken by something that is not a socket"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "keep me");
}

#[test]
fn a_user_who_may_not_read_the_state_directory_is_told_so_not_shown_an_empty_history() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, _, stderr) = run_smoke_json(&state);
    assert_eq!(code, 0, "{stderr}");
    // The state directory is 0700 and root's; `nobody` may not enter it. The socket is
    // pointed at a path with no daemon, so the command reaches the store.
    // A copy of the binary `nobody` may run wherever the checkout lives.
    let public = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(public.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let binary = public.path().join("perfwarden");
    std::fs::copy(common::bin(), &binary).unwrap();
    let mut command = std::process::Command::new("setpriv");
    command
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&binary)
        .arg("--state-dir")
        .arg(&state)
        .arg("runs")
        .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock")
        .env("NO_COLOR", "1");
    let (code, stdout, stderr) = run(&mut command);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stderr.contains("permission denied reading"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!stdout.contains("no runs recorded"), "{stdout}");
}

#[test]
fn status_with_a_broken_config_and_no_daemon_says_both_and_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let fast = |args: &[&str]| {
        run(perfwarden(&state)
            .arg("--config")
            .arg(fixture("fast.toml"))
            .args(args)
            .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock"))
    };
    let (code, _, stderr) = fast(&["run", "smoke"]);
    assert_eq!(code, 0, "{stderr}");
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[suites.x]\nschedule = \"@nightly\"\nbenchmarks = []\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(perfwarden(&state)
        .arg("--config")
        .arg(&broken)
        .args(["--format", "json", "status"])
        .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock"));
    assert_eq!(code, 4, "no daemon answers: {stdout}{stderr}");
    assert!(
        stderr.contains("@nightly") && stderr.contains("no daemon answers"),
        "{stderr}"
    );
    let status = assert_valid_output(&stdout);
    assert!(status["daemon"].is_null());
    assert_eq!(status["health_score"], 100.0, "{status}");
}

/// A directory anybody may enter, holding a copy of the binary that `nobody` may run.
fn public_copy_of_the_binary() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = dir.path().join("perfwarden");
    std::fs::copy(common::bin(), &binary).unwrap();
    (dir, binary)
}

/// `check` tries what the daemon does at start with `[daemon] socket_group`: a group that
/// does not exist, or one this process may not hand a file to (here `nobody`, not in
/// `adm`; under systemd, a unit without `SupplementaryGroups=`), is a problem, not a
/// daemon that exits at start.
#[test]
fn check_tries_the_socket_group_the_daemon_would_use() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, binary) = public_copy_of_the_binary();
    let config = |group: &str| {
        let path = dir.path().join(format!("{group}.toml"));
        let text = std::fs::read_to_string(fixture("fast.toml")).unwrap();
        std::fs::write(
            &path,
            format!("[daemon]\nsocket_group = \"{group}\"\n{text}"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    };
    let check = |config: &std::path::Path, as_nobody: bool| {
        let mut command = if as_nobody {
            let mut command = std::process::Command::new("setpriv");
            command
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(&binary);
            command
        } else {
            std::process::Command::new(&binary)
        };
        run(command
            .arg("--config")
            .arg(config)
            .args(["--state-dir", "/nonexistent/state", "check"])
            .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock")
            .env("NO_COLOR", "1"))
    };
    // Root may hand a file to any group that exists.
    let (code, stdout, _) = check(&config("adm"), false);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = check(&config("adm"), true);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("`daemon.socket_group`"), "{stdout}");
    assert!(stdout.contains("SupplementaryGroups=adm"), "{stdout}");
    let (code, stdout, _) = check(&config("no-such-group-here"), false);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("no group named"), "{stdout}");
}

/// At the task limit (here `ulimit -u` for `nobody`; under systemd the unit's `TasksMax`),
/// a benchmark that needs more threads fails at once with the reason, leaves no thread
/// behind, and the next multi-threaded benchmark runs.
#[test]
fn a_benchmark_beyond_the_task_limit_fails_at_once_and_poisons_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, binary) = public_copy_of_the_binary();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(65534), None).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.path().join("threads.toml");
    std::fs::write(
        &config,
        "[daemon.quiet]\nenabled = false\n[defaults]\nsamples = 5\nwarmup = \"0s\"\nmin_time = \"50ms\"\ntimeout = \"60s\"\n\
         [suites.s]\nschedule = \"@daily\"\nbenchmarks = [\"wide\", \"two\"]\n\
         [benchmarks.wide]\nkind = \"cpu.parallel\"\nthreads = 64\nmax_prime = 2000\n\
         [benchmarks.two]\nkind = \"cpu.primes\"\nthreads = 2\nmax_prime = 2000\n",
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = run(std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .args(["prlimit", "--nproc=24:24"])
        .arg(&binary)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .args(["--format", "json", "run", "s"])
        .current_dir("/")
        .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock")
        .env("HOME", "/nonexistent"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "it waited for the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let run = assert_valid_output(&stdout);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "failed", "{run}");
    let error = results[0]["error"].as_str().unwrap();
    assert!(
        error.contains("task limit") && error.contains("of 64"),
        "{error}"
    );
    assert_eq!(results[1]["status"], "ok", "{run}");
}

#[test]
fn list_shows_suites_with_their_next_run_and_benchmarks_with_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("off.toml");
    std::fs::write(&config, "[suites.monthly]\nenabled = false\n").unwrap();
    let (code, stdout, stderr) = run(perfwarden(dir.path())
        .args(["list", "--format", "json", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{stderr}");
    let value = assert_valid_output(&stdout);
    let suite = |name: &str| {
        value["suites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(suite("monthly")["enabled"], false);
    assert!(suite("monthly")["next_run"].is_null());
    assert!(
        !suite("monthly")["benchmarks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(suite("weekly")["next_run"].is_string());
    let primes = value["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "cpu-primes-1t")
        .unwrap();
    assert_eq!(primes["kind"], "cpu.primes");
    let (code, text, _) = run(perfwarden(dir.path())
        .arg("list")
        .arg("--config")
        .arg(&config));
    assert_eq!(code, 0);
    assert!(text.contains("disabled"), "{text}");
}

#[test]
fn version_names_the_commit_build_date_compiler_and_target() {
    let (code, stdout, _) = run(std::process::Command::new(common::bin()).arg("--version"));
    assert_eq!(code, 0);
    let line = stdout.trim();
    assert!(line.starts_with("perfwarden 0.1.0 (commit "), "{line}");
    let date = line
        .split(", built ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no build date: {line}"));
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{line}"
    );
    assert!(line.contains(", rustc 1."), "{line}");
    assert!(
        line.ends_with("-linux-gnu)") || line.ends_with("-linux-musl)"),
        "{line}"
    );
}
