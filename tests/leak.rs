//! `process.memory` end to end: a test process that leaks is reported as a memory leak
//! after a few runs, and a steady one is not.

mod common;

use std::process::{Child, Command};

use common::{assert_valid_output, perfwarden, run};

/// A Python process that allocates (and touches) `grow_mib` more every 100 ms, after a
/// 20 MiB start.
fn python(grow_mib: usize) -> Child {
    Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import time\nkeep = [b'x' * (20 << 20)]\nwhile True:\n    time.sleep(0.1)\n    if {grow_mib}:\n        keep.append(b'y' * ({grow_mib} << 20))\n"
        ))
        .spawn()
        .expect("python3 runs")
}

#[test]
fn a_leaking_process_is_reported_as_a_leak_and_a_steady_one_is_not() {
    let mut leaking = python(2);
    let mut steady = python(0);
    let dir = tempfile::tempdir().unwrap();
    let (leak_pid, steady_pid) = (dir.path().join("leak.pid"), dir.path().join("steady.pid"));
    std::fs::write(&leak_pid, leaking.id().to_string()).unwrap();
    std::fs::write(&steady_pid, steady.id().to_string()).unwrap();
    let config = dir.path().join("memory.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[suites.memory]
schedule = "@daily"
benchmarks = ["leaky", "steady"]

[benchmarks.leaky]
kind = "process.memory"
pid_file = "{}"
samples = 5
warmup = "50ms"
min_time = "300ms"

[benchmarks.steady]
kind = "process.memory"
pid_file = "{}"
samples = 5
warmup = "50ms"
min_time = "300ms"
"#,
            leak_pid.display(),
            steady_pid.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let cli = || {
        let mut command = perfwarden(&state);
        command.arg("--config").arg(&config);
        command
    };
    // The verdicts' drift analysis needs five runs of history; seven make a steady rise
    // significant at p < 0.01.
    let mut last = serde_json::Value::Null;
    for _ in 0..7 {
        let (_, stdout, stderr) = run(cli().args(["--format", "json", "run", "memory"]));
        last = assert_valid_output(&stdout);
        assert!(last["results"].is_array(), "{stderr}");
    }
    let find = |name: &str| {
        last["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["benchmark"] == name)
            .unwrap()
            .clone()
    };
    let leaky = find("leaky");
    assert_eq!(leaky["status"], "ok", "{leaky}");
    assert_eq!(leaky["metric"]["quantity"], "size");
    let drift = &leaky["verdict"]["drift"];
    assert_eq!(drift["drift"], true, "{drift}");
    assert_eq!(drift["movement"], "worse");
    let growth = leaky["details"]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "rss_growth_per_second")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!(growth > 1e6, "growing within the run too: {growth} B/s");

    let steady_result = find("steady");
    assert_eq!(steady_result["status"], "ok");
    assert_ne!(
        steady_result["verdict"]["drift"]["drift"], true,
        "{steady_result}"
    );

    // The run's report names it.
    let run_id = last["run"]["id"].as_u64().unwrap().to_string();
    let (_, text, _) = run(cli().args(["show", &run_id]));
    assert!(text.contains("leaky: MEMORY LEAK"), "{text}");
    assert!(!text.contains("steady: MEMORY LEAK"), "{text}");

    leaking.kill().unwrap();
    steady.kill().unwrap();
    let _ = leaking.wait();
    let _ = steady.wait();
}
