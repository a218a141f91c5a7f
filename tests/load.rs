//! `load.http` end to end: the real binary against an in-process server on loopback that
//! injects faults (a stall, an error storm) and counts what it receives.

mod common;
mod fault_server;

use std::path::Path;
use std::time::Duration;

use common::{assert_valid_output, perfwarden, run};
use fault_server::FaultServer;
use serde_json::Value;

/// Load tests use every CPU; run them one at a time so they do not measure each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("load.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs suite `suite` of `config` and returns the JSON results by benchmark name.
fn run_suite(dir: &Path, config: &Path, suite: &str) -> Vec<Value> {
    let (_, stdout, stderr) = run(perfwarden(&dir.join("state"))
        .arg("--config")
        .arg(config)
        .args(["--format", "json", "run", suite]));
    let output = assert_valid_output(&stdout);
    assert!(output["results"].is_array(), "{stdout}\n{stderr}");
    output["results"].as_array().unwrap().clone()
}

fn result<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["benchmark"] == name)
        .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
}

#[test]
fn a_one_second_stall_shows_in_the_open_models_p99() {
    let _serial = one_at_a_time();
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[suites.open]
schedule = "@weekly"
benchmarks = ["steady"]

[benchmarks.steady]
kind = "load.http"
model = "open"
rate = 200
users = 50
url = "{url}"
ramp_up = "500ms"
duration = "4s"
samples = 8
"#,
            url = server.url()
        ),
    );
    let calm = run_suite(dir.path(), &config, "open");
    let calm = result(&calm, "steady");
    assert_eq!(calm["status"], "ok", "{calm}");
    let calm_p99 = calm["latency"]["p99"].as_f64().unwrap();
    assert!(calm_p99 < 0.3, "without a stall p99 is small: {calm}");
    assert_eq!(calm["metric"]["quantity"], "time");

    // The same test with the server frozen for one second in the middle.
    server.stall_later(Duration::from_millis(2500), Duration::from_secs(1));
    let stalled = run_suite(dir.path(), &config, "open");
    let stalled = result(&stalled, "steady");
    assert_eq!(stalled["status"], "ok", "{stalled}");
    let p99 = stalled["latency"]["p99"].as_f64().unwrap();
    let max = stalled["latency"]["max"].as_f64().unwrap();
    // Requests due during the stall wait for its end: latency counted from the due time
    // reaches the whole second (a closed-model tool would record one slow request per
    // connection and hide the rest).
    assert!(max >= 0.8, "{stalled}");
    assert!(p99 >= 0.5, "the stall is in the p99: {stalled}");
    assert!(
        stalled["summary"]["max"].as_f64().unwrap() >= 0.5,
        "a slice's p99 shows it too: {stalled}"
    );
}

#[test]
fn an_error_storm_stops_the_test_within_its_window() {
    let _serial = one_at_a_time();
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[suites.storm]
schedule = "@weekly"
benchmarks = ["storm", "after"]

[benchmarks.storm]
kind = "load.http"
url = "{url}"
users = 8
ramp_up = "200ms"
duration = "30s"
abort_error_ratio = "50%"
abort_window = "1s"

[benchmarks.after]
kind = "cpu.primes"
max_prime = 2000
threads = 1
min_time = "200ms"
warmup = "100ms"
"#,
            url = server.url()
        ),
    );
    server.fail_later(Duration::from_secs(2));
    let results = run_suite(dir.path(), &config, "storm");
    let storm = result(&results, "storm");
    assert_eq!(storm["status"], "failed", "{storm}");
    let error = storm["error"].as_str().unwrap();
    assert!(error.contains("error guard"), "{error}");
    assert!(
        error.contains("status 500"),
        "the last error is named: {error}"
    );
    // Failing began ~2 s in; the guard needs at most its 1 s window plus a tick, not the
    // 30 s the test was planned for.
    let took = storm["duration_secs"].as_f64().unwrap();
    assert!(took < 8.0, "stopped early: {took} s");
    let outcomes = &storm["details"]["outcomes"];
    assert!(
        outcomes["failed"]["status"].as_u64().unwrap() > 0,
        "{storm}"
    );
    // The suite went on.
    assert_eq!(result(&results, "after")["status"], "ok");
}

