//! What `perfwarden status` shows: the daemon's live state (or its absence), each suite's
//! schedule and last run, the host's health and the export's state. The daemon and the CLI
//! fill it; the text and JSON renderers read it.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::records::{RunStatus, SuiteSchedule, Trigger};
use crate::resilience::BreakerState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusReport {
    /// The running daemon; `null` when none answers on the socket.
    pub daemon: Option<DaemonInfo>,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub suites: Vec<SuiteStatus>,
    pub health_score: Option<f64>,
    pub health_grade: Option<char>,
    pub open_regressions: usize,
    /// Alert events in the outbox, not yet accepted by the collector.
    #[serde(default)]
    pub export_backlog: u64,
    /// The daemon's OTLP exporter; `null` when OTLP export is off or no daemon runs.
    #[serde(default)]
    pub otlp: Option<ExportStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub config: String,
    pub timezone: String,
    pub splay_secs: f64,
    /// `idle`, `waiting_for_quiet_host`, `running` or `stopping`.
    pub state: String,
    pub waiting: Option<QuietWait>,
    pub current: Option<CurrentRun>,
    pub queue: Vec<QueuedRun>,
    pub last_reload: Option<ReloadStatus>,
}

/// The quiet-host gate is postponing the next suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QuietWait {
    pub suite: String,
    pub since: DateTime<Utc>,
    pub retry_at: DateTime<Utc>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CurrentRun {
    pub ticket: u64,
    pub suite: String,
    pub trigger: Trigger,
    /// Set once the run record exists (after the quiet-host gate).
    pub run_id: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub benchmark: Option<String>,
    /// 1-based position of `benchmark` in the suite.
    pub index: usize,
    pub total: usize,
    pub samples: usize,
    pub target_samples: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueuedRun {
    pub ticket: u64,
    pub suite: String,
    pub trigger: Trigger,
    pub queued_at: DateTime<Utc>,
    /// A confirmation run not yet due: when it starts, and the run it confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<u64>,
    /// The benchmarks it runs, when not the whole suite.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benches: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReloadStatus {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// Every config problem of a rejected reload (the old config kept running).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SuiteStatus {
    pub suite: String,
    pub schedule: String,
    pub enabled: bool,
    /// Scheduled time plus splay.
    pub next_run: Option<DateTime<Utc>>,
    /// `next_run` in the schedule's time zone, e.g. `2026-11-30 03:17 CET`.
    pub next_run_local: Option<String>,
    pub last_run: Option<u64>,
    pub last_status: Option<RunStatus>,
    pub last_started: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
}

impl SuiteStatus {
    pub(crate) fn new(
        suite: &str,
        schedule: &str,
        enabled: bool,
        state: &SuiteSchedule,
        timezone: chrono_tz::Tz,
    ) -> SuiteStatus {
        SuiteStatus {
            suite: suite.to_string(),
            schedule: schedule.to_string(),
            enabled,
            next_run: state.next_due,
            next_run_local: state.next_due.map(|t| {
                t.with_timezone(&timezone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            }),
            last_run: state.last_run,
            last_status: state.last_status,
            last_started: state.last_started,
            last_finished: state.last_finished,
            last_success: state.last_success,
        }
    }
}

/// What `status` shows about the export.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ExportStatus {
    pub endpoint: String,
    pub protocol: String,
    /// Whether the exporter runs (`false`: configured, but `last_error` says why not).
    pub running: bool,
    /// Alert events not yet accepted by the collector.
    pub backlog: u64,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Next attempt while backing off.
    pub next_attempt: Option<DateTime<Utc>>,
    /// Events delivered since the agent started.
    pub delivered_events: u64,
}
