//! Helpers shared by the integration tests: run the real binary, validate JSON output
//! against the committed schema.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_perfwarden"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A command with a clean environment for perfwarden's own variables.
pub fn perfwarden(state_dir: &Path) -> Command {
    let mut command = Command::new(bin());
    command
        .arg("--state-dir")
        .arg(state_dir)
        .env_remove("PERFWARDEN_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("CONFIGURATION_DIRECTORY")
        .env_remove("PERFWARDEN_LOG")
        .env_remove("PERFWARDEN_SOCKET")
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("NO_COLOR", "1");
    // OTLP export only where a test asks for it.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
}

pub fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("perfwarden runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).expect("utf-8 stdout"),
        String::from_utf8(stderr).expect("utf-8 stderr"),
    )
}

/// Validates `json` against `schema/perfwarden-output.v1.schema.json`; panics with every
/// violation.
pub fn assert_valid_output(json: &str) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(json).expect("output is JSON");
    let schema: serde_json::Value =
        serde_json::from_str(perfwarden::report::json::OUTPUT_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "output violates the schema:\n{}\n{json}",
        errors.join("\n")
    );
    value
}

/// Metric names selected by a PromQL expression, read with a real PromQL parser; panics
/// with the expression when it is not valid PromQL.
pub fn promql_metric_names(expr: &str) -> std::collections::BTreeSet<String> {
    use promql_parser::parser::Expr;
    use promql_parser::util::{ExprVisitor, walk_expr};
    struct Names(std::collections::BTreeSet<String>);
    impl ExprVisitor for Names {
        type Error = ();
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, ()> {
            let selector = match expr {
                Expr::VectorSelector(vs) => Some(vs),
                Expr::MatrixSelector(ms) => Some(&ms.vs),
                _ => None,
            };
            if let Some(name) = selector.and_then(|vs| vs.name.clone()) {
                self.0.insert(name);
            }
            Ok(true)
        }
    }
    let parsed = promql_parser::parser::parse(expr)
        .unwrap_or_else(|e| panic!("not valid PromQL: {e}\n{expr}"));
    let mut names = Names(Default::default());
    walk_expr(&mut names, &parsed).unwrap();
    names.0
}

/// A directory tree for a `scan.tree` benchmark that can be made several times slower on
/// demand: a real, reproducible regression for end-to-end tests.
pub struct RegressingTree {
    pub path: PathBuf,
}

/// Files in the tree (the metric is files per second).
const TREE_FILES: usize = 2000;

impl RegressingTree {
    /// Creates a flat directory `name` of small files under `parent`.
    pub fn create(parent: &Path, name: &str) -> RegressingTree {
        let path = parent.join(name);
        std::fs::create_dir_all(&path).unwrap();
        for i in 0..TREE_FILES {
            std::fs::write(path.join(format!("f{i}")), "x").unwrap();
        }
        RegressingTree { path }
    }

    /// The benchmark's config: tight thresholds so the slowdown is critical and, beyond
    /// twice the critical threshold, confirmed at once.
    pub fn benchmark_toml(&self, name: &str) -> String {
        format!(
            "[benchmarks.{name}]\nkind = \"scan.tree\"\npath = \"{}\"\ntolerance = \"10%\"\nmajor = \"20%\"\ncritical = \"30%\"\n",
            self.path.display()
        )
    }

    /// Moves every file three directories deep, each chain its own: every file now costs
    /// three directory opens and files per second fall about tenfold.
    pub fn slow_down(&self) {
        for i in 0..TREE_FILES {
            let sub = self.path.join(format!("d{i}/a/b"));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::rename(self.path.join(format!("f{i}")), sub.join("f")).unwrap();
        }
        // The new directories written back now, not while the next run scans its trees:
        // the writeback would slow every tree on this file system, not only this one.
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }

    /// The config of a tree benchmark that is only ever broken, never slowed: thresholds
    /// so wide that a loaded machine's slow run is no regression, so its only verdict is
    /// the failure's.
    pub fn failing_benchmark_toml(&self, name: &str) -> String {
        format!(
            "[benchmarks.{name}]\nkind = \"scan.tree\"\npath = \"{}\"\ntolerance = \"80%\"\nmajor = \"90%\"\ncritical = \"95%\"\n",
            self.path.display()
        )
    }
}

/// A certificate authority and a server certificate for `localhost` it signed:
/// (CA PEM, server certificate PEM, server key PEM).
pub fn test_pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A small tmpfs mounted on a temporary directory, unmounted on drop (needs root, as the
/// test command runs; without it the test fails saying so, it never skips).
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a {size} tmpfs failed: this test needs root (the test command runs as root)"
        );
        SmallDisk { dir }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the disk with one file; returns its path.
    pub fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0xA5u8; 64 * 1024];
        loop {
            if let Err(e) = file.write_all(&block).and_then(|_| file.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// The sampling options of the fake-workload pipeline tests: 10 samples over 200 ms of fake
/// time, tolerance 5%, major 15%, critical 30%.
pub fn fake_options() -> perfwarden::model::options::BenchOptions {
    use std::time::Duration;
    perfwarden::model::options::BenchOptions {
        samples: 10,
        warmup: Duration::from_millis(10),
        min_time: Duration::from_millis(200),
        time_budget: Duration::from_secs(10),
        timeout: Duration::from_secs(60),
        tolerance: 0.05,
        major: 0.15,
        critical: 0.30,
        slo: Vec::new(),
    }
}

/// Alternating per-iteration times around `base_us` µs (±1%), so samples have spread.
pub fn wobbly(base_us: u64) -> Vec<perfwarden::workload::fake::FakeStep> {
    (0..400)
        .map(|i| {
            let wobble = if i % 2 == 0 { 99 } else { 101 };
            perfwarden::workload::fake::FakeStep::Take(std::time::Duration::from_nanos(
                base_us * 10 * wobble,
            ))
        })
        .collect()
}