#[test]
fn caps_bound_what_the_server_receives() {
    let _serial = one_at_a_time();
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[load]
max_rate = 100
max_users = 10

[suites.capped]
schedule = "@weekly"
benchmarks = ["counted"]

[suites.paced]
schedule = "@weekly"
benchmarks = ["paced"]

[benchmarks.counted]
kind = "load.http"
url = "{url}"
users = 10
requests = 150
ramp_up = "200ms"
duration = "30s"

[benchmarks.paced]
kind = "load.http"
url = "{url}"
users = 10
ramp_up = "200ms"
duration = "2s"
"#,
            url = server.url()
        ),
    );
    let results = run_suite(dir.path(), &config, "capped");
    let counted = result(&results, "counted");
    assert_eq!(counted["status"], "ok", "{counted}");
    // One request before the load checks the target, then at most `requests`.
    assert!(server.requests() <= 151, "{} requests", server.requests());
    assert!(server.requests() >= 100, "{} requests", server.requests());
    // One connection per user plus the check's.
    assert!(
        server.connections() <= 11,
        "{} connections",
        server.connections()
    );

    let before = server.requests();
    let started = std::time::Instant::now();
    let results = run_suite(dir.path(), &config, "paced");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(result(&results, "paced")["status"], "ok");
    let seen = server.requests() - before;
    // max_rate = 100/s paces even the closed model.
    assert!(
        (seen as f64) <= 100.0 * elapsed + 2.0,
        "{seen} requests in {elapsed:.1} s"
    );
    assert!(seen >= 100, "{seen} requests");
}

#[test]
fn check_refuses_hosts_outside_the_allowed_list_and_caps() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
[load]
max_users = 20

[benchmarks.prod]
kind = "load.http"
url = "https://shop.example.com/api"
users = 50
"#,
    );
    let (code, stdout, _) = run(perfwarden(&dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .arg("check"));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("benchmarks.prod.url")
            && stdout.contains("\"shop.example.com\" is not allowed"),
        "{stdout}"
    );
    assert!(stdout.contains("[load] allowed_hosts"), "{stdout}");
    assert!(
        stdout.contains("50 users exceed [load] max_users = 20"),
        "{stdout}"
    );

    let allowed = write_config(
        dir.path(),
        r#"
[load]
allowed_hosts = ["*.example.com"]

[benchmarks.prod]
kind = "load.http"
url = "https://shop.example.com/api"
"#,
    );
    let (code, stdout, _) = run(perfwarden(&dir.path().join("state"))
        .arg("--config")
        .arg(&allowed)
        .arg("check"));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn unreachable_dns_and_tls_failures_are_failed_benchmarks_and_the_suite_goes_on() {
    let _serial = one_at_a_time();
    let server = FaultServer::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[load]
allowed_hosts = ["no-such-host.invalid"]

[suites.bad]
schedule = "@weekly"
benchmarks = ["unreachable", "dns", "tls", "status", "fine"]

[benchmarks.unreachable]
kind = "load.http"
url = "http://127.0.0.1:{closed_port}/"

[benchmarks.dns]
kind = "load.http"
url = "http://no-such-host.invalid/"

[benchmarks.tls]
kind = "load.http"
url = "https://{addr}/"

[benchmarks.status]
kind = "load.http"
url = "{url}"
expect_status = [204]

[benchmarks.fine]
kind = "load.http"
url = "{url}"
users = 2
ramp_up = "100ms"
duration = "1s"
"#,
            addr = server.addr,
            url = server.url()
        ),
    );
    let results = run_suite(dir.path(), &config, "bad");
    let reason = |name: &str| {
        let r = result(&results, name);
        assert_eq!(r["status"], "failed", "{r}");
        r["error"].as_str().unwrap().to_string()
    };
    assert!(
        reason("unreachable").contains("Connection refused"),
        "{}",
        reason("unreachable")
    );
    assert!(
        reason("dns").contains("DNS lookup of no-such-host.invalid failed"),
        "{}",
        reason("dns")
    );
    assert!(reason("tls").contains("TLS handshake"), "{}", reason("tls"));
    assert!(
        reason("status").contains("status 200 (expected [204])"),
        "{}",
        reason("status")
    );
    let fine = result(&results, "fine");
    assert_eq!(fine["status"], "ok", "{fine}");
    assert!(fine["summary"]["median"].as_f64().unwrap() > 0.0);
    assert_eq!(fine["details"]["outcomes"]["failed"], serde_json::json!({}));
}

