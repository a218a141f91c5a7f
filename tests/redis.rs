//! `cache.redis` end to end against a real redis-server on loopback, started here
//! (installed by `scripts/test.sh`; the test fails, never skips, when it is missing).

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_valid_output, perfwarden, run};
use serde_json::Value;

struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start(password: &str) -> RedisServer {
        Self::start_with(password, None)
    }

    /// TLS only (`--port 0`), with this certificate and key (PEM).
    fn start_tls(password: &str, cert_pem: &str, key_pem: &str) -> RedisServer {
        Self::start_with(password, Some((cert_pem, key_pem)))
    }

    fn start_with(password: &str, tls: Option<(&str, &str)>) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("redis-server");
        match tls {
            None => command.args(["--port", &port.to_string()]),
            Some((cert, key)) => {
                let (cert_file, key_file) =
                    (dir.path().join("cert.pem"), dir.path().join("key.pem"));
                std::fs::write(&cert_file, cert).unwrap();
                std::fs::write(&key_file, key).unwrap();
                command
                    .args(["--port", "0", "--tls-port", &port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(&cert_file)
                    .arg("--tls-key-file")
                    .arg(&key_file)
                    .args(["--tls-auth-clients", "no"])
            }
        };
        let child = command
            .args(["--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/install-test-servers.sh installs it)");
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn cli(&self, password: &str, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args([
                "-p",
                &self.port.to_string(),
                "-a",
                password,
                "--no-auth-warning",
            ])
            .args(args)
            .output()
            .expect("redis-cli is installed");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `suite`; `roots` replaces the system's CA certificates (`SSL_CERT_FILE`).
fn run_suite(
    state: &Path,
    config: &Path,
    suite: &str,
    password: &str,
    roots: Option<&Path>,
) -> Vec<Value> {
    let mut command = perfwarden(state);
    if let Some(roots) = roots {
        command.env("SSL_CERT_FILE", roots);
    }
    let (_, stdout, stderr) = run(command
        .env("TEST_REDIS_PASSWORD", password)
        .arg("--config")
        .arg(config)
        .args(["--format", "json", "run", suite]));
    let output = assert_valid_output(&stdout);
    assert!(output["results"].is_array(), "{stdout}\n{stderr}");
    output["results"].as_array().unwrap().clone()
}

#[test]
fn a_cache_mix_is_measured_and_cleaned_up_and_a_refused_password_fails_alone() {
    let password = "perfwarden-test-secret";
    let server = RedisServer::start(password);
    // Someone else's key must survive the benchmark's clean-up.
    assert_eq!(server.cli(password, &["SET", "app:session", "kept"]), "OK");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("redis.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[suites.cache]
schedule = "@weekly"
benchmarks = ["mix", "wrong-password", "after"]

[benchmarks.mix]
kind = "cache.redis"
url = "redis://127.0.0.1:{port}/0"
password = {{ env = "TEST_REDIS_PASSWORD" }}
clients = 8
keys = 2000
value_bytes = 128
duration = "2s"
ramp_up = "200ms"
slo = ["latency_p99 < 1s", "error_ratio < 1%"]

[benchmarks.wrong-password]
kind = "cache.redis"
url = "redis://127.0.0.1:{port}/0"
password = "not-the-password"
duration = "1s"

[benchmarks.after]
kind = "cpu.primes"
max_prime = 2000
threads = 1
min_time = "200ms"
warmup = "100ms"
"#,
            port = server.port
        ),
    )
    .unwrap();
    let results = run_suite(&dir.path().join("state"), &config, "cache", password, None);
    let find = |name: &str| results.iter().find(|r| r["benchmark"] == name).unwrap();

    let mix = find("mix");
    assert_eq!(mix["status"], "ok", "{mix}");
    assert!(mix["summary"]["median"].as_f64().unwrap() > 100.0, "{mix}");
    assert!(mix["latency"]["p99"].as_f64().unwrap() > 0.0);
    let outcomes = &mix["details"]["outcomes"];
    assert!(outcomes["attempted"].as_u64().unwrap() > 200, "{mix}");
    assert_eq!(outcomes["failed"], serde_json::json!({}));
    let slo = mix["verdict"]["slo"].as_array().unwrap();
    assert_eq!(slo.len(), 2, "{mix}");
    assert!(slo.iter().all(|s| s["met"] == true), "{slo:?}");
    // The benchmark's keys are gone; the application's key is not.
    assert_eq!(server.cli(password, &["DBSIZE"]), "1");
    assert_eq!(server.cli(password, &["GET", "app:session"]), "kept");

    let refused = find("wrong-password");
    assert_eq!(refused["status"], "failed");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("authentication failed"), "{error}");
    assert!(
        !error.contains("not-the-password"),
        "never the secret: {error}"
    );
    assert_eq!(find("after")["status"], "ok", "the suite went on");
}

/// `rediss://`: the mix runs over TLS against a server whose certificate a private CA
/// signed (`SSL_CERT_FILE` stands in for the system roots); with another CA as the only
/// root, the benchmark fails with the certificate reason.
#[test]
fn rediss_speaks_tls_and_a_certificate_that_does_not_verify_fails_the_benchmark() {
    let password = "perfwarden-tls-secret";
    let (ca, cert, key) = common::test_pki();
    let (stranger_ca, _, _) = common::test_pki();
    let server = RedisServer::start_tls(password, &cert, &key);
    let dir = tempfile::tempdir().unwrap();
    let (roots, stranger_roots) = (dir.path().join("roots.pem"), dir.path().join("other.pem"));
    std::fs::write(&roots, ca).unwrap();
    std::fs::write(&stranger_roots, stranger_ca).unwrap();
    let config = dir.path().join("redis.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[suites.cache]
schedule = "@weekly"
benchmarks = ["tls"]

[benchmarks.tls]
kind = "cache.redis"
url = "rediss://localhost:{port}/0"
password = {{ env = "TEST_REDIS_PASSWORD" }}
clients = 4
keys = 500
duration = "1s"
ramp_up = "100ms"
"#,
            port = server.port
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let run_with_roots =
        |roots: &Path| run_suite(&state, &config, "cache", password, Some(roots))[0].clone();
    let trusted = run_with_roots(&roots);
    assert_eq!(trusted["status"], "ok", "{trusted}");
    assert!(trusted["summary"]["median"].as_f64().unwrap() > 0.0);
    assert_eq!(
        trusted["details"]["outcomes"]["failed"],
        serde_json::json!({})
    );

    let untrusted = run_with_roots(&stranger_roots);
    assert_eq!(untrusted["status"], "failed", "{untrusted}");
    let error = untrusted["error"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert!(!error.contains(password), "{error}");
}
