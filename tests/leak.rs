//! `process.memory` end to end: a test process that leaks is reported as a memory leak
//! after a few runs, and a steady one is not.

mod common;

use std::process::{Child, Command};

use common::{assert_valid_output, perfwarden, run};

/// This test binary again, running only `memory_hog` below with `PERFWARDEN_TEST_HOG` set:
/// 20 MiB at start, then `grow_mib` more (touched) every 100 ms.
fn hog(grow_mib: usize) -> Hog {
    Hog(Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "memory_hog",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PERFWARDEN_TEST_HOG", grow_mib.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the test binary starts"))
}

/// Killed when dropped, even when an assertion fails first.
struct Hog(Child);

impl Hog {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Not a test of its own: the process `hog` starts (returns at once otherwise).
#[test]
fn memory_hog() {
    let Ok(grow) = std::env::var("PERFWARDEN_TEST_HOG") else {
        return;
    };
    let grow: usize = grow.parse().unwrap();
    let mut keep = vec![vec![1u8; 20 << 20]];
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if grow > 0 {
            keep.push(vec![2u8; grow << 20]);
        }
        std::hint::black_box(&keep);
    }
}

#[test]
fn a_leaking_process_is_reported_as_a_leak_and_a_steady_one_is_not() {
    let leaking = hog(2);
    let steady = hog(0);
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
}
