//! The daemon as a process: scheduled suites every few seconds, `status` and read commands
//! over the control socket, a queued `run`, SIGHUP with a broken config, SIGTERM in the
//! middle of a run, SIGKILL followed by a restart, and a full disk under a running daemon.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{SmallDisk, assert_valid_output, fixture, perfwarden, run};
use serde_json::Value;

struct Daemon {
    child: Child,
    state: PathBuf,
    config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(state: &Path, config: &Path) -> Daemon {
        let log = state.with_extension("log");
        let child = perfwarden(state)
            .arg("--config")
            .arg(config)
            .args(["daemon", "--log-format", "json"])
            .env("PERFWARDEN_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the daemon starts");
        let daemon = Daemon {
            child,
            state: state.to_path_buf(),
            config: config.to_path_buf(),
            log,
        };
        // The log line comes after the daemon has opened the database and bound its socket.
        // Polling `status` before that would find no daemon and open the database itself
        // (recovering a killed run before the daemon can), so the log is awaited first.
        daemon.wait_for("the daemon to start", Duration::from_secs(30), |d| {
            d.log_text().contains("daemon started")
        });
        daemon.wait_for("the socket to answer", Duration::from_secs(30), |d| {
            d.status().is_some()
        });
        daemon
    }

    /// A CLI command against the daemon's state directory.
    fn cli(&self) -> Command {
        let mut command = perfwarden(&self.state);
        command.arg("--config").arg(&self.config);
        command
    }

    /// `status --format json` when the daemon answers, else `None`.
    fn status(&self) -> Option<Value> {
        let (code, stdout, _) = run(self.cli().args(["--format", "json", "status"]));
        if code != 0 {
            return None;
        }
        let value = assert_valid_output(&stdout);
        value["daemon"].is_object().then_some(value)
    }

