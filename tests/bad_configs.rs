//! Each bad config gets its exact message (snapshots in `tests/snapshots/`): file, key,
//! line and a hint, and `check` exits 1. Paths in the messages are relative to the crate
//! root, where cargo runs the tests.

mod common;

use common::{perfwarden, run};

fn check(name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = format!("tests/fixtures/bad/{name}.toml");
    let (code, stdout, stderr) = run(perfwarden(dir.path()).args(["check", "--config", &path]));
    assert_eq!(code, 1, "check must fail for {name}: {stdout}{stderr}");
    stdout
}

macro_rules! bad_config {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            insta::assert_snapshot!(check($file));
        }
    )*};
}

bad_config! {
    zero_samples => "zero-samples",
    negative_duration => "negative-duration",
    unitless_duration => "unitless-duration",
    unknown_kind => "unknown-kind",
    unknown_parameter => "unknown-parameter",
    undefined_benchmark => "undefined-benchmark",
    missing_scan_path => "missing-scan-path",
    bad_schedule => "bad-schedule",
    syntax_error => "syntax-error",
    budget_over_timeout => "budget-over-timeout",
    unknown_section => "unknown-section",
    many_problems => "many-problems",
    type_error_and_more => "type-error-and-more",
    duplicate_key => "duplicate-key",
    not_utf8 => "not-utf8",
    control_characters => "control-characters",
    bad_daemon => "bad-daemon",
    bad_otlp => "bad-otlp",
}

#[test]
fn a_missing_config_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) =
        run(perfwarden(dir.path()).args(["check", "--config", "/nonexistent/perfwarden.toml"]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("/nonexistent/perfwarden.toml: cannot read the config file"),
        "{stdout}"
    );
}

#[test]
fn run_with_a_bad_config_exits_one_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(perfwarden(dir.path()).args([
        "run",
        "--config",
        "tests/fixtures/bad/zero-samples.toml",
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("`defaults.samples`: is 0"), "{stderr}");
    assert!(!dir.path().join("perfwarden.redb").exists());
}

#[test]
fn check_json_lists_problems_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(perfwarden(dir.path()).args([
        "check",
        "--format",
        "json",
        "--config",
        "tests/fixtures/bad/many-problems.toml",
    ]));
    assert_eq!(code, 1);
    let value = common::assert_valid_output(&stdout);
    assert_eq!(value["valid"], false);
    let problems = value["problems"].as_array().unwrap();
    assert!(problems.len() >= 6, "{stdout}");
    assert!(problems.iter().all(|p| p["line"].is_u64()), "{stdout}");
}

#[test]
fn malformed_slo_expressions() {
    insta::assert_snapshot!(check("bad-slo"));
}
