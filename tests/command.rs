//! `command` end to end: timed commands through the real binary, including the bad ones.

mod common;

use common::{assert_valid_output, perfwarden, run};

#[test]
fn commands_are_timed_and_bad_ones_fail_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("command.toml");
    std::fs::write(
        &config,
        r#"
[suites.jobs]
schedule = "@weekly"
benchmarks = ["sleepy", "missing", "failing"]

[benchmarks.sleepy]
kind = "command"
command = ["sleep", "0.02"]
env = { LC_ALL = "C" }
cwd = "/"
samples = 5
warmup = "100ms"
min_time = "300ms"

[benchmarks.missing]
kind = "command"
command = ["/usr/bin/no-such-command-here"]

[benchmarks.failing]
kind = "command"
command = "echo 'disk full' >&2; exit 4"
shell = true
"#,
    )
    .unwrap();
    let (_, stdout, stderr) = run(perfwarden(&dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .args(["--format", "json", "run", "jobs"]));
    let output = assert_valid_output(&stdout);
    let results = output["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{stderr}"));
    let find = |name: &str| results.iter().find(|r| r["benchmark"] == name).unwrap();

    let sleepy = find("sleepy");
    assert_eq!(sleepy["status"], "ok", "{sleepy}");
    assert_eq!(sleepy["metric"]["quantity"], "time");
    let median = sleepy["summary"]["median"].as_f64().unwrap();
    assert!(
        (0.019..0.2).contains(&median),
        "wall time per run: {median}"
    );
    let measurements = sleepy["details"]["measurements"].as_array().unwrap();
    let named = |name: &str| {
        measurements
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {measurements:?}"))
    };
    assert_eq!(named("peak_rss")["unit"], "By");
    assert!(named("peak_rss")["value"].as_f64().unwrap() > 0.0);
    assert!(named("runs")["value"].as_f64().unwrap() >= 5.0);
    assert_eq!(named("user_time_mean")["unit"], "s");

    let missing = find("missing");
    assert_eq!(missing["status"], "failed");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("cannot start `/usr/bin/no-such-command-here`"),
        "{missing}"
    );
    let failing = find("failing");
    assert_eq!(failing["status"], "failed");
    let error = failing["error"].as_str().unwrap();
    assert!(error.contains("exited with 4 (expected [0])"), "{error}");
    assert!(error.contains("disk full"), "{error}");
}
