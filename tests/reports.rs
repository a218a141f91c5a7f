//! The reports people look at: HTML, Markdown and SVG of a known history — weekly runs with
//! a kernel upgrade that slows one benchmark by 25% (suspected, then confirmed), a steady
//! one beside it — rendered in every format, counted element by element, pinned by
//! snapshots, and opened in a real headless Chromium that must load nothing and log no
//! error. Also the plain statements of an empty database, one run and only failed runs.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use perfwarden::model::metric::MetricDef;
use perfwarden::model::records::{SoftwareEnvironment, Trigger};
use perfwarden::report::{self, Format, ReviewReport};
use perfwarden::runner::{self, BenchmarkPlan, RunContext, Silent, fingerprint};
use perfwarden::store::Store;
use perfwarden::workload::CancelToken;
use perfwarden::workload::fake::{FakeClock, FakeStep, FakeWorkload};

fn plan(name: &str, clock: &FakeClock, steps: Vec<FakeStep>) -> BenchmarkPlan {
    BenchmarkPlan {
        name: name.into(),
        kind: "fake".into(),
        config_hash: format!("{name}-hash"),
        options: common::fake_options(),
        workload: Box::new(FakeWorkload::new(
            MetricDef::duration("op"),
            clock.clone(),
            steps,
        )),
    }
}

fn environment(kernel: &str) -> SoftwareEnvironment {
    SoftwareEnvironment {
        kernel: Some(kernel.into()),
        microcode: Some("0xa0011d1".into()),
        agent_version: Some("0.1.0".into()),
        ..SoftwareEnvironment::default()
    }
}

/// Runs of the `weekly` suite a week apart from 2026-09-07 03:00 UTC: runs 1–8 at 100 µs
/// per operation under kernel 6.1.0-26, then runs 9–11 under 6.1.0-28 with `slow` at
/// 125 µs (a regression opened at run 9 naming the kernel, confirmed at run 10); `steady`
/// stays at 50 µs throughout.
fn weekly_history(store: &Store, runs: usize) {
    let clock = FakeClock::new();
    let first = Utc.with_ymd_and_hms(2026, 9, 7, 3, 0, 0).unwrap();
    for i in 0..runs {
        clock.set_now(first + chrono::Duration::weeks(i as i64));
        let upgraded = i >= 8;
        let ctx = RunContext {
            store,
            suite: "weekly".into(),
            quick: false,
            fingerprint: fingerprint::collect(),
            environment: environment(if upgraded {
                "6.1.0-28-amd64"
            } else {
                "6.1.0-26-amd64"
            }),
            host: "db-7".into(),
            clock: Arc::new(clock.clone()),
            cancel: CancelToken::new(),
            trigger: Trigger::Scheduled,
            gate: None,
            confirms: None,
        };
        let outcome = runner::run_suite(
            &ctx,
            vec![
                plan(
                    "slow",
                    &clock,
                    common::wobbly(if upgraded { 125 } else { 100 }),
                ),
                plan("steady", &clock, common::wobbly(50)),
            ],
            &mut Silent,
        )
        .unwrap();
        perfwarden::detect::evaluate_run(
            store,
            &outcome.run,
            &perfwarden::detect::AgeLimits::fixed(chrono::Duration::days(120)),
        )
        .unwrap();
    }
}

fn known_history() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    weekly_history(&store, 11);
    (dir, store)
}

/// Fails when `html` could make a browser fetch anything: a URL with a scheme, a
/// protocol-relative one, or an attribute or CSS function that loads.
fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for needle in [
        "http://", "https://", "ftp://", "src=", "href=", "url(", "@import", "<script", "<link",
        "<iframe", "<img", "<object", "<embed", "xlink:",
    ] {
        assert!(!lower.contains(needle), "the page contains {needle:?}");
    }
}