/// HTTPS with a certificate from a private CA (`SSL_CERT_FILE` stands in for the system
/// roots, as the loader of system roots reads it), HTTP/2 through ALPN by default,
/// HTTP/1.1 when asked, HTTP/2 with prior knowledge over plain TCP, and a certificate from
/// an unknown CA refused as a TLS failure. The servers count which protocol each request
/// came over.
#[test]
fn https_negotiates_http2_http1_on_request_h2c_by_prior_knowledge_and_refuses_unknown_cas() {
    let _serial = one_at_a_time();
    let (ca, cert, key) = common::test_pki();
    let (_, stranger_cert, stranger_key) = common::test_pki();
    let both = ["h2", "http/1.1"];
    let alpn_h2 = FaultServer::start_tls(&cert, &key, &both);
    let forced_h1 = FaultServer::start_tls(&cert, &key, &both);
    let h2c = FaultServer::start_h2c();
    let stranger = FaultServer::start_tls(&stranger_cert, &stranger_key, &both);
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, ca).unwrap();
    let https = |server: &FaultServer| format!("https://localhost:{}/", server.addr.port());
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[suites.tls]
schedule = "@weekly"
benchmarks = ["alpn", "http1", "h2c", "stranger"]

[benchmarks.alpn]
kind = "load.http"
url = "{alpn}"
users = 4
ramp_up = "100ms"
duration = "1s"

[benchmarks.http1]
kind = "load.http"
url = "{http1}"
http = "http1"
users = 4
ramp_up = "100ms"
duration = "1s"

[benchmarks.h2c]
kind = "load.http"
url = "{h2c}"
http = "http2"
users = 4
ramp_up = "100ms"
duration = "1s"

[benchmarks.stranger]
kind = "load.http"
url = "{stranger}"
"#,
            alpn = https(&alpn_h2),
            http1 = https(&forced_h1),
            h2c = h2c.url(),
            stranger = https(&stranger),
        ),
    );
    let (_, stdout, stderr) = run(perfwarden(&dir.path().join("state"))
        .env("SSL_CERT_FILE", &roots)
        .arg("--config")
        .arg(&config)
        .args(["--format", "json", "run", "tls"]));
    let output = assert_valid_output(&stdout);
    let results = output["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{stderr}"));
    for name in ["alpn", "http1", "h2c"] {
        let r = result(results, name);
        assert_eq!(r["status"], "ok", "{name}: {r}");
        assert_eq!(
            r["details"]["outcomes"]["failed"],
            serde_json::json!({}),
            "{r}"
        );
        assert!(r["summary"]["median"].as_f64().unwrap() > 0.0, "{r}");
    }
    // Every request of the ALPN and h2c tests came over HTTP/2, none of the forced
    // HTTP/1.1 test's.
    assert!(alpn_h2.requests() > 0);
    assert_eq!(alpn_h2.http2_requests(), alpn_h2.requests());
    assert!(h2c.requests() > 0);
    assert_eq!(h2c.http2_requests(), h2c.requests());
    assert!(forced_h1.requests() > 0);
    assert_eq!(forced_h1.http2_requests(), 0);
    // HTTP/2 multiplexes each user's requests on its one connection.
    assert!(alpn_h2.connections() <= 4 + 1, "{}", alpn_h2.connections());
    let stranger_result = result(results, "stranger");
    assert_eq!(stranger_result["status"], "failed", "{stranger_result}");
    let reason = stranger_result["error"].as_str().unwrap();
    assert!(
        // Both test CAs have the same (empty) name: the chain is found, its signature
        // does not verify.
        reason.contains("TLS handshake") && reason.contains("invalid peer certificate"),
        "{reason}"
    );
    assert_eq!(stranger.requests(), 0);
}
