//! The shipped alert rules, routing and dashboards against the real servers of Debian 12:
//! a Prometheus 2.42 scrapes a running perfwarden daemon and evaluates
//! `alerts/perfwarden.rules.yml`; an Alertmanager 0.25 with the routing tree and inhibition
//! of `alerts/alertmanager.yml` sends the firing regression alert to a webhook inside this
//! test, which checks its labels; every query of every dashboard runs against that
//! Prometheus and returns data, and every annotation query returns the events of the
//! history (regressions suspected and confirmed, a change point, a software change) at the
//! times of their runs.
//!
//! The servers are installed by `scripts/test.sh` (Debian's `prometheus` and
//! `prometheus-alertmanager`); without them this test fails and says so. Two things are
//! changed for speed, both covered elsewhere: the rules' `for` durations become 0s (their
//! values are unit-tested with `promtool test rules`) and the receivers become webhooks
//! into this test, named after the receiver they replace (the routes themselves are
//! unit-tested with `amtool config routes test`).

mod common;
mod fault_server;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RegressingTree, perfwarden, run};
use fault_server::FaultServer;
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A server process, killed when dropped; its output goes to a log file.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(program: &str, args: &[String], log: PathBuf) -> Server {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: install Debian's prometheus and prometheus-alertmanager (scripts/test.sh does it)"
        );
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        Server { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 request (the servers answer without chunked encoding).
fn http(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A webhook receiver: records (path, JSON body) of every POST.
#[derive(Clone, Default)]
struct Webhook {
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Webhook {
    fn start() -> (Webhook, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let webhook = Webhook::default();
        let received = webhook.received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok() {
                    if let Ok(json) = serde_json::from_slice(&body) {
                        received.lock().unwrap().push((path, json));
                    }
                }
                let _ = reader.get_mut().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (webhook, addr)
    }

    /// Alerts (with their status) posted to `path`.
    fn alerts_at(&self, path: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .flat_map(|(_, body)| body["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

/// `alerts/alertmanager.yml` with every receiver replaced by a webhook to `/<receiver>` and
/// the grouping waits shortened.
fn alertmanager_config(webhook: SocketAddr) -> String {
    let text = std::fs::read_to_string(repo("alerts/alertmanager.yml")).unwrap();
    let mut config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let receivers = config["receivers"].as_sequence_mut().unwrap();
    for receiver in receivers.iter_mut() {
        let name = receiver["name"].as_str().unwrap().to_string();
        *receiver = serde_yaml_ng::from_str(&format!(
            "name: {name}\nwebhook_configs:\n  - url: http://{webhook}/{name}\n    send_resolved: true\n"
        ))
        .unwrap();
    }
    fn shorten(route: &mut serde_yaml_ng::Value) {
        for key in ["group_wait", "group_interval"] {
            if route.get(key).is_some() {
                route[key] = "1s".into();
            }
        }
        if let Some(routes) = route.get_mut("routes").and_then(|r| r.as_sequence_mut()) {
            routes.iter_mut().for_each(shorten);
        }
    }
    shorten(&mut config["route"]);
    serde_yaml_ng::to_string(&config).unwrap()
}

/// `alerts/perfwarden.rules.yml` with every `for` at 0s.
fn rules_without_for() -> String {
    std::fs::read_to_string(repo("alerts/perfwarden.rules.yml"))
        .unwrap()
        .lines()
        .map(|line| match line.split_once("for: ") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}for: 0s"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every PromQL query of every dashboard (panel targets and variable queries), with the
/// variables matching everything.
/// Each dashboard's annotation queries by name, the dashboard variables set to match all.
fn dashboard_annotations() -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let queries = dashboard["annotations"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["expr"]
                        .as_str()
                        .unwrap()
                        .replace("$host", ".+")
                        .replace("$suite", ".+")
                        .replace("$benchmark", ".+"),
                )
            })
            .collect();
        out.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            queries,
        ));
    }
    out
}

fn dashboard_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(repo("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        fn panels(list: &Value, out: &mut Vec<Value>) {
            for panel in list.as_array().into_iter().flatten() {
                out.push(panel.clone());
                panels(&panel["panels"], out);
            }
        }
        let mut all = Vec::new();
        panels(&dashboard["panels"], &mut all);
        for panel in all {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    queries.push((format!("{file}: {}", panel["title"]), expr.to_string()));
                }
            }
        }
        for variable in dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let query = variable["query"]["query"]
                .as_str()
                .or(variable["query"].as_str())
                .unwrap_or("");
            // label_values(SELECTOR, label): the selector must select series.
            if let Some(inner) = query
                .strip_prefix("label_values(")
                .and_then(|q| q.rsplit_once(',').map(|(selector, _)| selector))
            {
                queries.push((
                    format!("{file}: variable {}", variable["name"]),
                    inner.to_string(),
                ));
            }
        }
    }
    queries
        .into_iter()
        .map(|(what, expr)| {
            let expr = expr
                .replace("$host", ".+")
                .replace("$suite", ".+")
                .replace("$benchmark", ".+");
            (what, expr)
        })
        .collect()
}