/// The `<section>` of the page that holds the open regression of `benchmark`.
fn regression_section<'a>(html: &'a str, benchmark: &str) -> &'a str {
    let start = html
        .find(&format!("<h3>{benchmark}: "))
        .expect("a section for the regression");
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[test]
fn the_html_report_draws_the_known_history() {
    let (_dir, store) = known_history();
    let review = ReviewReport::build(&store, None, None, None).unwrap();
    let html = report::render(&review, Format::Html, Default::default()).unwrap();
    assert_self_contained(&html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("prefers-color-scheme: dark") && html.contains("@media print"));
    // Executive summary first: score, grade and the one-line verdict.
    let summary = html.find("<h2>Summary</h2>").unwrap();
    let regressions = html.find("<h2>Open regressions</h2>").unwrap();
    let grid = html.find("<h2>Every benchmark</h2>").unwrap();
    assert!(
        summary < regressions && regressions < grid,
        "sections in order"
    );
    assert!(
        html.contains(
            "1 open regression, 1 major confirmed since 2026-11-02 03:00; production readiness: not met — see below"
        ),
        "{}",
        &html[summary..regressions]
    );
    assert!(
        html.contains("run 9 (weekly, 2026-11-02 03:00): kernel 6.1.0-26-amd64 → 6.1.0-28-amd64")
    );
    // The regression's step chart: 11 runs, each with its interval, one baseline band,
    // suspected at run 9 and confirmed at run 10, the kernel change as a rule.
    let section = regression_section(&html, "slow");
    let chart_end = section.find("</svg>").unwrap();
    let chart = &section[..chart_end];
    assert_eq!(chart.matches("<circle class=\"point ").count(), 11);
    assert_eq!(chart.matches("class=\"whisker\"").count(), 11);
    assert_eq!(chart.matches("<rect class=\"band\"").count(), 1);
    assert_eq!(chart.matches("class=\"marker suspected\"").count(), 1);
    assert_eq!(chart.matches("class=\"marker confirmed\"").count(), 1);
    assert_eq!(chart.matches("class=\"rule environment\"").count(), 1);
    assert!(
        chart.contains("run 9: regression suspected")
            && chart.contains("run 10: regression confirmed")
    );
    // Before/after samples: the last good run (8) against the latest (11).
    let distributions = &section[chart_end..];
    assert_eq!(distributions.matches("<rect class=\"box ").count(), 2);
    assert!(distributions.contains("before · run 8") && distributions.contains("after · run 11"));
    // Evidence, the host change and the exact commands.
    assert!(section.contains("minimum detectable change"));
    assert!(section.contains("likely cause</th><td>kernel 6.1.0-26-amd64 → 6.1.0-28-amd64"));
    assert!(section.contains("<code>6.1.0-26-amd64</code> → <code>6.1.0-28-amd64</code>"));
    assert!(section.contains("perfwarden compare 8 11"));
    assert!(section.contains("perfwarden baseline accept slow"));
    // The grid: one sparkline per benchmark, coloured by how it stands.
    assert_eq!(html.matches("<div class=\"cell regression\">").count(), 1);
    assert_eq!(html.matches("<div class=\"cell ok\">").count(), 1);
    // Every chart has a title, a text alternative and a line on how to read it.
    let charts = html.matches("<svg class=\"chart\"").count();
    assert_eq!(html.matches("<desc id=").count(), charts);
    assert_eq!(
        html.matches("How to read this chart:").count(),
        charts,
        "one line under every chart"
    );
    common::assert_valid_output(
        &report::render(&review, Format::Json, Default::default()).unwrap(),
    );
}

#[test]
fn the_monthly_review_covers_the_period() {
    let (_dir, store) = known_history();
    // A period that starts after run 7: runs 8–11 are in it.
    let since = Utc.with_ymd_and_hms(2026, 10, 25, 0, 0, 0).unwrap();
    let review = ReviewReport::build(&store, None, Some("30d".into()), Some(since)).unwrap();
    assert_eq!(review.health_over_time.len(), 4);
    let scores: Vec<f64> = review.health_over_time.iter().map(|p| p.score).collect();
    assert_eq!(
        scores,
        vec![100.0, 90.0, 80.0, 80.0],
        "suspected major −10, confirmed −20"
    );
    assert_eq!(review.regression_log.len(), 1);
    assert_eq!(review.changes.len(), 1);
    let slow = review
        .benchmarks
        .iter()
        .find(|b| b.benchmark == "slow")
        .unwrap();
    assert_eq!(slow.points.len(), 4);
    let text = report::render(&review, Format::Text, Default::default()).unwrap();
    assert!(text.contains("the last 30d:"), "{text}");
    assert!(
        text.contains("health of weekly over 4 runs: lowest 80, now 80"),
        "{text}"
    );
    assert!(
        text.contains("slow major confirmed (runs 9–11): open; likely cause: kernel"),
        "{text}"
    );
    let html = report::render(&review, Format::Html, Default::default()).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("<h2>Health over the last 30d</h2>"));
    assert!(html.contains("suite weekly — health score per run"));
}

