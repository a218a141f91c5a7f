//! `command` — times an external command the way hyperfine does.
//!
//! **Operation:** one run of the command: spawned directly from its argument list (no
//! shell, like `hyperfine -N`; `shell = true` runs the string through `/bin/sh -c`),
//! with its own environment additions and working directory, stdin from `/dev/null` and
//! output discarded. An optional `prepare` command runs before every run and `cleanup`
//! once after the last, both untimed. A run's exit status must be one of `expect_exit`
//! (default 0), else the benchmark fails with the status and the tail of its stderr.
//!
//! **Unit:** seconds of wall time per run, measured here from just before the spawn to
//! the reaped exit (`wait4`), so prepare steps are never in it; the sample value is the
//! mean of a batch. **Direction:** lower is better. User and system CPU time and peak RSS
//! of each run come from the kernel's `rusage` of the reaped child and are reported as
//! measurements (means over the measured runs; peak RSS is the largest).
//!
//! A run longer than `run_timeout` is killed (SIGKILL) and fails the benchmark; so does
//! a stop request (Ctrl-C, SIGTERM, the benchmark timeout).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::model::metric::{Measurement, MetricDef, Outcomes, ResultDetails};
use crate::model::units::ConfigDuration;
use crate::workload::{CancelToken, LatencyRecorder, Workload, WorkloadContext, WorkloadError};

/// A command line: an argument list, or one string for the shell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Argv(Vec<String>),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// `["tar", "-czf", "/dev/null", "/etc"]`, or a string with `shell = true`.
    pub command: CommandLine,
    #[serde(default)]
    pub shell: bool,
    #[serde(default)]
    pub prepare: Option<CommandLine>,
    #[serde(default)]
    pub cleanup: Option<CommandLine>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default = "default_expect_exit")]
    pub expect_exit: Vec<i32>,
    #[serde(default = "default_run_timeout")]
    pub run_timeout: ConfigDuration,
}

fn default_expect_exit() -> Vec<i32> {
    vec![0]
}
fn default_run_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(60))
}

impl CommandConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, line) in [
            ("command", Some(&self.command)),
            ("prepare", self.prepare.as_ref()),
            ("cleanup", self.cleanup.as_ref()),
        ] {
            match (line, self.shell) {
                (Some(CommandLine::Argv(argv)), _) if argv.is_empty() || argv[0].is_empty() => {
                    problems.push((key.into(), "is empty; give the program and its arguments".into()))
                }
                (Some(CommandLine::Text(_)), false) => problems.push((
                    key.into(),
                    "is a string but shell = false; write an argument list ([\"prog\", \"arg\"]) or set shell = true".into(),
                )),
                (Some(CommandLine::Text(text)), true) if text.trim().is_empty() => {
                    problems.push((key.into(), "is empty".into()))
                }
                _ => {}
            }
        }
        if self.expect_exit.is_empty() {
            problems.push(("expect_exit".into(), "list at least one exit code".into()));
        }
        if self.run_timeout.0.is_zero() {
            problems.push(("run_timeout".into(), "must be above zero".into()));
        }
        problems
    }
}

/// What the kernel reports about one reaped run.
#[derive(Debug, Clone, Copy)]
struct RunUsage {
    wall: Duration,
    user: Duration,
    system: Duration,
    peak_rss_bytes: u64,
}

pub(crate) struct TimedCommand {
    config: CommandConfig,
    cancel: CancelToken,
    stderr_file: Option<PathBuf>,
    runs: u64,
    wall_total: Duration,
    user_total: Duration,
    system_total: Duration,
    peak_rss_bytes: u64,
}

impl TimedCommand {
    pub(crate) fn new(config: CommandConfig) -> Self {
        TimedCommand {
            config,
            cancel: CancelToken::new(),
            stderr_file: None,
            runs: 0,
            wall_total: Duration::ZERO,
            user_total: Duration::ZERO,
            system_total: Duration::ZERO,
            peak_rss_bytes: 0,
        }
    }

    fn build(&self, line: &CommandLine, stderr: Stdio) -> Command {
        let mut command = match (line, self.config.shell) {
            (CommandLine::Text(text), _) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(text);
                c
            }
            (CommandLine::Argv(argv), true) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(argv.join(" "));
                c
            }
            (CommandLine::Argv(argv), false) => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        command
            .envs(&self.config.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group, so a timeout kills what it started too.
            .process_group(0);
        if let Some(dir) = &self.config.cwd {
            command.current_dir(dir);
        }
        command
    }

