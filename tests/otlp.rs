//! OTLP export end to end, against an in-process receiver built on the official protobuf
//! definitions: metric names, units, kinds, attributes and the resource; regression events
//! as log records; headers from a systemd credential; gRPC with gzip and HTTP/protobuf; a
//! receiver down across an agent restart (every event arrives exactly once afterwards);
//! a collector that accepts connections and never answers.

mod common;
mod otlp_receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{RegressingTree, assert_valid_output, perfwarden, run};
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, metric::Data};
use otlp_receiver::{Protocol, Receiver, Silent, attribute, log_records, metrics_of, text};
use perfwarden::export::catalog::{self, Instrument};

const TOKEN: &str = "Bearer test-token-5f3a9c";

/// A test host: a directory tree the `tree` benchmark scans (slowed down to make a regression),
/// a credential directory, and a config pointing at `endpoint`.
struct Host {
    dir: tempfile::TempDir,
    tree: RegressingTree,
}

impl Host {
    fn new(endpoint: &str, protocol: &str, gzip: bool, extra_otlp: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let tree = RegressingTree::create(dir.path(), "tree");
        let credentials = dir.path().join("credentials");
        std::fs::create_dir_all(&credentials).unwrap();
        std::fs::write(credentials.join("otlp-token"), format!("{TOKEN}\n")).unwrap();
        let config = format!(
            r#"
[daemon]
splay = "0s"
timezone = "UTC"
[daemon.quiet]
enabled = false

[export.otlp]
endpoint = "{endpoint}"
protocol = "{protocol}"
compression = "{compression}"
instance_id = "test-host"
{extra_otlp}
[export.otlp.headers]
authorization = {{ credential = "otlp-token" }}
x-team = "sre"

[defaults]
samples = 5
warmup = "0s"
min_time = "50ms"
time_budget = "5s"
timeout = "60s"

[suites.s]
schedule = "@yearly"
benchmarks = ["tree"]

{benchmark}"#,
            compression = if gzip { "gzip" } else { "none" },
            benchmark = tree.benchmark_toml("tree"),
        );
        std::fs::write(dir.path().join("perfwarden.toml"), config).unwrap();
        Host { dir, tree }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("perfwarden.toml")
    }

    fn command(&self) -> std::process::Command {
        let mut command = perfwarden(&self.state());
        command
            .arg("--config")
            .arg(self.config())
            .env("CREDENTIALS_DIRECTORY", self.dir.path().join("credentials"))
            .env(
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=test,team=perf%20ops",
            );
        command
    }

    fn slow_down_tree(&self) {
        self.tree.slow_down();
    }

    fn run_suite(&self) -> (i32, String, String) {
        run(self.command().args(["run", "s"]))
    }
}

fn attributes_of(
    record: &opentelemetry_proto::tonic::logs::v1::LogRecord,
) -> BTreeMap<String, String> {
    record
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(&kv.value).unwrap_or_default()))
        .collect()
}

/// Checks every metric against the catalog: name, unit, description, kind, temporality,
/// attribute keys. Returns the names seen.
fn check_metrics_against_catalog(
    request: &opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for metric in metrics_of(request) {
        let spec = catalog::METRICS
            .iter()
            .find(|m| m.name == metric.name)
            .unwrap_or_else(|| panic!("{} is not in the catalog", metric.name));
        assert_eq!(metric.unit, spec.unit, "{}", metric.name);
        assert_eq!(metric.description, spec.description, "{}", metric.name);
        let attribute_sets: Vec<Vec<String>> = match (&metric.data, spec.instrument) {
            (Some(Data::Gauge(g)), Instrument::Gauge) => g
                .data_points
                .iter()
                .map(|p| p.attributes.iter().map(|a| a.key.clone()).collect())
                .collect(),
            (Some(Data::Sum(s)), Instrument::Counter) => {
                assert!(s.is_monotonic, "{}", metric.name);
                assert_eq!(
                    s.aggregation_temporality,
                    AggregationTemporality::Cumulative as i32,
                    "{}",
                    metric.name
                );
                s.data_points
                    .iter()
                    .map(|p| p.attributes.iter().map(|a| a.key.clone()).collect())
                    .collect()
            }
            (data, instrument) => panic!("{}: {instrument:?} sent as {data:?}", metric.name),
        };
        for keys in attribute_sets {
            for key in keys {
                assert!(
                    spec.attributes.contains(&key.as_str()),
                    "{}: attribute {key} not in the catalog",
                    metric.name
                );
            }
        }
        seen.insert(metric.name.clone());
    }
    seen
}

