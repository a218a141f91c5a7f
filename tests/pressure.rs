//! `memory.pressure` never holds more than its cap: the peak resident memory of a
//! `perfwarden run` with the probe, against the same run with a tiny probe, measured by
//! the kernel (`wait4`'s `ru_maxrss`).

mod common;

use std::path::Path;

use common::{assert_valid_output, perfwarden};

/// Runs `suite` and returns (peak RSS in bytes, JSON output).
fn peak_rss_of_run(state: &Path, config: &Path, suite: &str) -> (u64, serde_json::Value) {
    let output = std::fs::File::create(state.with_extension("json")).unwrap();
    let child = perfwarden(state)
        .arg("--config")
        .arg(config)
        .args(["--format", "json", "run", suite])
        .stdout(output)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 reaps our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(rc, child.id() as i32);
    std::mem::forget(child);
    let json = std::fs::read_to_string(state.with_extension("json")).unwrap();
    (usage.ru_maxrss as u64 * 1024, assert_valid_output(&json))
}

#[test]
fn memory_pressure_never_exceeds_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pressure.toml");
    std::fs::write(
        &config,
        r#"
[suites.tiny]
schedule = "@weekly"
benchmarks = ["tiny"]

[suites.pressure]
schedule = "@weekly"
benchmarks = ["pressure"]

[benchmarks.tiny]
kind = "cpu.primes"
max_prime = 1000
threads = 1
warmup = "100ms"
min_time = "300ms"

[benchmarks.pressure]
kind = "memory.pressure"
cap_mib = 128
warmup = "100ms"
min_time = "500ms"
"#,
    )
    .unwrap();
    let (baseline, _) = peak_rss_of_run(&dir.path().join("a"), &config, "tiny");
    let (peak, output) = peak_rss_of_run(&dir.path().join("b"), &config, "pressure");
    let result = &output["results"][0];
    assert_eq!(result["status"], "ok", "{result}");
    let cap = 128u64 << 20;
    let block = result["details"]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "block")
        .unwrap()["value"]
        .as_f64()
        .unwrap() as u64;
    assert!(block <= cap, "{block}");
    let extra = peak.saturating_sub(baseline);
    // The block was really made resident, and nothing beyond it (8 MiB for the rest of
    // the run's own allocations).
    assert!(extra >= block * 3 / 4, "peak {peak} vs baseline {baseline}");
    assert!(
        extra <= cap + (8 << 20),
        "peak {peak} vs baseline {baseline}: over the cap"
    );
}