    fn describe(line: &CommandLine) -> String {
        match line {
            CommandLine::Argv(argv) => argv.join(" "),
            CommandLine::Text(text) => text.clone(),
        }
    }

    /// Runs `line` once under the run timeout; `Ok` when its exit status is expected.
    fn run_once(&self, line: &CommandLine) -> Result<RunUsage, WorkloadError> {
        let what = Self::describe(line);
        let stderr = match &self.stderr_file {
            Some(path) => std::fs::File::create(path)
                .map(Stdio::from)
                .map_err(|e| WorkloadError::io(format!("cannot create {}", path.display()), e))?,
            None => Stdio::null(),
        };
        let mut command = self.build(line, stderr);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let started = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| WorkloadError::Invalid(format!("cannot start `{what}`: {e}")))?;
        let pid = child.id() as libc::pid_t;
        // The watchdog kills the run's process group at the timeout or on a stop request.
        let timeout = self.config.run_timeout.0;
        let cancel = self.cancel.clone();
        let watchdog = std::thread::spawn(move || {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match done_rx.recv_timeout(left.min(Duration::from_millis(100))) {
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let reason = if cancel.is_cancelled() {
                            Some("stopped")
                        } else if left.is_zero() {
                            Some("timed out")
                        } else {
                            None
                        };
                        if let Some(reason) = reason {
                            // SAFETY: kill(2) on the child's process group.
                            unsafe { libc::kill(-pid, libc::SIGKILL) };
                            return Some(reason);
                        }
                    }
                }
            }
        });
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain data, filled by wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = loop {
            // SAFETY: waits for our own child; `status` and `usage` are valid out-pointers.
            let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            }
            break rc;
        };
        let wall = started.elapsed();
        let _ = done_tx.send(());
        let killed = watchdog.join().unwrap_or(None);
        // The child was reaped by wait4; forget the handle without waiting again.
        std::mem::forget(child);
        if reaped == -1 {
            return Err(WorkloadError::io(
                format!("waiting for `{what}`"),
                std::io::Error::last_os_error(),
            ));
        }
        if let Some(reason) = killed {
            return Err(match reason {
                "stopped" => WorkloadError::Cancelled,
                _ => WorkloadError::Invalid(format!(
                    "`{what}` {reason} after {} (run_timeout) and was killed",
                    self.config.run_timeout
                )),
            });
        }
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        let usage = RunUsage {
            wall,
            user: tv(usage.ru_utime),
            system: tv(usage.ru_stime),
            // ru_maxrss is in KiB on Linux.
            peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        };
        if libc::WIFEXITED(status) {
            let code = libc::WEXITSTATUS(status);
            if self.config.expect_exit.contains(&code) {
                return Ok(usage);
            }
            return Err(WorkloadError::Invalid(format!(
                "`{what}` exited with {code} (expected {:?}){}",
                self.config.expect_exit,
                self.stderr_tail()
            )));
        }
        Err(WorkloadError::Invalid(format!(
            "`{what}` was killed by signal {}{}",
            libc::WTERMSIG(status),
            self.stderr_tail()
        )))
    }

    fn stderr_tail(&self) -> String {
        let Some(text) = self
            .stderr_file
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .filter(|t| !t.is_empty())
        else {
            return String::new();
        };
        let text = String::from_utf8_lossy(&text);
        let tail: String = text
            .trim_end()
            .chars()
            .rev()
            .take(300)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("; stderr: {tail}")
    }
}