fn one_shot_export(protocol: Protocol) {
    let receiver = Receiver::start(protocol);
    let (name, gzip) = match protocol {
        Protocol::Grpc => ("grpc", true),
        Protocol::Http => ("http/protobuf", false),
    };
    let host = Host::new(&receiver.endpoint(), name, gzip, "");

    let (code, _, stderr) = host.run_suite();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("test-token"),
        "a secret reached the output: {stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    {
        let received = receiver.received.lock().unwrap();
        assert_eq!(received.metrics.len(), 1, "one metrics export per run");
        let records = log_records(&received);
        assert_eq!(records.len(), 1, "only suite.finished after a first run");
        assert_eq!(records[0].event_name, "perfwarden.suite.finished");
        assert_eq!(records[0].severity_number, 9);
        let attributes = attributes_of(&records[0]);
        assert_eq!(attributes["suite"], "s");
        assert_eq!(attributes["outcome"], "success");
        assert_eq!(attributes["run_id"], "1");
        // Headers from the config, the token from the systemd credential.
        assert!(
            received
                .headers
                .contains(&("authorization".to_string(), TOKEN.to_string()))
        );
        assert!(
            received
                .headers
                .contains(&("x-team".to_string(), "sre".to_string()))
        );
        if gzip {
            assert!(received.gzipped >= 2, "metrics and logs gzip-compressed");
        } else {
            assert_eq!(received.gzipped, 0);
        }
    }

    host.slow_down_tree();
    let (code, _, stderr) = host.run_suite();
    assert!(code == 0 || code == 1, "{code}: {stderr}");

    // The resource of metrics and logs, per ../shared/metrics.md plus the environment's.
    let metrics = receiver.latest_metrics().unwrap();
    let resource = metrics.resource_metrics[0].resource.clone().unwrap();
    let get = |key: &str| attribute(&resource.attributes, key);
    assert_eq!(get("service.name").as_deref(), Some("perfwarden"));
    assert_eq!(
        get("service.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(get("service.instance.id").as_deref(), Some("test-host"));
    assert_eq!(get("deployment.environment").as_deref(), Some("test"));
    assert_eq!(get("team").as_deref(), Some("perf ops"));
    for key in [
        "host.name",
        "host.arch",
        "os.type",
        "os.version",
        "perfwarden.fingerprint",
    ] {
        assert!(
            get(key).is_some_and(|v| !v.is_empty()),
            "resource lacks {key}"
        );
    }
    let scope = metrics.resource_metrics[0].scope_metrics[0]
        .scope
        .clone()
        .unwrap();
    assert_eq!(scope.name, "perfwarden");

    let names = check_metrics_against_catalog(&metrics);
    for expected in [
        "perfwarden.benchmark.throughput",
        "perfwarden.regression.active",
        "perfwarden.health.score",
        "perfwarden.suite.runs",
        "perfwarden.suite.duration",
        "perfwarden.suite.last_success.timestamp",
        "perfwarden.export.backlog",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
    let active = metrics_of(&metrics)
        .into_iter()
        .find(|m| m.name == "perfwarden.regression.active")
        .unwrap();
    let Some(Data::Gauge(gauge)) = active.data else {
        panic!("regression.active is a gauge")
    };
    let point = &gauge.data_points[0];
    assert_eq!(
        attribute(&point.attributes, "benchmark").as_deref(),
        Some("tree")
    );
    assert_eq!(
        attribute(&point.attributes, "severity").as_deref(),
        Some("critical")
    );
    assert_eq!(
        attribute(&point.attributes, "state").as_deref(),
        Some("confirmed")
    );

    // The regression event: a FATAL log record with the catalog's attributes and an id.
    let records = receiver.log_records();
    let regression = records
        .iter()
        .find(|r| r.event_name == "perfwarden.regression")
        .unwrap_or_else(|| panic!("no regression event in {records:?}"));
    assert_eq!(regression.severity_number, 21);
    assert_eq!(regression.severity_text, "FATAL");
    assert!(
        text(&regression.body)
            .unwrap()
            .contains("critical regression of tree confirmed")
    );
    let attributes = attributes_of(regression);
    assert_eq!(attributes["benchmark"], "tree");
    assert_eq!(attributes["suite"], "s");
    assert_eq!(attributes["severity"], "critical");
    assert_eq!(attributes["state"], "confirmed");
    assert_eq!(attributes["run_id"], "2");
    assert!(attributes["change"].parse::<f64>().unwrap() > 0.6);
    for key in ["change_ci_low", "baseline", "fingerprint", "log.record.uid"] {
        assert!(!attributes[key].is_empty(), "{key}");
    }
    let ids: BTreeSet<String> = records
        .iter()
        .map(|r| attributes_of(r)["log.record.uid"].clone())
        .collect();
    assert_eq!(ids.len(), records.len(), "event ids are unique");
    let logs_resource = receiver.received.lock().unwrap().logs[0].resource_logs[0]
        .resource
        .clone()
        .unwrap();
    assert_eq!(
        attribute(&logs_resource.attributes, "service.instance.id").as_deref(),
        Some("test-host")
    );

    // Everything delivered: nothing waits.
    let (_, stdout, _) = run(host.command().args(["--format", "json", "status"]));
    assert_eq!(assert_valid_output(&stdout)["export_backlog"], 0);
}

#[test]
fn a_one_shot_run_exports_over_grpc_with_gzip() {
    one_shot_export(Protocol::Grpc);
}

#[test]
fn a_one_shot_run_exports_over_http_protobuf() {
    one_shot_export(Protocol::Http);
}

struct Daemon {
    child: std::process::Child,
}

impl Daemon {
    fn start(host: &Host) -> Daemon {
        let child = host
            .command()
            .args(["daemon", "--log-format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(
                std::fs::File::create(host.dir.path().join(format!(
                    "daemon-{}.log",
                    Instant::now().elapsed().as_nanos()
                )))
                .unwrap(),
            )
            .spawn()
            .unwrap();
        let daemon = Daemon { child };
        wait_until("the daemon answers", Duration::from_secs(30), || {
            status(host).is_some()
        });
        daemon
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status(host: &Host) -> Option<serde_json::Value> {
    let (code, stdout, _) = run(host.command().args(["--format", "json", "status"]));
    (code == 0).then(|| assert_valid_output(&stdout))
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The backlog gauge of the latest metrics export.
fn backlog_metric(received: &otlp_receiver::Received) -> Option<f64> {
    let metrics = received.metrics.last()?;
    metrics_of(metrics)
        .into_iter()
        .find(|m| m.name == "perfwarden.export.backlog")
        .and_then(|m| match m.data {
            Some(Data::Gauge(g)) => g.data_points.first().map(|p| match p.value {
                Some(
                    opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(x),
                ) => x,
                Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(
                    n,
                )) => n as f64,
                None => f64::NAN,
            }),
            _ => None,
        })
}

#[test]
fn events_wait_out_a_dead_receiver_and_an_agent_restart_then_arrive_exactly_once() {
    let port = free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let host = Host::new(
        &format!("http://{addr}"),
        "grpc",
        false,
        "timeout = \"2s\"\ninterval = \"2s\"",
    );

    // The receiver is down for a whole suite: a baseline run and a regressed run.
    let daemon = Daemon::start(&host);
    let (code, _, stderr) = host.run_suite();
    assert_eq!(code, 0, "{stderr}");
    host.slow_down_tree();
    let (code, _, stderr) = host.run_suite();
    assert!(code == 0 || code == 1, "{stderr}");
    let waiting = status(&host).unwrap();
    assert_eq!(
        waiting["export_backlog"], 3,
        "two suite.finished and one regression: {waiting}"
    );
    let otlp = &waiting["otlp"];
    assert_eq!(otlp["running"], true);
    assert!(otlp["last_error"].is_string(), "{otlp}");
    let (_, text_status, _) = run(host.command().arg("status"));
    assert!(
        text_status.contains("3 alert events waiting"),
        "{text_status}"
    );

    // The agent restarts while the receiver is still down; the outbox survives.
    daemon.kill();
    let daemon = Daemon::start(&host);
    assert_eq!(status(&host).unwrap()["export_backlog"], 3);

    // The receiver comes back: every event arrives, once.
    let receiver = Receiver::start_on(Protocol::Grpc, addr, Default::default());
    receiver.wait_for("the three events", Duration::from_secs(60), |r| {
        log_records(r).len() >= 3
    });
    wait_until("the backlog to drain", Duration::from_secs(30), || {
        status(&host).is_some_and(|s| s["export_backlog"] == 0)
    });
    // The next export reports the empty backlog as a metric.
    receiver.wait_for("a metrics export", Duration::from_secs(30), |r| {
        !r.metrics.is_empty()
    });
    std::thread::sleep(Duration::from_secs(3));
    let records = receiver.log_records();
    let names: Vec<&str> = records.iter().map(|r| r.event_name.as_str()).collect();
    assert_eq!(records.len(), 3, "exactly once: {names:?}");
    let ids: BTreeSet<String> = records
        .iter()
        .map(|r| attributes_of(r)["log.record.uid"].clone())
        .collect();
    assert_eq!(ids.len(), 3, "unique ids");
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "perfwarden.suite.finished")
            .count(),
        2
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "perfwarden.regression")
            .count(),
        1
    );
    // The backlog metric falls to 0 once the events are accepted (a later export).
    host.run_suite();
    receiver.wait_for("the backlog metric at 0", Duration::from_secs(30), |r| {
        backlog_metric(r).is_some_and(|b| b == 0.0)
    });
    let status_now = status(&host).unwrap();
    assert_eq!(status_now["otlp"]["breaker"], "closed", "{status_now}");
    // Between runs the stored state is re-exported every interval (2 s here).
    let exports = receiver.received.lock().unwrap().metrics.len();
    receiver.wait_for(
        "two re-exports without a run",
        Duration::from_secs(20),
        |r| r.metrics.len() >= exports + 2,
    );
    drop(daemon);
}

fn rss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_collector_that_never_answers_blocks_no_suite_and_grows_no_memory() {
    let silent = Silent::start();
    let host = Host::new(
        &format!("http://{}", silent.addr),
        "http/protobuf",
        false,
        "timeout = \"1s\"\ninterval = \"1s\"",
    );

    // One-shot: the run ends within the export deadline, with a warning, results kept.
    let started = Instant::now();
    let (code, stdout, stderr) = host.run_suite();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("OTLP export") && stderr.contains("outbox"),
        "{stderr}"
    );
    assert!(stdout.contains("tree"), "{stdout}");

    // Daemon: suites run on time while every export hangs until its timeout.
    let daemon = Daemon::start(&host);
    std::thread::sleep(Duration::from_secs(3));
    let before = rss_kib(daemon.pid());
    for _ in 0..5 {
        let started = Instant::now();
        let (code, _, stderr) = host.run_suite();
        assert_eq!(code, 0, "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a suite took {:?} behind a silent collector",
            started.elapsed()
        );
    }
    // Many export attempts later (1 s interval, backoff), memory has not grown.
    std::thread::sleep(Duration::from_secs(10));
    let after = rss_kib(daemon.pid());
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    let otlp = status(&host).unwrap()["otlp"].clone();
    assert!(otlp["last_error"].is_string(), "{otlp}");
    assert!(
        otlp["consecutive_failures"].as_u64().unwrap() >= 3,
        "{otlp}"
    );
    assert_eq!(otlp["delivered_events"], 0, "{otlp}");
    assert!(status(&host).unwrap()["export_backlog"].as_u64().unwrap() >= 6);
}

#[test]
fn check_reports_a_header_credential_it_cannot_read_without_showing_secrets() {
    let host = Host::new("http://127.0.0.1:4318", "http/protobuf", false, "");
    let (code, stdout, stderr) = run(host.command().arg("check"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Under a systemd service ($INVOCATION_ID) with no credential loaded: the unit lacks
    // its LoadCredential= line, and its ExecStartPre check fails naming the credential.
    let (code, stdout, _) = run(host
        .command()
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("INVOCATION_ID", "0123456789abcdef0123456789abcdef")
        .arg("check"));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("`export.otlp`"), "{stdout}");
    assert!(
        stdout.contains("otlp-token"),
        "names the credential: {stdout}"
    );
    assert!(!stdout.contains("test-token"), "{stdout}");
    // Outside any service (`sudo perfwarden check`): only the unit can read credentials,
    // so the check passes and says the unit's own check covers it.
    let (code, stdout, stderr) = run(host
        .command()
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("INVOCATION_ID")
        .arg("check"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("otlp-token") && stderr.contains("ExecStartPre"),
        "{stderr}"
    );
    assert!(!stdout.contains("test-token") && !stderr.contains("test-token"));
}

/// TLS verifies the collector against the system's roots: `SSL_CERT_FILE` stands in for
/// the system store here (the loader of system roots reads it), so a collector signed by
/// the test CA is trusted with it and refused without it.
#[test]
fn https_endpoints_use_tls_verified_against_the_system_roots() {
    let (ca, cert, key) = common::test_pki();
    let receiver = Receiver::start_grpc_tls((cert, key));
    let endpoint = format!("https://localhost:{}", receiver.addr.port());
    let host = Host::new(&endpoint, "grpc", true, "timeout = \"3s\"");
    let roots = host.dir.path().join("roots.pem");
    std::fs::write(&roots, ca).unwrap();

    // Without the CA among the roots: refused, the event kept in the outbox.
    let (code, _, stderr) = run(host
        .command()
        .env("SSL_CERT_FILE", "/nonexistent")
        .args(["run", "s"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("OTLP export") && stderr.contains("outbox"),
        "{stderr}"
    );
    assert!(receiver.log_records().is_empty());

    // With it: both runs' events arrive over TLS.
    let (code, _, stderr) = run(host
        .command()
        .env("SSL_CERT_FILE", &roots)
        .args(["run", "s"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let records = receiver.log_records();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(receiver.latest_metrics().is_some());
}

/// A host without a CA bundle (`SSL_CERT_FILE` and `SSL_CERT_DIR` point at nothing): an
/// `http://` collector is reached over both protocols, as CA roots are read only for
/// `https://`; an `https://` one is refused by `check` and by the export with the reason.
#[test]
fn a_host_without_a_ca_bundle_exports_to_http_and_is_told_why_https_fails() {
    let no_roots = |command: &mut std::process::Command| {
        command
            .env("SSL_CERT_FILE", "/nonexistent/ca.pem")
            .env("SSL_CERT_DIR", "/nonexistent");
    };
    for (protocol, name) in [(Protocol::Http, "http/protobuf"), (Protocol::Grpc, "grpc")] {
        let receiver = Receiver::start(protocol);
        let host = Host::new(&receiver.endpoint(), name, false, "");
        let mut command = host.command();
        no_roots(&mut command);
        let (code, _, stderr) = run(command.args(["run", "s"]));
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        assert_eq!(receiver.log_records().len(), 1, "{name}");
        let mut command = host.command();
        no_roots(&mut command);
        let (code, stdout, _) = run(command.arg("check"));
        assert_eq!(code, 0, "{name}: {stdout}");
    }
    for name in ["http/protobuf", "grpc"] {
        let host = Host::new("https://127.0.0.1:9", name, false, "timeout = \"2s\"");
        let mut command = host.command();
        no_roots(&mut command);
        let (code, _, stderr) = run(command.args(["run", "s"]));
        assert_eq!(code, 0, "the run itself succeeds: {stderr}");
        assert!(
            stderr.contains("no CA certificates found on this host"),
            "{name}: {stderr}"
        );
        let mut command = host.command();
        no_roots(&mut command);
        let (code, stdout, _) = run(command.arg("check"));
        assert_eq!(code, 1, "{name}: {stdout}");
        assert!(stdout.contains("`export.otlp.endpoint`"), "{stdout}");
        assert!(
            stdout.contains("install the ca-certificates package"),
            "{stdout}"
        );
    }
}

/// The daemon on a fast schedule (every 10 s) with a `command` benchmark whose duration is
/// read from a file: a step is suspected at a scheduled run and confirmed by the
/// confirmation run queued `confirm_delay` (2 s) later, before the next scheduled run; the confirmation reaches the
/// receiver once; going back, one run is not enough to resolve it, the second is.
/// Suite `s` on `schedule` with one `command` benchmark, `sleepy`, that sleeps for the
/// seconds written in the file `seconds` (a step is a new number in the file).
fn sleepy_suite(seconds: &std::path::Path, schedule: &str) -> String {
    format!(
        r#"
[defaults]
samples = 8
warmup = "0s"
min_time = "50ms"
time_budget = "10s"
timeout = "60s"
[suites.s]
schedule = "{schedule}"
benchmarks = ["sleepy"]
[benchmarks.sleepy]
kind = "command"
command = ["sh", "-c", "sleep $(cat {seconds})"]
tolerance = "5%"
"#,
        seconds = seconds.display(),
    )
}

#[test]
fn a_suspicion_is_confirmed_by_the_daemons_rerun_and_resolved_only_on_evidence() {
    let receiver = Receiver::start(Protocol::Http);
    let dir = tempfile::tempdir().unwrap();
    let seconds = dir.path().join("seconds");
    std::fs::write(&seconds, "0.040").unwrap();
    let config = dir.path().join("perfwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
splay = "0s"
timezone = "UTC"
confirm_delay = "2s"
confirm_attempts = 2
[daemon.quiet]
enabled = false

[export.otlp]
endpoint = "{endpoint}"
protocol = "http/protobuf"
interval = "1s"
"#,
            endpoint = receiver.endpoint(),
        ) + &sleepy_suite(&seconds, "*/10 * * * * *"),
    )
    .unwrap();
    let state = dir.path().join("state");
    let cli = || {
        let mut command = perfwarden(&state);
        command.arg("--config").arg(&config);
        command
    };
    let log = dir.path().join("daemon.log");
    let mut child = cli()
        .args(["daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _daemon = Kill(&mut child);
    let runs = || -> Vec<serde_json::Value> {
        let (code, stdout, _) = run(cli().args(["--format", "json", "runs"]));
        if code != 0 {
            return Vec::new();
        }
        let mut runs = assert_valid_output(&stdout)["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        runs.reverse();
        runs
    };
    let finished =
        |runs: &[serde_json::Value]| runs.iter().filter(|r| r["status"] != "running").count();
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait_runs = |n: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let now = runs();
            if finished(&now) >= n {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {now:?}\n{}",
                daemon_log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    // The duration changes right after a run ended (runs take about a second, every 10 s),
    // so no run mixes the two levels. Returns the finished runs then.
    let set_between_runs = |duration: &str| {
        let now = finished(&runs());
        wait_runs(now + 1, "a run to end");
        std::fs::write(&seconds, duration).unwrap();
        now + 1
    };
    // Six scheduled runs at the old level: the baseline.
    wait_runs(6, "six baseline runs");
    // About 45% slower (the command's own start-up adds ~9 ms to the sleep): a critical
    // suspicion, not confirmed at once, and far outside the run-to-run noise of a loaded
    // test machine.
    let before = set_between_runs("0.062");
    let after = wait_runs(before + 2, "the suspecting run and its confirmation");
    let suspecting = &after[before];
    let confirmation = after
        .iter()
        .find(|r| r["trigger"] == "confirmation")
        .unwrap_or_else(|| {
            let (_, shown, _) = run(cli().args(["show", &suspecting["id"].to_string()]));
            panic!(
                "no confirmation run in {after:?}\n{shown}\n{}",
                daemon_log()
            )
        });
    assert_eq!(suspecting["trigger"], "scheduled", "{after:?}");
    assert_eq!(confirmation["confirms"], suspecting["id"], "{confirmation}");
    let started = |r: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(r["started_at"].as_str().unwrap()).unwrap()
    };
    let waited = started(confirmation) - started(suspecting);
    assert!(
        waited < chrono::Duration::seconds(10),
        "confirmed within the delay, before the next scheduled run: {waited}\n{after:?}\n{}",
        daemon_log()
    );
    let open_regressions = || {
        let (_, regressions, _) = run(cli().args(["--format", "json", "regressions"]));
        assert_valid_output(&regressions)
    };
    let mut regressions = open_regressions();
    if regressions["regressions"][0]["state"] == "suspected" {
        // A confirmation run measured on a busy host (the other tests load this one)
        // changes nothing, and the daemon tries again: its second attempt must confirm.
        wait_runs(before + 3, "the second confirmation attempt");
        regressions = open_regressions();
    }
    let open = &regressions["regressions"][0];
    assert_eq!(
        open["state"],
        "confirmed",
        "{regressions}\n{after:?}\n{}",
        daemon_log()
    );
    assert_eq!(open["first_run"], suspecting["id"]);
    // The confirmation reaches the receiver, once.
    receiver.wait_for("the confirmed event", Duration::from_secs(30), |r| {
        log_records(r).iter().any(|l| {
            l.event_name == "perfwarden.regression" && attributes_of(l)["transition"] == "confirmed"
        })
    });

    // Back to normal: the first run back does not resolve it; the second does.
    let before = set_between_runs("0.040");
    wait_runs(before + 1, "the first run back");
    let (_, regressions, _) = run(cli().args(["--format", "json", "regressions"]));
    let regressions = assert_valid_output(&regressions);
    assert_eq!(
        regressions["regressions"][0]["state"], "confirmed",
        "one run back is not evidence: {regressions}"
    );
    wait_runs(before + 2, "the second run back");
    let (_, regressions, _) = run(cli().args(["--format", "json", "regressions"]));
    let regressions = assert_valid_output(&regressions);
    assert_eq!(
        regressions["regressions"].as_array().map(Vec::len),
        Some(0),
        "resolved: {regressions}"
    );
    receiver.wait_for("the resolved event", Duration::from_secs(30), |r| {
        log_records(r).iter().any(|l| {
            l.event_name == "perfwarden.regression" && attributes_of(l)["transition"] == "resolved"
        })
    });
    let regression_events: Vec<String> = receiver
        .log_records()
        .iter()
        .filter(|l| l.event_name == "perfwarden.regression")
        .map(|l| attributes_of(l)["transition"].clone())
        .collect();
    assert_eq!(
        regression_events,
        vec!["confirmed".to_string(), "resolved".to_string()],
        "each transition once"
    );
}

/// Transitions of a confirmed regression reach the collector with its severity, through
/// one-shot runs: the confirmation by the run after the suspicion, an escalation, an
/// operator's `baseline accept` (delivered with the next run's push), then on the accepted
/// level a new step, its confirmation and an operator's `baseline reset`, and after the
/// baseline rebuilt a critical step confirmed at once by the run that sees it.
#[test]
fn every_transition_of_a_regression_sends_its_event() {
    let receiver = Receiver::start(Protocol::Http);
    let dir = tempfile::tempdir().unwrap();
    let seconds = dir.path().join("seconds");
    let config = dir.path().join("perfwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon.quiet]
enabled = false
[export.otlp]
endpoint = "{endpoint}"
protocol = "http/protobuf"
"#,
            endpoint = receiver.endpoint(),
        ) + &sleepy_suite(&seconds, "@yearly"),
    )
    .unwrap();
    let state = dir.path().join("state");
    let cli = || {
        let mut command = perfwarden(&state);
        command.arg("--config").arg(&config);
        command
    };
    let run_at = |duration: &str| {
        std::fs::write(&seconds, duration).unwrap();
        let (code, stdout, stderr) = run(cli().args(["run", "s"]));
        assert!(code == 0, "{stdout}{stderr}");
        stdout
    };
    for _ in 0..6 {
        run_at("0.040");
    }
    // About +15% (the command's start-up adds ~9 ms): a suspicion, then a run that agrees.
    run_at("0.046");
    run_at("0.046");
    // About +45%: critical, an escalation.
    run_at("0.062");
    let (code, _, stderr) = run(cli().args(["baseline", "accept", "sleepy"]));
    assert_eq!(code, 0, "{stderr}");
    // Without a daemon the accept's event waits in the outbox for the next push. The
    // accepted level fills the baseline again (the last 10 runs).
    for _ in 0..10 {
        run_at("0.062");
    }
    // About +40% over the accepted level: suspected, confirmed, then reset by hand.
    run_at("0.090");
    run_at("0.090");
    let (code, _, stderr) = run(cli().args(["baseline", "reset", "sleepy"]));
    assert_eq!(code, 0, "{stderr}");
    // The baseline rebuilds from the next run (5 runs); then a step of about +100%, whose
    // lower bound is past twice the critical threshold, is confirmed at once.
    for _ in 0..5 {
        run_at("0.090");
    }
    run_at("0.190");
    let transitions = || -> Vec<(String, String)> {
        receiver
            .log_records()
            .iter()
            .filter(|l| l.event_name == "perfwarden.regression")
            .map(|l| {
                let a = attributes_of(l);
                (a["transition"].clone(), a["severity"].clone())
            })
            .collect()
    };
    receiver.wait_for("the last event", Duration::from_secs(30), |r| {
        log_records(r)
            .iter()
            .filter(|l| l.event_name == "perfwarden.regression")
            .count()
            >= 6
    });
    let seen = transitions();
    let actions: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "confirmed",
            "escalated",
            "accepted",
            "confirmed",
            "reset",
            "confirmed"
        ],
        "{seen:?}"
    );
    assert_eq!(seen[5].1, "critical", "confirmed at once: {seen:?}");
    assert_ne!(
        seen[0].1, "",
        "the confirmation carries the regression's severity"
    );
    assert_eq!(seen[1].1, "critical", "{seen:?}");
    assert_eq!(seen[2].1, "critical", "{seen:?}");
    assert_ne!(seen[3].1, "", "{seen:?}");
    assert_eq!(
        seen[4].1, seen[3].1,
        "the reset carries the regression's severity"
    );
}