    fn runs(&self) -> Vec<Value> {
        let (code, stdout, stderr) = run(self.cli().args(["--format", "json", "runs"]));
        assert_eq!(code, 0, "{stderr}");
        assert_valid_output(&stdout)["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Daemon) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; daemon log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the `slow` suite is at its `index`-th benchmark; returns its run id.
    fn wait_for_slow_benchmark(&self, index: u64) -> u64 {
        let mut found = None;
        self.wait_for(
            &format!("benchmark {index} of the slow run"),
            Duration::from_secs(60),
            |d| {
                found = d
                    .status()
                    .and_then(|s| current_run(&s))
                    .filter(|(suite, _, at)| suite == "slow" && *at >= index)
                    .map(|(_, run, _)| run);
                found.is_some()
            },
        );
        found.unwrap()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon's test config, edited by `edit`, in a file the test may rewrite (SIGHUP).
fn write_config(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let path = dir.join("perfwarden.toml");
    let text = std::fs::read_to_string(fixture("daemon.toml")).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// The test config with no suite scheduled during the test (runs are requested).
fn unscheduled_config(dir: &Path) -> PathBuf {
    write_config(dir, |text| text.replace("*/4 * * * * *", "@yearly"))
}

/// One suite's entry in `status --format json`.
fn suite_status(status: &Value, suite: &str) -> Value {
    status["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["suite"] == suite)
        .unwrap_or_else(|| panic!("no suite {suite} in {status}"))
        .clone()
}

fn current_run(status: &Value) -> Option<(String, u64, u64)> {
    let current = &status["daemon"]["current"];
    Some((
        current["suite"].as_str()?.to_string(),
        current["run_id"].as_u64()?,
        current["index"].as_u64()?,
    ))
}

#[test]
fn daemon_schedules_serves_reloads_and_stops_cleanly_mid_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = write_config(dir.path(), |text| text);
    let mut daemon = Daemon::start(&state, &config);

    // Scheduled runs happen every 4 seconds; `runs` is answered through the socket while the
    // daemon holds the database.
    daemon.wait_for("two scheduled smoke runs", Duration::from_secs(60), |d| {
        d.runs()
            .iter()
            .filter(|r| r["suite"] == "smoke" && r["status"] == "success")
            .count()
            >= 2
    });
    let runs = daemon.runs();
    assert!(runs.iter().all(|r| r["trigger"] == "scheduled"), "{runs:?}");

    let status = daemon.status().unwrap();
    assert_eq!(status["daemon"]["pid"], daemon.child.id());
    assert_eq!(status["daemon"]["timezone"], "UTC");
    let smoke = status["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["suite"] == "smoke")
        .unwrap();
    assert!(smoke["next_run"].is_string(), "{smoke}");
    assert_eq!(smoke["last_status"], "success");
    assert!(status["health_score"].is_number());
    let (code, text, _) = run(daemon.cli().arg("status"));
    assert_eq!(code, 0);
    assert!(text.contains("daemon     running, pid"), "{text}");

    // SIGHUP with a broken config: logged, the old config keeps running.
    std::fs::write(&config, "[daemon]\nsplay = \"soon\"\n[suites.smoke]\nschedule = \"61 * * * *\"\nbenchmarks = [\"primes\"]\n").unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("the rejected reload", Duration::from_secs(10), |d| {
        d.status()
            .is_some_and(|s| s["daemon"]["last_reload"]["ok"] == false)
    });
    let status = daemon.status().unwrap();
    let errors = status["daemon"]["last_reload"]["errors"].to_string();
    assert!(errors.contains("daemon.splay"), "{errors}");
    assert!(errors.contains("suites.smoke.schedule"), "{errors}");
    assert!(daemon.log_text().contains("config reload rejected"));
    let before = daemon.runs().len();
    daemon.wait_for(
        "runs to go on after the bad reload",
        Duration::from_secs(30),
        |d| d.runs().len() > before,
    );
    std::fs::copy(fixture("daemon.toml"), &config).unwrap();

    // A manual run of the slow suite through the daemon, then SIGTERM in its middle.
    let manual = daemon
        .cli()
        .args(["run", "slow"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let slow_run = daemon.wait_for_slow_benchmark(2);
    let stopping = Instant::now();
    daemon.signal(libc::SIGTERM);
    let code = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(0),
        "exits within 10 s; log:\n{}",
        daemon.log_text()
    );
    assert!(stopping.elapsed() < Duration::from_secs(10));
    // `--log-format json`: one JSON object per line.
    for line in daemon.log_text().lines() {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["level"].is_string() && event["message"].is_string(),
            "{line}"
        );
    }
    let output = manual.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ticket"), "{stderr}");

    // The database is intact and the run is marked interrupted, with its finished results.
    let store = perfwarden::store::Store::open(&state).expect("the database opens");
    assert!(store.recovered_runs().is_empty(), "nothing left running");
    let record = store.run(slow_run).unwrap().unwrap();
    assert_eq!(
        record.status,
        perfwarden::model::records::RunStatus::Interrupted
    );
    assert!(!store.results(slow_run).unwrap().is_empty());
    assert!(!state.join("perfwarden.sock").exists(), "socket removed");

    // Without the daemon, `status` reads the database and says so with exit code 4.
    drop(store);
    let (code, stdout, _) = run(daemon.cli().args(["--format", "json", "status"]));
    assert_eq!(code, 4);
    let offline = assert_valid_output(&stdout);
    assert!(offline["daemon"].is_null());
    let smoke = suite_status(&offline, "smoke");
    assert_eq!(smoke["last_status"], "success");
    // Without the daemon the next run is still ahead: the schedule's next time from now.
    let next = chrono::DateTime::parse_from_rfc3339(smoke["next_run"].as_str().unwrap()).unwrap();
    assert!(
        next > chrono::Utc::now() - chrono::Duration::seconds(1),
        "{smoke}"
    );
}

#[test]
fn a_run_requested_while_a_suite_runs_is_queued_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = unscheduled_config(dir.path());
    let daemon = Daemon::start(&state, &config);

    let first = daemon
        .cli()
        .args(["run", "slow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    daemon.wait_for("the slow run to start", Duration::from_secs(30), |d| {
        d.status()
            .and_then(|s| current_run(&s))
            .is_some_and(|(suite, _, _)| suite == "slow")
    });
    let (code, stdout, stderr) = run(daemon.cli().args(["--format", "json", "run", "smoke"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("queued behind it (1 ahead"), "{stderr}");
    let queued = assert_valid_output(&stdout);
    assert_eq!(queued["run"]["suite"], "smoke");
    assert_eq!(queued["run"]["trigger"], "manual");
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    let slow = String::from_utf8_lossy(&first.stdout);
    assert!(slow.contains("suite slow · success"), "{slow}");
    // The smoke run started after the slow one ended: never two at once.
    let runs = daemon.runs();
    let find = |suite: &str| runs.iter().find(|r| r["suite"] == suite).unwrap().clone();
    let (slow, smoke) = (find("slow"), find("smoke"));
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(parse(&smoke["started_at"]) >= parse(&slow["finished_at"]));

    // Unknown suites are refused by the daemon with the CLI's usage error.
    let (code, _, stderr) = run(daemon.cli().args(["run", "nope"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no suite named \"nope\""), "{stderr}");
}

#[test]
fn after_sigkill_mid_run_a_restart_recovers_and_keeps_committed_results() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = unscheduled_config(dir.path());
    let mut daemon = Daemon::start(&state, &config);
    let mut client = daemon
        .cli()
        .args(["run", "slow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run_id = daemon.wait_for_slow_benchmark(3);
    let (_, shown, _) = run(daemon
        .cli()
        .args(["--format", "json", "show", &run_id.to_string()]));
    let committed = assert_valid_output(&shown)["results"]
        .as_array()
        .unwrap()
        .len();
    assert!(committed >= 2, "{shown}");
    daemon.child.kill().unwrap(); // SIGKILL
    daemon.child.wait().unwrap();
    // The client following the run loses its daemon: interrupted, as Ctrl-C would be.
    assert_eq!(client.wait().unwrap().code(), Some(130));

    // The stale socket is replaced; the dead run is marked interrupted at open.
    let restarted = Daemon::start(&state, &config);
    assert!(restarted.log_text().contains("marked interrupted"));
    let (code, shown, stderr) =
        run(restarted
            .cli()
            .args(["--format", "json", "show", &run_id.to_string()]));
    assert_eq!(code, 0, "{stderr}");
    let shown = assert_valid_output(&shown);
    assert_eq!(shown["run"]["status"], "interrupted");
    assert!(shown["results"].as_array().unwrap().len() >= committed);
}

/// A config whose quiet-host gate can never pass: no host has 100% of its memory available.
fn busy_host_config(dir: &Path, when_busy: &str) -> PathBuf {
    write_config(dir, |text| {
        let text = text.replace("*/4 * * * * *", "*/3 * * * * *").replace(
            "[daemon.quiet]\nenabled = false\n",
            &format!(
                "[daemon.quiet]\nmin_available_memory = \"100%\"\ncpu_sample = \"100ms\"\ninitial_backoff = \"1s\"\nmax_backoff = \"1s\"\nmax_delay = \"2s\"\nwhen_busy = \"{when_busy}\"\n"
            ),
        );
        assert!(text.contains("when_busy"));
        text
    })
}

#[test]
fn a_busy_host_postpones_then_skips_or_flags_the_run_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = busy_host_config(dir.path(), "skip");
    let daemon = Daemon::start(&state, &config);

    daemon.wait_for("the gate to postpone", Duration::from_secs(30), |d| {
        d.status().is_some_and(|s| {
            s["daemon"]["state"] == "waiting_for_quiet_host"
                && s["daemon"]["waiting"]["reasons"]
                    .to_string()
                    .contains("memory available")
        })
    });
    daemon.wait_for("a skipped run", Duration::from_secs(30), |d| {
        d.runs().iter().any(|r| r["status"] == "skipped")
    });
    let skipped = daemon
        .runs()
        .into_iter()
        .find(|r| r["status"] == "skipped")
        .unwrap();
    assert_eq!(skipped["gate"]["outcome"], "skipped");
    assert!(skipped["gate"]["postponed_secs"].as_f64().unwrap() >= 2.0);
    assert!(skipped["gate"]["checks"].as_u64().unwrap() >= 2);
    assert!(
        skipped["gate"]["readings"]["available_memory"]
            .as_f64()
            .unwrap()
            < 1.0
    );
    let id = skipped["id"].to_string();
    let (_, shown, _) = run(daemon.cli().args(["show", &id]));
    assert!(shown.contains("skipped: the host stayed busy"), "{shown}");
    assert!(shown.contains("memory available"), "{shown}");

    // Reloaded with when_busy = "run": the suite runs and is flagged noisy.
    busy_host_config(dir.path(), "run");
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("a noisy run", Duration::from_secs(40), |d| {
        d.runs()
            .iter()
            .any(|r| r["gate"]["outcome"] == "noisy" && r["status"] == "success")
    });
    let (_, listed, _) = run(daemon.cli().arg("runs"));
    assert!(listed.contains("smoke (noisy host)"), "{listed}");
}

/// A suite that waits for a quiet host (a gate that cannot pass, with a long back-off) does
/// not hold up a manual run, keeps `status` current, and follows a reload of the gate.
#[test]
fn a_suite_waiting_for_a_quiet_host_lets_manual_runs_through_and_follows_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let waiting_gate = |text: String| {
        let text = text.replace(
            "[daemon.quiet]\nenabled = false\n",
            "[daemon.quiet]\nmin_available_memory = \"100%\"\ncpu_sample = \"100ms\"\ninitial_backoff = \"60s\"\nmax_backoff = \"60s\"\nmax_delay = \"10m\"\nwhen_busy = \"skip\"\n",
        );
        assert!(text.contains("max_delay"));
        text
    };
    let config = write_config(dir.path(), waiting_gate);
    let daemon = Daemon::start(&state, &config);
    let mut since = None;
    daemon.wait_for("the suite to wait", Duration::from_secs(30), |d| {
        since = d
            .status()
            .filter(|s| s["daemon"]["state"] == "waiting_for_quiet_host")
            .map(|s| s["daemon"]["waiting"]["since"].clone());
        since.is_some()
    });
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();

    // Smoke comes due every 4 s; while it waits, its next run time still moves on.
    std::thread::sleep(Duration::from_secs(5));
    let status = daemon.status().unwrap();
    let smoke = suite_status(&status, "smoke");
    assert!(
        parse(&smoke["next_run"]) > chrono::Utc::now() - chrono::Duration::seconds(1),
        "the next run time is current while a suite waits: {smoke}"
    );

    // A manual run goes through at once (manual runs do not wait for the host) …
    let asked = Instant::now();
    let (code, stdout, stderr) = run(daemon.cli().args(["--format", "json", "run", "smoke"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(asked.elapsed() < Duration::from_secs(30), "{stderr}");
    assert_eq!(assert_valid_output(&stdout)["run"]["trigger"], "manual");
    // … and the suite goes back to its wait, counted from when it began.
    daemon.wait_for("the wait to resume", Duration::from_secs(30), |d| {
        d.status().is_some_and(|s| {
            s["daemon"]["state"] == "waiting_for_quiet_host"
                && Some(&s["daemon"]["waiting"]["since"]) == since.as_ref()
        })
    });
    assert!(
        daemon.log_text().contains("a manual run was requested"),
        "{}",
        daemon.log_text()
    );

    // A reload that turns the gate off reaches the waiting suite: it runs now, not after
    // its 60 s back-off.
    write_config(dir.path(), |text| text);
    let reloaded = Instant::now();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for(
        "the scheduled run after the reload",
        Duration::from_secs(30),
        |d| {
            d.runs()
                .iter()
                .any(|r| r["trigger"] == "scheduled" && r["status"] == "success")
        },
    );
    assert!(reloaded.elapsed() < Duration::from_secs(30));
}

#[test]
fn systemd_notifications_and_journald_logs() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = unscheduled_config(dir.path());
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = dir.path().join("journal.log");
    let mut child = perfwarden(&state)
        .arg("--config")
        .arg(&config)
        .arg("daemon")
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("JOURNAL_STREAM", "8:12345")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut messages = String::new();
    let read_until = |needle: &str, messages: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buffer = [0u8; 4096];
        while !messages.contains(needle) {
            assert!(Instant::now() < deadline, "no {needle} in:\n{messages}");
            if let Ok(n) = notify.recv(&mut buffer) {
                messages.push_str(&String::from_utf8_lossy(&buffer[..n]));
                messages.push('\n');
            }
        }
    };
    read_until("READY=1", &mut messages);
    assert!(messages.contains("STATUS=idle; next: "), "{messages}");
    read_until("WATCHDOG=1", &mut messages);
    // A reload of a broken config logs each problem with its hint on a second line.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{good}\n[suites.broken]\nschedule = \"@nightly\"\nbenchmarks = [\"primes\"]\n"),
    )
    .unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    read_until("RELOADING=1", &mut messages);
    read_until("READY=1\n", &mut messages);
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    read_until("STOPPING=1", &mut messages);
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // Under systemd ($JOURNAL_STREAM): a syslog priority prefix and no timestamp.
    let journal = std::fs::read_to_string(&log).unwrap();
    assert!(
        journal.lines().any(|l| l.starts_with("<6>daemon started")),
        "{journal}"
    );
    // Every line carries the priority (journald's stream makes each line an entry), so a
    // hint is at its problem's level; and no colour codes.
    assert!(journal.lines().all(|l| l.starts_with('<')), "{journal}");
    assert!(
        journal
            .lines()
            .any(|l| l.starts_with("<3>") && l.contains("hint:")),
        "{journal}"
    );
    assert!(!journal.contains('\u{1b}'), "no escape codes: {journal:?}");
    assert!(!journal.contains("Z "), "no timestamps: {journal}");
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_prometheus_endpoint_serves_only_catalog_names() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = write_config(dir.path(), |text| {
        text + &format!("\n[export.prometheus]\nlisten = \"{addr}\"\n")
    });
    let daemon = Daemon::start(&state, &config);

    let mut body = String::new();
    daemon.wait_for("benchmark series", Duration::from_secs(60), |_| {
        body = http_get(&addr, "/metrics").1;
        body.contains("perfwarden_suite_last_success_timestamp_seconds{suite=\"smoke\"}")
    });
    let allowed: Vec<String> = perfwarden::export::catalog::METRICS
        .iter()
        .map(perfwarden::export::catalog::prometheus_name)
        .chain(["target_info".to_string()])
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(
            allowed.iter().any(|a| a == name),
            "{name} is not in the catalog"
        );
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value.is_finite(), "{line}");
        seen.insert(name.to_string());
    }
    for expected in [
        "perfwarden_benchmark_throughput_per_second",
        "perfwarden_health_score",
        "perfwarden_suite_runs_total",
        "perfwarden_suite_duration_seconds",
        "target_info",
    ] {
        assert!(seen.contains(expected), "{expected} missing from:\n{body}");
    }
    assert!(body.contains(
        "perfwarden_benchmark_throughput_per_second{benchmark=\"primes\",suite=\"smoke\",statistic=\"median\"}"
    ));
    assert!(body.contains("# TYPE perfwarden_suite_runs_total counter"));
    assert!(body.contains("service_version=\""), "{body}");
    assert_eq!(http_get(&addr, "/nope").0, 404);

    // The config load: accepted at start; a rejected reload turns the series to 0 and
    // keeps the time of the last accepted load.
    let sample = |body: &str, name: &str| -> Option<f64> {
        body.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    assert_eq!(
        sample(&body, "perfwarden_config_last_reload_successful"),
        Some(1.0),
        "{body}"
    );
    let accepted = sample(
        &body,
        "perfwarden_config_last_reload_success_timestamp_seconds",
    )
    .expect("the time of the accepted load");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("[daemon]", "[daemon]\nsplay = \"soon\""),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for(
        "the rejected reload at /metrics",
        Duration::from_secs(10),
        |_| {
            body = http_get(&addr, "/metrics").1;
            sample(&body, "perfwarden_config_last_reload_successful") == Some(0.0)
        },
    );
    assert_eq!(
        sample(
            &body,
            "perfwarden_config_last_reload_success_timestamp_seconds"
        ),
        Some(accepted)
    );
    std::fs::write(&config, good).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for(
        "the accepted reload at /metrics",
        Duration::from_secs(10),
        |_| {
            body = http_get(&addr, "/metrics").1;
            sample(&body, "perfwarden_config_last_reload_successful") == Some(1.0)
        },
    );
    assert!(
        sample(
            &body,
            "perfwarden_config_last_reload_success_timestamp_seconds"
        )
        .is_some_and(|at| at > accepted),
        "{body}"
    );
}

#[test]
fn the_daemon_keeps_a_bounded_set_of_reports_and_serves_the_latest_at_report() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = write_config(dir.path(), |text| {
        text.replace("[daemon]\n", "[daemon]\nreports_kept = 2\n")
            + &format!("\n[export.prometheus]\nlisten = \"{addr}\"\nreport = true\n")
    });
    let daemon = Daemon::start(&state, &config);
    let reports = state.join("reports");
    let dated = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&reports)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("report-"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    // The smoke suite runs every 4 s: after four runs only the newest two reports are kept.
    daemon.wait_for("four finished runs", Duration::from_secs(90), |d| {
        d.runs().iter().filter(|r| r["status"] == "success").count() >= 4
    });
    daemon.wait_for("reports pruned to 2", Duration::from_secs(30), |_| {
        dated().len() == 2
    });
    let newest_run = daemon.runs()[0]["id"].as_u64().unwrap();
    let kept = dated();
    assert!(
        kept.iter()
            .any(|n| n.contains(&format!("-run{:06}-", newest_run)))
            || kept
                .iter()
                .any(|n| n.contains(&format!("-run{:06}-", newest_run - 1))),
        "{kept:?}"
    );
    assert!(kept.iter().all(|n| !n.ends_with(".partial")));
    let latest = std::fs::read_to_string(reports.join("latest.html")).unwrap();
    assert!(latest.starts_with("<!DOCTYPE html>") && latest.ends_with("</html>\n"));
    let (status, body) = http_get(&addr, "/report");
    assert_eq!(status, 200);
    assert!(
        body.contains("perfwarden report of") && body.contains("<h2>Summary</h2>"),
        "{body}"
    );
    assert!(!body.contains("http://") && !body.contains("https://"));
    assert_eq!(http_get(&addr, "/metrics").0, 200);
}

#[test]
fn the_report_is_not_served_unless_asked_for() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = write_config(dir.path(), |text| {
        text.replace("*/4 * * * * *", "@yearly")
            + &format!("\n[export.prometheus]\nlisten = \"{addr}\"\n")
    });
    let _daemon = Daemon::start(&state, &config);
    let (status, body) = http_get(&addr, "/report");
    assert_eq!(status, 404);
    assert!(body.contains("report = true"), "{body}");
}

#[test]
fn a_full_disk_fails_the_run_and_the_same_daemon_runs_again_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount("8m");
    let state = disk.path().join("state");
    let config = unscheduled_config(dir.path());
    let daemon = Daemon::start(&state, &config);
    let (code, _, stderr) = run(daemon.cli().args(["run", "smoke"]));
    assert_eq!(code, 0, "{stderr}");

    let filler = disk.fill();
    let (code, _, stderr) = run(daemon.cli().args(["run", "smoke"]));
    assert_eq!(code, 3, "a run on a full disk fails: {stderr}");
    assert!(stderr.contains("no space left on the device"), "{stderr}");
    let status = daemon.status().expect("the daemon still answers");
    assert_eq!(
        suite_status(&status, "smoke")["last_status"],
        "failed",
        "{status}"
    );

    std::fs::remove_file(&filler).unwrap();
    // No restart: the same daemon runs the next suite.
    let (code, stdout, stderr) = run(daemon.cli().args(["--format", "json", "run", "smoke"]));
    assert_eq!(
        code, 0,
        "once space is back the next run succeeds: {stderr}"
    );
    assert_eq!(assert_valid_output(&stdout)["run"]["status"], "success");
    let status = daemon.status().unwrap();
    assert_eq!(suite_status(&status, "smoke")["last_status"], "success");
    // Nothing is left `running`: the run the full disk stopped, if it got a record, failed.
    let runs = daemon.runs();
    assert!(runs.iter().all(|r| r["status"] != "running"), "{runs:?}");
    assert_eq!(
        runs.iter().filter(|r| r["status"] == "success").count(),
        2,
        "{runs:?}"
    );
    assert!(
        daemon
            .log_text()
            .contains("reopened the database after an I/O error"),
        "{}",
        daemon.log_text()
    );
}

#[test]
fn a_thousand_silent_connections_neither_hang_status_nor_stay() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = unscheduled_config(dir.path());
    let daemon = Daemon::start(&state, &config);
    let socket = state.join("perfwarden.sock");
    let silent: Vec<std::os::unix::net::UnixStream> = (0..1000)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).expect("connect"))
        .collect();
    // While they are open `status` answers at once: with the status, or, while the
    // connection limit is taken, with a clear error.
    let started = Instant::now();
    let (code, stdout, stderr) = run(daemon.cli().arg("status"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "status took {:?}",
        started.elapsed()
    );
    assert!(
        code == 0 || stderr.contains("connections at once"),
        "exit {code}: {stdout}{stderr}"
    );
    // The silent ones are closed after the request timeout; then status answers.
    daemon.wait_for("status to answer", Duration::from_secs(15), |d| {
        d.status().is_some()
    });
    let mut closed = 0;
    for mut stream in silent {
        use std::io::Read;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buffer = Vec::new();
        if stream.read_to_end(&mut buffer).is_ok() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 1000,
        "every silent connection was closed by the daemon"
    );
}

/// The `results` and `samples` lines of an export: what a committed result is.
fn committed_lines(export: &str) -> std::collections::BTreeSet<String> {
    export
        .lines()
        .filter(|l| {
            l.starts_with("{\"table\":\"results\"") || l.starts_with("{\"table\":\"samples\"")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn a_backup_while_the_daemon_runs_suites_opens_with_every_committed_result() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let daemon = Daemon::start(&state, &fixture("daemon.toml"));
    daemon.wait_for("a first suite", Duration::from_secs(60), |d| {
        d.runs().iter().any(|r| r["status"] == "success")
    });
    let mut backups = Vec::new();
    for round in 0..3 {
        // Suites run every 4 seconds; the backups fall at different moments of them.
        std::thread::sleep(Duration::from_millis(2500 + 900 * round));
        let file = dir.path().join(format!("backup-{round}.redb"));
        let (code, stdout, stderr) = run(daemon.cli().args(["db", "backup"]).arg(&file));
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("runs"), "{stdout}");
        backups.push(file);
    }
    let (code, live, stderr) = run(daemon.cli().args(["db", "export"]));
    assert_eq!(code, 0, "{stderr}");
    let live = committed_lines(&live);
    for (round, file) in backups.iter().enumerate() {
        // A backup is a database: it opens as a state directory of its own.
        let restored = dir.path().join(format!("restored-{round}"));
        std::fs::create_dir(&restored).unwrap();
        std::fs::copy(file, restored.join("perfwarden.redb")).unwrap();
        let restored_cli = || {
            let mut command = perfwarden(&restored);
            command.env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock");
            command
        };
        let (code, stdout, stderr) = run(restored_cli().args(["--format", "json", "runs"]));
        assert_eq!(code, 0, "{stderr}");
        let runs = assert_valid_output(&stdout)["runs"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!runs.is_empty(), "backup {round} holds no run");
        for finished in runs.iter().filter(|r| r["status"] == "success") {
            let id = finished["id"].as_u64().unwrap().to_string();
            let (code, shown, stderr) = run(restored_cli().args(["--format", "json", "show", &id]));
            assert_eq!(code, 0, "{stderr}");
            assert_eq!(
                assert_valid_output(&shown)["results"]
                    .as_array()
                    .unwrap()
                    .len(),
                finished["benchmarks"].as_array().unwrap().len(),
                "run {id} in backup {round} lacks results"
            );
        }
        let (code, copy, stderr) = run(restored_cli().args(["db", "export"]));
        assert_eq!(code, 0, "{stderr}");
        let copy = committed_lines(&copy);
        assert!(!copy.is_empty());
        assert!(
            copy.is_subset(&live),
            "backup {round} holds results the daemon does not"
        );
        let (code, _, stderr) = run(restored_cli().args(["db", "check"]));
        assert_eq!(code, 0, "{stderr}");
    }
    // An existing file is never overwritten.
    let (code, _, stderr) = run(daemon.cli().args(["db", "backup"]).arg(&backups[0]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("never overwritten"), "{stderr}");
}

#[test]
fn sigkill_at_random_moments_of_the_daemon_never_loses_a_committed_result() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = fixture("daemon.toml");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
    let mut committed = std::collections::BTreeSet::new();
    let export = || {
        let (code, stdout, stderr) = run(perfwarden(&state)
            .args(["db", "export"])
            .env("PERFWARDEN_SOCKET", "/nonexistent/perfwarden.sock"));
        assert_eq!(code, 0, "{stderr}");
        committed_lines(&stdout)
    };
    for _ in 0..20 {
        let mut daemon = Daemon::start(&state, &config);
        std::thread::sleep(Duration::from_millis(rng.random_range(200..3000)));
        daemon.child.kill().unwrap(); // SIGKILL
        daemon.child.wait().unwrap();
        let now = export();
        let lost: Vec<_> = committed.difference(&now).collect();
        assert!(
            lost.is_empty(),
            "results lost after a SIGKILL of the daemon: {lost:?}"
        );
        committed = now;
    }
    assert!(
        committed.len() >= 10,
        "too few results: {}",
        committed.len()
    );
}

#[test]
fn garbage_on_the_control_socket_gets_an_error_or_a_close_and_the_daemon_serves_on() {
    use rand::{Rng, SeedableRng};
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let daemon = Daemon::start(&state, &unscheduled_config(dir.path()));
    let socket = state.join("perfwarden.sock");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let shapes = [
        r#"{"request":"command","argv":["perfwarden","show","99999999999999999999"],"color":false,"terminal":false,"state_dir":null}"#,
        r#"{"request":"run","suite":"nope","benches":[],"quick":false,"state_dir":null}"#,
        r#"{"request":"ticket","ticket":-1}"#,
        r#"{"request":"export","state_dir":"/nonexistent"}"#,
        r#"{"request":"command","argv":[],"color":false,"terminal":false,"state_dir":null}"#,
        r#"{"request":"status""#,
        "\u{0}\u{1}\u{2}",
    ];
    for case in 0..300 {
        let mut request: Vec<u8> = match case % 3 {
            0 => (0..rng.random_range(0..512))
                .map(|_| rng.random())
                .collect(),
            1 => shapes[rng.random_range(0..shapes.len())]
                .as_bytes()
                .to_vec(),
            _ => {
                let mut shape = shapes[rng.random_range(0..shapes.len())]
                    .as_bytes()
                    .to_vec();
                let at = rng.random_range(0..shape.len());
                shape[at] = rng.random();
                shape
            }
        };
        if rng.random_bool(0.8) {
            request.push(b'\n');
        }
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(&request);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer);
        assert!(
            read.is_ok(),
            "case {case}: no answer and no close within 10 s"
        );
        if !answer.is_empty() {
            let line = String::from_utf8(answer).expect("the answer is UTF-8");
            let first = line.lines().next().unwrap_or_default();
            assert!(
                serde_json::from_str::<Value>(first).is_ok(),
                "case {case}: answer is not JSON: {first}"
            );
        }
    }
    assert!(daemon.status().is_some(), "the daemon stopped serving");
    assert!(
        !daemon.log_text().contains("panicked"),
        "{}",
        daemon.log_text()
    );
}

#[test]
fn a_second_daemon_on_the_same_state_directory_is_refused_at_once_with_the_first_ones_pid() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = unscheduled_config(dir.path());
    let first = Daemon::start(&state, &config);
    let started = Instant::now();
    let (code, _, stderr) = run(first.cli().args(["daemon"]));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("another perfwarden daemon is running")
            && stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    assert!(first.status().is_some(), "the first daemon must go on");
}