impl Workload for TimedCommand {
    fn metric(&self) -> MetricDef {
        MetricDef::time("run")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.cancel = ctx.cancel.clone();
        self.stderr_file = Some(ctx.scratch_dir.join("stderr"));
        if let Some(dir) = &self.config.cwd {
            if !dir.is_dir() {
                return Err(WorkloadError::Invalid(format!(
                    "cwd {} is not a directory",
                    dir.display()
                )));
            }
        }
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let mut wall = Duration::ZERO;
        for _ in 0..iterations {
            if self.cancel.is_cancelled() {
                return Err(WorkloadError::Cancelled);
            }
            if let Some(prepare) = &self.config.prepare {
                self.run_once(prepare)
                    .map_err(|e| WorkloadError::Invalid(format!("prepare: {e}")))?;
            }
            let usage = self.run_once(&self.config.command)?;
            wall += usage.wall;
            self.runs += 1;
            self.wall_total += usage.wall;
            self.user_total += usage.user;
            self.system_total += usage.system;
            self.peak_rss_bytes = self.peak_rss_bytes.max(usage.peak_rss_bytes);
        }
        Ok(wall.as_secs_f64() / iterations.max(1) as f64)
    }

    fn warmup_done(&mut self) {
        self.runs = 0;
        self.wall_total = Duration::ZERO;
        self.user_total = Duration::ZERO;
        self.system_total = Duration::ZERO;
        self.peak_rss_bytes = 0;
    }

    fn details(&mut self) -> Option<ResultDetails> {
        let runs = self.runs.max(1) as f64;
        Some(ResultDetails {
            outcomes: Some(Outcomes {
                attempted: self.runs,
                ..Outcomes::default()
            }),
            measurements: vec![
                Measurement::new("wall_time_mean", self.wall_total.as_secs_f64() / runs, "s"),
                Measurement::new("user_time_mean", self.user_total.as_secs_f64() / runs, "s"),
                Measurement::new(
                    "system_time_mean",
                    self.system_total.as_secs_f64() / runs,
                    "s",
                ),
                Measurement::new("peak_rss", self.peak_rss_bytes as f64, "By"),
                Measurement::new("runs", self.runs as f64, "{run}"),
            ],
        })
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        if let Some(cleanup) = self.config.cleanup.clone() {
            self.run_once(&cleanup)
                .map_err(|e| WorkloadError::Invalid(format!("cleanup: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> CommandConfig {
        toml::from_str(toml_text).unwrap()
    }

    fn context(dir: &std::path::Path) -> WorkloadContext {
        super::super::fake::context_in(dir.to_path_buf(), 1)
    }

    #[test]
    fn times_runs_and_reports_cpu_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = TimedCommand::new(config(r#"command = ["sleep", "0.05"]"#));
        command.setup(&context(dir.path())).unwrap();
        let mean = command.run(3, &mut LatencyRecorder::new()).unwrap();
        assert!((0.05..0.5).contains(&mean), "{mean}");
        let details = command.details().unwrap();
        let peak = details
            .measurements
            .iter()
            .find(|m| m.name == "peak_rss")
            .unwrap();
        assert!(
            peak.value > 100_000.0,
            "sleep uses some memory: {}",
            peak.value
        );
        assert_eq!(details.outcomes.unwrap().attempted, 3);
    }

    #[test]
    fn prepare_is_not_timed() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = TimedCommand::new(config(
            r#"command = ["true"]
prepare = ["sleep", "0.2"]"#,
        ));
        command.setup(&context(dir.path())).unwrap();
        let mean = command.run(2, &mut LatencyRecorder::new()).unwrap();
        assert!(mean < 0.1, "{mean}");
    }

    #[test]
    fn failures_name_the_command_status_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let mut missing = TimedCommand::new(config(r#"command = ["/no/such/program"]"#));
        missing.setup(&context(dir.path())).unwrap();
        let error = missing
            .run(1, &mut LatencyRecorder::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot start `/no/such/program`"), "{error}");

        let mut failing = TimedCommand::new(config(
            r#"command = "echo broken >&2; exit 3"
shell = true"#,
        ));
        failing.setup(&context(dir.path())).unwrap();
        let error = failing
            .run(1, &mut LatencyRecorder::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("exited with 3 (expected [0])"), "{error}");
        assert!(error.contains("stderr: broken"), "{error}");

        let mut slow = TimedCommand::new(config(
            r#"command = ["sleep", "5"]
run_timeout = "200ms""#,
        ));
        slow.setup(&context(dir.path())).unwrap();
        let started = Instant::now();
        let error = slow
            .run(1, &mut LatencyRecorder::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("timed out after 200ms"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_string_needs_the_shell() {
        let problems = config(r#"command = "ls -l""#).validate();
        assert_eq!(problems[0].0, "command");
    }
}