#[test]
fn the_markdown_is_pinned() {
    let (_dir, store) = known_history();
    let review = ReviewReport::build(&store, None, None, None).unwrap();
    let markdown = report::render(&review, Format::Markdown, Default::default()).unwrap();
    insta::assert_snapshot!("review_markdown", markdown);
    let run = report::RunReport::build(&store, store.run(9).unwrap().unwrap()).unwrap();
    insta::assert_snapshot!(
        "run_markdown",
        report::render(&run, Format::Markdown, Default::default()).unwrap()
    );
}

#[test]
fn every_page_format_of_every_command_is_self_contained() {
    let (dir, _store) = known_history();
    drop(_store);
    for args in [
        vec!["report"],
        vec!["report", "--since", "3650d"],
        vec!["show", "9"],
        vec!["compare", "8", "11"],
        vec!["history", "slow"],
    ] {
        for format in ["html", "markdown"] {
            let (code, stdout, stderr) = common::run(
                common::perfwarden(dir.path())
                    .args(&args)
                    .args(["--format", format]),
            );
            assert_eq!(code, 0, "{args:?} {format}: {stderr}");
            assert_self_contained(&stdout);
            assert!(!stdout.trim().is_empty());
        }
    }
    let (code, svg, stderr) =
        common::run(common::perfwarden(dir.path()).args(["history", "slow", "--format", "svg"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(svg.starts_with("<?xml") && svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("<circle class=\"point ").count(), 11);
    // --output writes the file whole and prints nothing.
    let out = dir.path().join("review.html");
    let (code, stdout, stderr) = common::run(
        common::perfwarden(dir.path())
            .args(["report", "--format", "html", "--output"])
            .arg(&out),
    );
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .ends_with("</html>\n")
    );
    // Formats a command has not.
    let (code, _, stderr) =
        common::run(common::perfwarden(dir.path()).args(["runs", "--format", "html"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("`runs` has no --format html"), "{stderr}");
    let (code, _, stderr) =
        common::run(common::perfwarden(dir.path()).args(["report", "--format", "svg"]));
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn an_unwritable_output_is_a_clear_error() {
    let (dir, _store) = known_history();
    drop(_store);
    for target in [
        dir.path().join("no/such/dir/report.html"),
        dir.path().to_path_buf(),
    ] {
        let (code, stdout, stderr) = common::run(
            common::perfwarden(dir.path())
                .args(["report", "--format", "html", "--output"])
                .arg(&target),
        );
        assert_eq!(code, 1, "{stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!("cannot write --output {}", target.display())),
            "{stderr}"
        );
    }
}

#[test]
fn empty_and_thin_histories_are_said_plainly_in_every_format() {
    let empty = tempfile::tempdir().unwrap();
    let one = tempfile::tempdir().unwrap();
    weekly_history(&Store::open(one.path()).unwrap(), 1);
    let failed = tempfile::tempdir().unwrap();
    {
        let store = Store::open(failed.path()).unwrap();
        let clock = FakeClock::new();
        let ctx = RunContext {
            store: &store,
            suite: "weekly".into(),
            quick: false,
            fingerprint: fingerprint::collect(),
            environment: environment("6.1.0-26-amd64"),
            host: "db-7".into(),
            clock: Arc::new(clock.clone()),
            cancel: CancelToken::new(),
            trigger: Trigger::Manual,
            gate: None,
            confirms: None,
        };
        let outcome = runner::run_suite(
            &ctx,
            vec![plan(
                "broken",
                &clock,
                vec![FakeStep::Fail("target refused".into())],
            )],
            &mut Silent,
        )
        .unwrap();
        perfwarden::detect::evaluate_run(
            &store,
            &outcome.run,
            &perfwarden::detect::AgeLimits::fixed(chrono::Duration::days(30)),
        )
        .unwrap();
    }
    let cases: [(&Path, &[&str], &str); 5] = [
        (empty.path(), &["report"], "No runs are recorded yet"),
        // One run: scored, and said to be not judged yet (no baseline).
        (one.path(), &["report"], "not judged yet"),
        (failed.path(), &["report"], "broken"),
        (one.path(), &["report", "--since", "1d"], "grade"),
        (
            one.path(),
            &["history", "slow", "--since", "1d"],
            "No results for this benchmark in this period",
        ),
    ];
    for (dir, args, expected) in cases {
        for format in ["html", "markdown", "text", "json"] {
            let (code, stdout, stderr) = common::run(
                common::perfwarden(dir)
                    .args(args)
                    .args(["--format", format]),
            );
            assert_eq!(code, 0, "{args:?} {format}: {stderr}");
            if format == "html" {
                assert_self_contained(&stdout);
            }
            if format != "json" && (format != "text" || expected == "not judged yet") {
                assert!(stdout.contains(expected), "{args:?} {format}: {stdout}");
            }
            if format == "json" {
                common::assert_valid_output(&stdout);
            }
        }
    }
}

/// A proxy that records every request Chromium makes through it (none is expected).
fn recording_proxy() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            log.lock().unwrap().push(line.trim().to_string());
        }
    });
    (port, seen)
}

/// The installed Chromium.
fn chromium() -> &'static str {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is installed by scripts/install-test-servers.sh")
}

