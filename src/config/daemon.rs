//! `[daemon]` and `[daemon.quiet]`: when and how the daemon runs suites. Kept apart from the
//! benchmark options because only `perfwarden daemon` reads it; `check` still validates it
//! so a typo fails before the service starts.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Problems, read_value};
use crate::model::units::{ConfigDuration, Percent};

/// What to do about scheduled times missed while the host or the agent was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run each suite that missed a time once after start, however many times it missed.
    Once,
    /// Forget missed times; wait for the next one.
    Skip,
}

/// What to do when the host stayed busy for the whole `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenBusy {
    /// Run anyway and flag the run as noisy.
    Run,
    /// Record the run as skipped with the reason.
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Time zone of the schedules; `None` means the host's.
    pub timezone: Option<chrono_tz::Tz>,
    /// Upper bound of the per-host delay added to every scheduled time.
    pub splay: Duration,
    pub catch_up: CatchUp,
    /// Control socket path; `None` means the default location.
    pub socket: Option<PathBuf>,
    /// Group that may use the socket (mode 0660); `None` keeps it 0600.
    pub socket_group: Option<String>,
    /// A run that opens a suspected regression re-runs the suspected benchmarks this long
    /// after it ends, up to `confirm_attempts` times, to confirm or clear the suspicion
    /// within minutes instead of a schedule period.
    pub confirm_delay: Duration,
    /// Confirmation re-runs per suspicion at most; 0 disables them.
    pub confirm_attempts: u32,
    /// HTML reports kept in `<state_dir>/reports` after each suite (the oldest removed
    /// first); 0 writes none.
    pub reports_kept: u32,
    pub quiet: QuietConfig,
}

/// The quiet-host gate: thresholds a host must meet before a scheduled suite starts.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietConfig {
    pub enabled: bool,
    /// 1-minute load average divided by the number of CPUs.
    pub max_load_per_cpu: f64,
    /// Share of CPU time not idle, measured over `cpu_sample`.
    pub max_cpu_busy: f64,
    pub cpu_sample: Duration,
    /// `MemAvailable / MemTotal`.
    pub min_available_memory: f64,
    /// Allowed CPU frequency governors; empty means any (the governor is still recorded).
    pub governors: Vec<String>,
    /// First wait after a busy reading; doubles each time up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest postponement before `when_busy` applies.
    pub max_delay: Duration,
    pub when_busy: WhenBusy,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            timezone: None,
            splay: Duration::from_secs(30 * 60),
            catch_up: CatchUp::Once,
            socket: None,
            socket_group: None,
            confirm_delay: Duration::from_secs(10 * 60),
            confirm_attempts: 2,
            reports_kept: 10,
            quiet: QuietConfig::default(),
        }
    }
}