#[test]
fn prometheus_rules_alertmanager_routing_and_dashboards_work_on_the_real_servers() {
    let dir = tempfile::tempdir().unwrap();
    let tree = RegressingTree::create(dir.path(), "tree");
    let api = FaultServer::start();
    let doomed = RegressingTree::create(dir.path(), "doomed");
    let perfwarden_port = free_port();
    let config = dir.path().join("perfwarden.toml");
    let pid_file = dir.path().join("test.pid");
    std::fs::write(&pid_file, std::process::id().to_string()).unwrap();
    let config_text = format!(
        r#"
[agent]
packages = ["prometheus"]
[daemon]
splay = "0s"
timezone = "UTC"
[daemon.quiet]
enabled = false
[export.prometheus]
listen = "127.0.0.1:{perfwarden_port}"
[defaults]
samples = 5
warmup = "0s"
min_time = "200ms"
time_budget = "5s"
timeout = "60s"
[suites.s]
schedule = "@yearly"
benchmarks = ["tree", "doomed", "json", "scaling", "watched", "api", "api-open"]
[benchmarks.json]
kind = "parse.config"
format = "json"
# A ratio (the ratio panel) and a watched process (the memory panel): this test process.
[benchmarks.scaling]
kind = "cpu.parallel"
max_prime = 2000
[benchmarks.watched]
kind = "process.memory"
pid_file = "{pid_file}"
# Load tests against a server in this test: data for the load-test dashboard.
[benchmarks.api]
kind = "load.http"
url = "{url}"
users = 2
ramp_up = "200ms"
duration = "1s"
[benchmarks.api-open]
kind = "load.http"
model = "open"
rate = 100
users = 4
url = "{url}"
ramp_up = "200ms"
duration = "1s"
{}{}"#,
        tree.benchmark_toml("tree"),
        doomed.failing_benchmark_toml("doomed"),
        url = api.url(),
        pid_file = pid_file.display(),
    );
    std::fs::write(&config, &config_text).unwrap();
    let state = dir.path().join("state");
    let cli = || {
        let mut command = perfwarden(&state);
        command.arg("--config").arg(&config);
        command
    };

    // The agent: four baseline runs (at least three stay in the baseline even when a
    // loaded machine makes one an outlier); then `tree` slows down (a critical regression,
    // confirmed by the second slow run) and, in that second run, `doomed` loses its
    // directory (a failed benchmark: a critical regression, suspected until it fails again).
    let daemon = Server {
        child: cli()
            .args(["daemon"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
        log: dir.path().join("daemon.log"),
    };
    let perfwarden_addr = SocketAddr::from(([127, 0, 0, 1], perfwarden_port));
    wait_until(
        "perfwarden's /metrics",
        Duration::from_secs(30),
        || http(perfwarden_addr, "GET", "/metrics").is_some_and(|(code, _)| code == 200),
        || daemon.log(),
    );
    for _ in 0..4 {
        let (code, _, stderr) = run(cli().args(["run", "s"]));
        assert_eq!(code, 0, "{stderr}");
    }
    // A software change the test can make: the package list of the config no longer names
    // prometheus, so its version becomes unknown (a change), applied by a reload.
    std::fs::write(
        &config,
        config_text.replace("packages = [\"prometheus\"]", "packages = []"),
    )
    .unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(daemon.child.id() as i32, libc::SIGHUP) },
        0
    );
    wait_until(
        "the daemon to reload",
        Duration::from_secs(30),
        || daemon.log().contains("config reloaded"),
        || daemon.log(),
    );
    tree.slow_down();
    let (code, stdout, stderr) = run(cli().args(["run", "s"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("critical"),
        "the slowdown is a critical regression:\n{stdout}"
    );
    std::fs::remove_dir_all(&doomed.path).unwrap();
    let (code, stdout, stderr) = run(cli().args(["run", "s"]));
    assert_eq!(code, 2, "a benchmark failed: {stdout}{stderr}");
    let (_, regressions, _) = run(cli().args(["--format", "json", "regressions"]));
    let regressions: Value = serde_json::from_str(&regressions).unwrap();
    let state_of = |benchmark: &str| {
        regressions["regressions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["benchmark"] == benchmark)
            .map(|r| r["state"].clone())
    };
    assert_eq!(state_of("tree"), Some("confirmed".into()), "{regressions}");
    assert_eq!(
        state_of("doomed"),
        Some("suspected".into()),
        "{regressions}"
    );
    // Two more slow runs of `tree` alone (`doomed` stays suspected): 4 runs on each side of
    // the slowdown make a change point.
    for _ in 0..2 {
        let (code, stdout, stderr) = run(cli().args(["run", "s", "--bench", "tree"]));
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    let (_, runs, _) = run(cli().args(["--format", "json", "runs"]));
    let runs: Value = serde_json::from_str(&runs).unwrap();
    let started_ms = |id: u64| -> f64 {
        let run = runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no run {id}"));
        let at = chrono::DateTime::parse_from_rfc3339(run["started_at"].as_str().unwrap()).unwrap();
        at.timestamp() as f64 * 1000.0
    };

    // Alertmanager with the shipped routing, receivers pointing at the webhook.
    let (webhook, webhook_addr) = Webhook::start();
    let alertmanager_port = free_port();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        alertmanager_config(webhook_addr),
    )
    .unwrap();
    let alertmanager = Server::start(
        ALERTMANAGER,
        &[
            format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ),
            format!("--storage.path={}", dir.path().join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{alertmanager_port}"),
            "--cluster.listen-address=".into(),
        ],
        dir.path().join("alertmanager.log"),
    );

    // Prometheus scraping perfwarden every second and evaluating the shipped rules.
    std::fs::write(dir.path().join("rules.yml"), rules_without_for()).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\n\
             scrape_configs:\n  - job_name: perfwarden\n    static_configs:\n      - targets: ['127.0.0.1:{perfwarden_port}']\n"
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let prometheus = Server::start(
        PROMETHEUS,
        &[
            format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ),
            format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom-data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
        ],
        dir.path().join("prometheus.log"),
    );
    let prometheus_addr = SocketAddr::from(([127, 0, 0, 1], prometheus_port));
    let query = |expr: &str| -> Value {
        let (code, body) = http(
            prometheus_addr,
            "GET",
            &format!("/api/v1/query?query={}", url_encode(expr)),
        )
        .unwrap_or((0, String::new()));
        assert_eq!(code, 200, "{expr}: {body}");
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["status"], "success", "{expr}: {body}");
        value["data"]["result"].clone()
    };
    wait_until(
        "Prometheus to scrape perfwarden",
        Duration::from_secs(60),
        || {
            http(prometheus_addr, "GET", "/api/v1/query?query=up")
                .is_some_and(|(_, body)| body.contains("\"1\""))
        },
        || prometheus.log(),
    );

    // The regression alert fires and is routed to the pager with its labels.
    let instance = format!("127.0.0.1:{perfwarden_port}");
    wait_until(
        "the critical regression at the pager webhook",
        Duration::from_secs(90),
        || {
            webhook
                .alerts_at("/pager")
                .iter()
                .any(|a| a["labels"]["benchmark"] == "tree")
        },
        || {
            let probe = |expr: &str| {
                http(
                    prometheus_addr,
                    "GET",
                    &format!("/api/v1/query?query={}", url_encode(expr)),
                )
                .map(|(_, body)| body)
                .unwrap_or_default()
            };
            format!(
                "ALERTS: {}\nregression series: {}\nwebhook: {:?}\n{}",
                probe("ALERTS"),
                probe("perfwarden_regression_active"),
                webhook.received.lock().unwrap(),
                alertmanager.log()
            )
        },
    );
    let alert = webhook
        .alerts_at("/pager")
        .into_iter()
        .find(|a| {
            a["labels"]["alertname"] == "PerfwardenRegressionCritical"
                && a["labels"]["benchmark"] == "tree"
        })
        .expect("the critical regression alert of `tree`");
    let labels = &alert["labels"];
    assert_eq!(alert["status"], "firing");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["benchmark"], "tree");
    assert_eq!(labels["suite"], "s");
    assert_eq!(labels["instance"], instance.as_str());
    assert_eq!(labels["state"], "confirmed");
    let annotations = &alert["annotations"];
    assert!(
        annotations["summary"]
            .as_str()
            .is_some_and(|s| s.contains("tree")),
        "{annotations}"
    );
    assert!(
        annotations["runbook_url"]
            .as_str()
            .is_some_and(|u| u.contains("runbooks/")),
        "{annotations}"
    );
    // Nothing about this regression went to the major/minor receivers (inhibition and routing).
    for path in ["/chat-and-tickets", "/daily-digest"] {
        assert!(
            webhook
                .alerts_at(path)
                .iter()
                .all(|a| a["labels"]["benchmark"] != "tree"),
            "{path}: {:?}",
            webhook.alerts_at(path)
        );
    }

    // Every dashboard query runs and returns data (the load tests fill the load-test
    // dashboard and, with the open model, the duration panels).
    let mut empty = BTreeMap::new();
    for (what, expr) in dashboard_queries() {
        let result = query(&expr);
        if result.as_array().is_none_or(|r| r.is_empty()) {
            empty.insert(what, expr);
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data: {empty:#?}"
    );

    // Every annotation query returns its events at the start of the run they happened in.
    // A critical slowdown this large may confirm at once (run 5) or at the next run (6).
    let transition_at = |run_id: u64, benchmark: &str| -> Option<String> {
        let (_, shown, _) = run(cli().args(["--format", "json", "show", &run_id.to_string()]));
        let shown: Value = serde_json::from_str(&shown).ok()?;
        shown["results"]
            .as_array()?
            .iter()
            .find(|r| r["benchmark"] == benchmark)
            .and_then(|r| r["verdict"]["transition"].as_str().map(str::to_string))
    };
    let confirmed_at = [5, 6]
        .into_iter()
        .find(|id| transition_at(*id, "tree").as_deref() == Some("confirmed"))
        .expect("tree is confirmed at run 5 or 6");
    // (annotation, [(label, value, run)]): each event of the annotation and its run.
    type Events<'a> = &'a [(&'a str, &'a str, u64)];
    let expected: [(&str, Events); 5] = [
        (
            "Regression suspected",
            &[("benchmark", "tree", 5), ("benchmark", "doomed", 6)],
        ),
        (
            "Regression confirmed",
            &[("benchmark", "tree", confirmed_at)],
        ),
        ("Regression resolved", &[]),
        ("Change points", &[("benchmark", "tree", 5)]),
        ("Environment changes", &[("kind", "software", 5)]),
    ];
    for (dashboard, annotations) in dashboard_annotations() {
        for (name, events) in expected {
            let expr = &annotations
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{dashboard}: no annotation {name}"))
                .1;
            let result = query(expr);
            let series = result.as_array().unwrap();
            for (label, value, run_id) in events {
                let found = series
                    .iter()
                    .find(|s| s["metric"][*label] == *value)
                    .unwrap_or_else(|| {
                        panic!("{dashboard}: {name} has no {label}={value}: {result}")
                    });
                let at: f64 = found["value"][1].as_str().unwrap().parse().unwrap();
                assert_eq!(
                    at,
                    started_ms(*run_id),
                    "{dashboard}: {name} {value}: {found}"
                );
                if name == "Environment changes" {
                    assert!(
                        found["metric"]["summary"]
                            .as_str()
                            .is_some_and(|s| s.starts_with("package.prometheus ")
                                && s.ends_with("→ unknown")),
                        "{found}"
                    );
                }
            }
            // Other benchmarks may have had a passing suspicion on a loaded machine; the
            // two this test slows and breaks have exactly the events above.
            for s in series {
                let benchmark = s["metric"]["benchmark"].as_str().unwrap_or("");
                if ["tree", "doomed"].contains(&benchmark) {
                    assert!(
                        events.iter().any(|(_, value, _)| *value == benchmark),
                        "{dashboard}: {name}: unexpected {s}"
                    );
                }
            }
        }
    }
    drop(daemon);
}