/// The host a proxied request line asks for: `CONNECT host:443 HTTP/1.1` or
/// `GET http://host/path HTTP/1.1`.
fn requested_host(line: &str) -> String {
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let target = target.split_once("://").map_or(target, |(_, rest)| rest);
    target.split(['/', ':']).next().unwrap_or("").to_string()
}

/// Opens `page` in headless Chromium with every connection going through a recording
/// proxy; returns its stderr, the requests the page made, and the screenshot's bytes.
/// Without a script a page can only load what it names, so the page's requests are those
/// for a host its text names; the browser's own background traffic (sign-in, connectivity
/// checks, with every service that can be turned off turned off) names hosts the page
/// does not.
fn open_in_chromium(page: &Path, dir: &Path) -> (String, Vec<String>, Vec<u8>) {
    let page_text = std::fs::read_to_string(page).unwrap();
    let shot = dir.join(format!(
        "{}.png",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let (port, requests) = recording_proxy();
    let output = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-breakpad",
            "--no-pings",
            "--metrics-recording-only",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,4000",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--proxy-server=127.0.0.1:{port}"))
        .arg("--proxy-bypass-list=<-loopback>")
        .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .env("HOME", dir)
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    std::thread::sleep(Duration::from_millis(300));
    let requests = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| {
            let host = requested_host(r);
            !host.is_empty() && page_text.contains(&host)
        })
        .cloned()
        .collect();
    let png = std::fs::read(&shot).expect("a screenshot was taken");
    (stderr, requests, png)
}

#[test]
fn chromium_renders_the_report_without_errors_or_requests() {
    let (dir, store) = known_history();
    // The check can fail: a page that loads an image is caught.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><body><img src=\"http://example.test/x.png\" alt=\"\"></body></html>",
    )
    .unwrap();
    let (_, requests, _) = open_in_chromium(&control, dir.path());
    assert!(
        requests.iter().any(|r| r.contains("example.test")),
        "the proxy sees a page's requests: {requests:?}"
    );
    // Every page the commands write, through the binary as a user makes them.
    drop(store);
    let state = dir.path().to_path_buf();
    let pages: Vec<(String, String)> = [
        vec!["report"],
        vec!["report", "--since", "3650d"],
        vec!["show", "9"],
        vec!["compare", "8", "11"],
        vec!["history", "slow"],
    ]
    .into_iter()
    .map(|args| {
        let (code, html, stderr) = common::run(
            common::perfwarden(&state)
                .args(&args)
                .args(["--format", "html"]),
        );
        assert_eq!(code, 0, "{args:?}: {stderr}");
        (args.join("-").replace(' ', "_"), html)
    })
    .collect();
    for (name, html) in pages {
        let page = dir.path().join(format!("{name}.html"));
        std::fs::write(&page, &html).unwrap();
        let (stderr, requests, png) = open_in_chromium(&page, dir.path());
        let console: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                l.contains("CONSOLE")
                    || l.contains("Refused to")
                    || l.contains("Content Security Policy")
            })
            .collect();
        assert!(console.is_empty(), "{name}: console messages: {console:#?}");
        assert!(
            requests.is_empty(),
            "{name}: the page made requests: {requests:?}"
        );
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}: {} bytes",
            png.len()
        );
        // The DOM Chromium parsed holds every chart.
        let dom = std::process::Command::new(chromium())
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("chromium-profile").display()
            ))
            .arg(format!("file://{}", page.display()))
            .env("HOME", dir.path())
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert_eq!(
            dom.matches("<svg class=\"chart\"").count(),
            html.matches("<svg class=\"chart\"").count(),
            "{name}"
        );
    }
}

#[test]
fn a_proxied_request_names_its_host() {
    assert_eq!(
        requested_host("CONNECT www.google.com:443 HTTP/1.1"),
        "www.google.com"
    );
    assert_eq!(
        requested_host("GET http://example.test/x.png HTTP/1.1"),
        "example.test"
    );
    assert_eq!(requested_host(""), "");
}