impl Default for QuietConfig {
    fn default() -> Self {
        QuietConfig {
            enabled: true,
            max_load_per_cpu: 0.5,
            max_cpu_busy: 0.30,
            cpu_sample: Duration::from_secs(2),
            min_available_memory: 0.20,
            governors: Vec::new(),
            initial_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(15 * 60),
            max_delay: Duration::from_secs(2 * 3600),
            when_busy: WhenBusy::Run,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    timezone: Option<String>,
    splay: Option<ConfigDuration>,
    catch_up: Option<String>,
    socket: Option<PathBuf>,
    socket_group: Option<String>,
    confirm_delay: Option<ConfigDuration>,
    confirm_attempts: Option<u32>,
    reports_kept: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuiet {
    enabled: Option<bool>,
    max_load_per_cpu: Option<f64>,
    max_cpu_busy: Option<Percent>,
    cpu_sample: Option<ConfigDuration>,
    min_available_memory: Option<Percent>,
    governors: Option<Vec<String>>,
    initial_backoff: Option<ConfigDuration>,
    max_backoff: Option<ConfigDuration>,
    max_delay: Option<ConfigDuration>,
    when_busy: Option<String>,
}

fn no_hint(_: &str) -> Option<String> {
    None
}

/// Validates the merged `[daemon]` table (`quiet` already split off) and `[daemon.quiet]`.
pub(super) fn validate(
    daemon: toml::Table,
    quiet: toml::Table,
    problems: &mut Problems,
) -> DaemonConfig {
    let mut config = DaemonConfig::default();
    let raw: RawDaemon =
        read_value(toml::Value::Table(daemon), &["daemon"], problems, no_hint).unwrap_or_default();
    if let Some(name) = raw.timezone {
        match name.parse::<chrono_tz::Tz>() {
            Ok(tz) => config.timezone = Some(tz),
            Err(_) => problems.add(
                &["daemon", "timezone"],
                format!("\"{name}\" is not an IANA time zone name"),
                Some("e.g. \"Europe/Berlin\", \"America/New_York\" or \"UTC\"; leave it out to use the host's".into()),
            ),
        }
    }
    if let Some(splay) = raw.splay {
        if splay.0 > Duration::from_secs(24 * 3600) {
            problems.add(
                &["daemon", "splay"],
                "must be at most 24h",
                Some("a few minutes to an hour spreads a fleet; \"0s\" disables it".into()),
            );
        } else {
            config.splay = splay.0;
        }
    }
    match raw.catch_up.as_deref() {
        None => {}
        Some("once") => config.catch_up = CatchUp::Once,
        Some("skip") => config.catch_up = CatchUp::Skip,
        Some(other) => problems.add(
            &["daemon", "catch_up"],
            format!("\"{other}\" is not a catch-up mode"),
            Some(
                "\"once\" runs a missed suite once after start; \"skip\" waits for its next time"
                    .into(),
            ),
        ),
    }
    if let Some(delay) = raw.confirm_delay {
        if delay.0 > Duration::from_secs(24 * 3600) {
            problems.add(
                &["daemon", "confirm_delay"],
                "must be at most 24h",
                Some("a few minutes lets a passing disturbance end; the default is \"10m\"".into()),
            );
        } else {
            config.confirm_delay = delay.0;
        }
    }
    if let Some(attempts) = raw.confirm_attempts {
        if attempts > 10 {
            problems.add(
                &["daemon", "confirm_attempts"],
                "must be at most 10",
                Some("2 is the default; 0 waits for the next scheduled run instead".into()),
            );
        } else {
            config.confirm_attempts = attempts;
        }
    }
    if let Some(kept) = raw.reports_kept {
        if kept > 1000 {
            problems.add(
                &["daemon", "reports_kept"],
                "must be at most 1000",
                Some("10 is the default (a few MB at most); 0 keeps no report".into()),
            );
        } else {
            config.reports_kept = kept;
        }
    }
    config.socket = raw.socket;
    if let Some(group) = raw.socket_group {
        if group.is_empty() {
            problems.add(
                &["daemon", "socket_group"],
                "must not be empty",
                Some("name a group, e.g. \"perfwarden-admin\", or leave the key out".into()),
            );
        } else {
            config.socket_group = Some(group);
        }
    }

    let raw: RawQuiet = read_value(
        toml::Value::Table(quiet),
        &["daemon", "quiet"],
        problems,
        no_hint,
    )
    .unwrap_or_default();
    let q = &mut config.quiet;
    if let Some(v) = raw.enabled {
        q.enabled = v;
    }
    if let Some(v) = raw.max_load_per_cpu {
        if v.is_finite() && v > 0.0 {
            q.max_load_per_cpu = v;
        } else {
            problems.add(
                &["daemon", "quiet", "max_load_per_cpu"],
                "must be a positive number",
                Some("e.g. 0.5 (half the CPUs busy on average)".into()),
            );
        }
    }
    for (key, value, target) in [
        ("max_cpu_busy", raw.max_cpu_busy, &mut q.max_cpu_busy),
        (
            "min_available_memory",
            raw.min_available_memory,
            &mut q.min_available_memory,
        ),
    ] {
        if let Some(Percent(v)) = value {
            if (0.0..=1.0).contains(&v) {
                *target = v;
            } else {
                problems.add(
                    &["daemon", "quiet", key],
                    "must be between 0% and 100%",
                    None,
                );
            }
        }
    }
    if let Some(v) = raw.cpu_sample {
        if v.0 < Duration::from_millis(100) || v.0 > Duration::from_secs(60) {
            problems.add(
                &["daemon", "quiet", "cpu_sample"],
                "must be between 100ms and 60s",
                None,
            );
        } else {
            q.cpu_sample = v.0;
        }
    }
    if let Some(v) = raw.governors {
        q.governors = v;
    }
    for (value, target) in [
        (raw.initial_backoff, &mut q.initial_backoff),
        (raw.max_backoff, &mut q.max_backoff),
        (raw.max_delay, &mut q.max_delay),
    ] {
        if let Some(v) = value {
            *target = v.0;
        }
    }
    if q.initial_backoff < Duration::from_secs(1) {
        problems.add(
            &["daemon", "quiet", "initial_backoff"],
            "must be at least 1s",
            None,
        );
    }
    if q.max_backoff < q.initial_backoff {
        problems.add(
            &["daemon", "quiet", "max_backoff"],
            format!(
                "must be at least initial_backoff ({})",
                humantime::format_duration(q.initial_backoff)
            ),
            None,
        );
    }
    match raw.when_busy.as_deref() {
        None => {}
        Some("run") => q.when_busy = WhenBusy::Run,
        Some("skip") => q.when_busy = WhenBusy::Skip,
        Some(other) => problems.add(
            &["daemon", "quiet", "when_busy"],
            format!("\"{other}\" is not a choice"),
            Some("\"run\" runs and flags the run noisy; \"skip\" records it skipped".into()),
        ),
    }
    config
}
