//! `perfwarden daemon`: the long-running agent behind the systemd unit.
//!
//! One current-thread tokio runtime (an idle agent should cost nothing: one thread asleep
//! until the next scheduled time or a socket connection) drives
//! - the [`Agenda`](crate::scheduler::Agenda), which decides what runs next;
//! - the quiet-host gate before each scheduled suite;
//! - one suite at a time on a blocking thread (the runner is synchronous and owns a core);
//! - the control socket ([`server`]), which answers `status`, queues `run`s and serves the
//!   CLI's read commands from the daemon's open database;
//! - signals: SIGTERM/SIGINT stop at the next sample boundary (the run is marked
//!   interrupted) and exit within 10 s; SIGHUP reloads the config, keeping the old one if
//!   the new one is invalid;
//! - systemd notifications ([`notify`]).
//!
//! Failures are data: a suite that fails is recorded and the daemon goes on; only a
//! database it cannot write stops it (systemd restarts it).

pub(crate) mod control;
mod notify;
mod reports;
mod server;
pub(crate) use server::can_give_socket_to;
pub(crate) mod status;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch};

use crate::config::{Config, WhenBusy};
use crate::detect::health::HostHealth;
use crate::exit::{self, CommandError};
use crate::export::Publish;
use crate::export::otlp::exporter::OtlpExporter;
use crate::export::otlp::settings::OtlpSettings;
use crate::export::state::{ConfigLoad, SharedConfigLoad};
use crate::model::clock::MonotonicClock;
use crate::model::records::{
    BenchmarkResult, GateOutcome, QuietGateRecord, RunRecord, RunStatus, Trigger,
};
use crate::model::status::{
    CurrentRun, DaemonInfo, ExportStatus, QueuedRun, QuietWait, ReloadStatus, StatusReport,
};
use crate::pipeline::{self, SuiteOutcome, SuiteRun};
use crate::runner::{BenchmarkPlan, RunObserver};
use crate::scheduler::{self, Agenda, Job, Notice, quiet, splay};
use crate::store::{Store, resolve_state_dir};
use crate::workload::CancelToken;
use control::{Response, TicketState};

/// How long SIGTERM waits for the running benchmark to reach a sample boundary before the
/// daemon marks the run interrupted itself and exits: well inside the unit's 30 s stop
/// timeout, so a stop ends in 10 s at most and never in SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// Longest sleep between looks at the agenda, so a wall-clock jump (suspend, NTP step) is
/// noticed within a minute. One wake-up a minute costs microseconds.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Finished tickets remembered for clients that follow a queued run.
const FINISHED_TICKETS: usize = 64;

/// How long the daemon waits at start for a CLI command or a one-shot `run` to release the
/// database (a reader takes milliseconds; systemd's start timeout is 90 s).
const STORE_PATIENCE: Duration = Duration::from_secs(30);

/// Serves a read command that a client forwarded over the control socket: its command line,
/// the client's terminal style, the daemon's open store and config → the answer, and
/// whether the command may have changed the stored state (the daemon then refreshes what
/// it exports). The CLI hands its own dispatcher in, so the daemon never imports it.
pub(crate) type CommandHandler = Arc<
    dyn Fn(Vec<String>, crate::report::Style, Arc<Store>, Arc<Config>) -> (Response, bool)
        + Send
        + Sync,
>;

pub(crate) struct DaemonOptions {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub serve_command: CommandHandler,
}

/// What the daemon is doing, for `status` and systemd's STATUS line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    WaitingForQuietHost,
    Running,
    Stopping,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::WaitingForQuietHost => "waiting_for_quiet_host",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
        }
    }
}

/// Mutable state, behind one mutex; never held across an `.await`.
struct Shared {
    config: Arc<Config>,
    timezone: Tz,
    splay: Duration,
    agenda: Agenda,
    phase: Phase,
    current: Option<CurrentRun>,
    waiting: Option<QuietWait>,
    finished: VecDeque<(u64, TicketState)>,
    health: HostHealth,
    last_reload: Option<ReloadStatus>,
}

/// Everything the daemon's tasks share.
struct Daemon {
    store: Arc<Store>,
    shared: Mutex<Shared>,
    /// Wakes the main loop: a run was queued or finished.
    wake: Notify,
    /// Wakes a suite waiting for a quiet host: a manual run was queued or the config was
    /// reloaded, so it looks again at once.
    gate_wake: Notify,
    /// Cancels the running suite at its next sample boundary.
    cancel: CancelToken,
    stopping: watch::Sender<bool>,
    started_at: DateTime<Utc>,
    socket: PathBuf,
    state_dir: PathBuf,
    options: DaemonOptions,
    host: String,
    host_id: String,
    /// The Prometheus exposition, when `[export.prometheus] listen` is set.
    exposition: Option<crate::export::prometheus::Exposition>,
    /// The OTLP exporter, when `[export.otlp]` or `OTEL_EXPORTER_OTLP_*` configure one.
    otlp: Mutex<Otlp>,
    /// How the last config load went, for both exporters.
    config_load: SharedConfigLoad,
}

/// The OTLP export as the daemon holds it.
#[derive(Default)]
struct Otlp {
    exporter: Option<OtlpExporter>,
    settings: Option<OtlpSettings>,
    /// Why export is configured but not running (e.g. a credential file is missing).
    problem: Option<String>,
}

/// Starts, restarts (settings changed) or stops the OTLP exporter for `config`.
fn apply_otlp(daemon: &Daemon, config: &Config) {
    let resolved = crate::export::otlp_settings(config);
    daemon
        .store
        .set_outbox_enabled(crate::export::keeps_outbox(&resolved));
    let mut otlp = daemon.otlp.lock().unwrap_or_else(|p| p.into_inner());
    let wanted = match resolved {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "OTLP export not started; alert events are kept in the outbox until the config is fixed (SIGHUP)");
            if let Some(old) = otlp.exporter.take() {
                old.stop(Duration::ZERO);
            }
            otlp.settings = None;
            otlp.problem = Some(e.to_string());
            return;
        }
    };
    if otlp.exporter.is_some() && otlp.settings == wanted {
        return;
    }
    if let Some(old) = otlp.exporter.take() {
        old.stop(Duration::ZERO);
    }
    otlp.problem = None;
    otlp.settings = wanted.clone();
    let Some(settings) = wanted else {
        return;
    };
    let fingerprint = match crate::export::latest_fingerprint(&daemon.store) {
        Ok(f) => f,
        Err(e) => {
            otlp.problem = Some(format!("reading the store: {e}"));
            return;
        }
    };
    match OtlpExporter::start(
        daemon.store.clone(),
        daemon.config_load.clone(),
        settings,
        fingerprint,
    ) {
        Ok(exporter) => otlp.exporter = Some(exporter),
        Err(e) => otlp.problem = Some(format!("cannot start the export thread: {e}")),
    }
}

/// What `status` shows about OTLP export; `None` when it is off.
fn otlp_status(daemon: &Daemon) -> Option<ExportStatus> {
    let otlp = daemon.otlp.lock().unwrap_or_else(|p| p.into_inner());
    match (&otlp.exporter, &otlp.problem) {
        (Some(exporter), _) => Some(exporter.status()),
        (None, Some(problem)) => Some(ExportStatus::not_running(problem)),
        (None, None) => None,
    }
}

impl Daemon {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock leaves consistent-enough data for status output.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a config load's outcome for the exported reload series.
    fn set_config_load(&self, ok: bool, at: DateTime<Utc>) {
        let mut load = self.config_load.lock().unwrap_or_else(|p| p.into_inner());
        load.ok = ok;
        if ok {
            load.last_success = at;
        }
    }
}

/// Refuses to start beside a daemon that answers on this state directory's socket, at once
/// and with its pid, instead of waiting for the database it holds.
fn refuse_a_second_daemon(
    config: &Config,
    state_dir: &std::path::Path,
) -> Result<(), CommandError> {
    let socket = control::socket_path(Some(config), state_dir);
    let Ok(mut client) = control::Client::connect(&socket) else {
        return Ok(());
    };
    client.timeout = Duration::from_secs(5);
    if let Ok(control::Response::Status(report)) = client.request(&control::Request::Status) {
        if let Some(running) = &report.daemon {
            return Err(CommandError::state(format!(
                "another perfwarden daemon is running on {} (pid {}, control socket {})\n  hint: stop it first (`systemctl stop perfwarden`), or give this one its own --state-dir and [daemon] socket",
                report.state_dir.display(),
                running.pid,
                socket.display()
            )));
        }
    }
    Ok(())
}

/// Runs the daemon until SIGTERM or SIGINT. Returns the process exit code.
pub(crate) fn run(options: DaemonOptions) -> Result<i32, CommandError> {
    let config = Config::load(options.config.as_deref())
        .map_err(|e| CommandError::usage(e.to_string().trim_end()))?;
    let state_dir = resolve_state_dir(
        options.state_dir.as_deref(),
        config.agent.state_dir.as_deref(),
    );
    refuse_a_second_daemon(&config, &state_dir)?;
    let store = Store::open_patiently(&state_dir, STORE_PATIENCE, || {
        tracing::info!(
            "the database is in use by another perfwarden process; waiting up to {} s",
            STORE_PATIENCE.as_secs()
        )
    })
    .map_err(|e| match e {
        crate::store::StoreError::Locked { path } => CommandError::state(format!(
            "the database {} is still held by another perfwarden process after {} s (a daemon whose control socket is elsewhere, or a long `perfwarden run`)\n  hint: stop the other process (`systemctl stop perfwarden`), or give this daemon its own --state-dir",
            path.display(),
            STORE_PATIENCE.as_secs()
        )),
        other => other.into(),
    })?;
    let store = Arc::new(store);
    for id in store.recovered_runs() {
        tracing::warn!(
            run = id,
            "a previous run did not finish (crash or kill); marked interrupted, its finished benchmarks kept"
        );
    }
    let socket = control::socket_path(Some(&config), &state_dir);
    let host_id = splay::host_id();
    let (timezone, splay) = scheduler::timing(&config, &host_id);
    let now = Utc::now();
    let (mut agenda, notices) = Agenda::new(
        scheduler::schedules(&config, timezone, splay),
        &store.schedule_states()?,
        config.daemon.catch_up,
        now,
    );
    log_notices(&notices);
    for (suite, state) in agenda.take_dirty() {
        store.put_schedule_state(&suite, &state)?;
    }
    let health = HostHealth::of(&store)?;
    let prometheus_listen = config.export.prometheus_listen;
    let daemon = Arc::new(Daemon {
        store,
        shared: Mutex::new(Shared {
            config: Arc::new(config),
            timezone,
            splay,
            agenda,
            phase: Phase::Idle,
            current: None,
            waiting: None,
            finished: VecDeque::new(),
            health,
            last_reload: None,
        }),
        wake: Notify::new(),
        gate_wake: Notify::new(),
        cancel: CancelToken::new(),
        stopping: watch::channel(false).0,
        started_at: now,
        socket,
        state_dir,
        options,
        host: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
        host_id,
        exposition: prometheus_listen.map(|_| Default::default()),
        otlp: Mutex::default(),
        config_load: Arc::new(std::sync::Mutex::new(ConfigLoad {
            ok: true,
            last_success: now,
        })),
    });
    let config = daemon.lock().config.clone();
    apply_otlp(&daemon, &config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError {
            code: exit::STATE,
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(serve(daemon, prometheus_listen))
}

/// Re-renders the Prometheus exposition from the store (off the event loop).
fn refresh_exposition(daemon: &Daemon) {
    let Some(exposition) = daemon.exposition.clone() else {
        return;
    };
    let store = daemon.store.clone();
    let config_load = ConfigLoad::read(Some(&daemon.config_load));
    tokio::task::spawn_blocking(move || {
        let rendered = (|| -> Result<String, crate::store::StoreError> {
            let fingerprint = crate::export::latest_fingerprint(&store)?;
            let points = crate::export::state::collect(&store, config_load)?;
            Ok(crate::export::prometheus::render(
                &points,
                &crate::export::resource(&fingerprint),
            ))
        })();
        match rendered {
            Ok(text) => match exposition.write() {
                Ok(mut slot) => *slot = text,
                Err(poisoned) => *poisoned.into_inner() = text,
            },
            Err(e) => tracing::warn!(error = %e, "cannot compute the exported metrics"),
        }
    });
}

fn log_notices(notices: &[Notice]) {
    for notice in notices {
        match notice {
            Notice::CatchingUp { suite, missed } => tracing::info!(
                suite = %suite, missed = %missed,
                "a scheduled run was missed while the agent was down; running it once now"
            ),
            Notice::SkippedMissed { suite, missed } => tracing::info!(
                suite = %suite, missed = %missed,
                "a scheduled run was missed while the agent was down; skipped (catch_up = \"skip\")"
            ),
            Notice::Coalesced { suite, slot } => tracing::info!(
                suite = %suite, slot = %slot,
                "suite came due while already waiting for another run; it runs once"
            ),
        }
    }
}

fn persist_schedule(daemon: &Daemon) {
    let dirty = daemon.lock().agenda.take_dirty();
    for (suite, state) in dirty {
        if let Err(e) = daemon.store.put_schedule_state(&suite, &state) {
            tracing::error!(suite = %suite, error = %e, "cannot persist the schedule state");
        }
    }
}

type JobHandle = (Job, tokio::task::JoinHandle<JobEnd>);

/// How a job ended.
struct JobEnd {
    run: Option<RunRecord>,
    /// The host's health after the run, when one was judged.
    health: Option<HostHealth>,
    code: i32,
    message: Option<String>,
    /// The job did not run yet and goes back to wait.
    requeue: Option<Requeue>,
    /// The suite started and failed without a stored record of it (the database could
    /// not be written): its status says so all the same.
    run_failed: bool,
}

/// Why a job that has not run goes back to wait.
enum Requeue {
    /// It was waiting for a quiet host and a manual run was queued: the manual run goes
    /// first, then the wait resumes where it was.
    StepAside {
        waiting_since: DateTime<Utc>,
        checks: u32,
    },
    /// A confirmation run whose load tests may not start before this time (a blackout
    /// window).
    Until(DateTime<Utc>),
}

impl JobEnd {
    fn failed(code: i32, message: String) -> JobEnd {
        JobEnd {
            run: None,
            health: None,
            code,
            message: Some(message),
            requeue: None,
            run_failed: false,
        }
    }

    /// The suite started and the store failed under it.
    fn run_failed(message: String) -> JobEnd {
        JobEnd {
            run_failed: true,
            ..JobEnd::failed(exit::STATE, message)
        }
    }

    fn requeued(requeue: Requeue) -> JobEnd {
        JobEnd {
            run: None,
            health: None,
            code: exit::OK,
            message: None,
            requeue: Some(requeue),
            run_failed: false,
        }
    }
}

async fn wait_for(job: &mut Option<JobHandle>) -> Result<JobEnd, tokio::task::JoinError> {
    match job {
        Some((_, handle)) => handle.await,
        None => std::future::pending().await,
    }
}

async fn serve(
    daemon: Arc<Daemon>,
    prometheus_listen: Option<std::net::SocketAddr>,
) -> Result<i32, CommandError> {
    let signal_error = |e: std::io::Error| CommandError {
        code: exit::STATE,
        message: format!("cannot install signal handlers: {e}"),
    };
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(signal_error)?;

    let group = daemon.lock().config.daemon.socket_group.clone();
    let listener = server::bind(&daemon.socket, group.as_deref()).map_err(|e| CommandError {
        code: exit::STATE,
        message: e.to_string(),
    })?;
    tokio::spawn(server::accept_loop(listener, daemon.clone()));
    if let (Some(listen), Some(exposition)) = (prometheus_listen, daemon.exposition.clone()) {
        let endpoint = crate::export::prometheus::bind(listen)
            .await
            .map_err(|e| CommandError {
                code: exit::STATE,
                message: e.to_string(),
            })?;
        let report = daemon
            .lock()
            .config
            .export
            .serve_report
            .then(|| reports::latest(&daemon.state_dir));
        match &report {
            Some(_) => {
                tracing::info!(listen = %listen, "serving Prometheus metrics at /metrics and the latest report at /report")
            }
            None => tracing::info!(listen = %listen, "serving Prometheus metrics at /metrics"),
        }
        tokio::spawn(crate::export::prometheus::serve(
            endpoint, exposition, report,
        ));
    }
    refresh_exposition(&daemon);
    if let Some(interval) = notify::watchdog_interval() {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            loop {
                ticks.tick().await;
                notify::watchdog();
            }
        });
    }
    tracing::info!(
        socket = %daemon.socket.display(),
        state_dir = %daemon.state_dir.display(),
        config = %daemon.lock().config.source,
        "daemon started"
    );
    notify::ready(&status_line(&daemon));

    let mut job: Option<JobHandle> = None;
    loop {
        // Polled while a suite runs too: suites that come due are queued and their next
        // run time moves on (what `status` shows), and the loop sleeps until then.
        let (next, notices) = daemon.lock().agenda.poll(Utc::now());
        log_notices(&notices);
        persist_schedule(&daemon);
        if let Some(next) = next {
            tracing::info!(suite = %next.suite, trigger = next.trigger.as_str(), ticket = next.ticket, "starting suite");
            let handle = tokio::spawn(execute_job(daemon.clone(), next.clone()));
            job = Some((next, handle));
        }
        notify::status(&status_line(&daemon));
        let sleep = daemon
            .lock()
            .agenda
            .next_wakeup()
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(10), MAX_SLEEP);
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => reload(&daemon),
            _ = daemon.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            ended = wait_for(&mut job) => {
                let (finished_job, _) = job.take().expect("a job was running");
                let end = ended.unwrap_or_else(|e| {
                    JobEnd::failed(exit::STATE, format!("the suite task failed: {e}"))
                });
                job_finished(&daemon, &finished_job, end);
            }
        }
    }
    Ok(shutdown(&daemon, job).await)
}

/// SIGTERM/SIGINT: stop the running suite at its next sample boundary, keep what it
/// measured, mark it interrupted, and exit.
async fn shutdown(daemon: &Arc<Daemon>, job: Option<JobHandle>) -> i32 {
    tracing::info!("stopping");
    notify::stopping();
    daemon.lock().phase = Phase::Stopping;
    daemon.cancel.cancel();
    let _ = daemon.stopping.send(true);
    if let Some((running, handle)) = job {
        let started = Instant::now();
        match tokio::time::timeout(STOP_GRACE, handle).await {
            Ok(Ok(end)) => {
                job_finished(daemon, &running, end);
                tracing::info!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "the running suite stopped at a sample boundary"
                );
            }
            Ok(Err(e)) => tracing::error!(error = %e, "the suite task failed while stopping"),
            Err(_) => {
                // A benchmark stuck in one long sample: mark its run interrupted now; the
                // results committed so far are already durable.
                let run_id = daemon.lock().current.as_ref().and_then(|c| c.run_id);
                if let Some(id) = run_id {
                    if let Ok(Some(mut run)) = daemon.store.run(id) {
                        run.status = RunStatus::Interrupted;
                        run.finished_at = Some(Utc::now());
                        run.note = Some(
                            "stopped by SIGTERM while a benchmark was mid-sample; finished benchmarks were kept".into(),
                        );
                        if let Err(e) = daemon.store.update_run(&run) {
                            tracing::error!(run = id, error = %e, "cannot mark the run interrupted");
                        }
                    }
                }
                tracing::warn!(
                    grace_secs = STOP_GRACE.as_secs(),
                    "the running benchmark did not reach a sample boundary in time; run marked interrupted"
                );
            }
        }
    }
    persist_schedule(daemon);
    let exporter = daemon
        .otlp
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .exporter
        .take();
    if let Some(exporter) = exporter {
        // Undelivered events stay in the outbox for the next start.
        exporter.stop(Duration::from_secs(1));
    }
    if let Err(e) = std::fs::remove_file(&daemon.socket) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(socket = %daemon.socket.display(), error = %e, "cannot remove the socket");
        }
    }
    tracing::info!("stopped");
    exit::OK
}

/// Records how a job ended and refreshes what `status` shows.
fn job_finished(daemon: &Daemon, job: &Job, end: JobEnd) {
    if let Some(requeue) = end.requeue {
        let mut shared = daemon.lock();
        match requeue {
            Requeue::StepAside {
                waiting_since,
                checks,
            } => {
                tracing::info!(suite = %job.suite, ticket = job.ticket, "a manual run was requested: it runs first, then the suite waits for a quiet host again");
                shared.agenda.step_aside(job.ticket, waiting_since, checks);
            }
            Requeue::Until(due) => {
                tracing::info!(suite = %job.suite, ticket = job.ticket, due = %due, "the confirmation run re-measures a load test: it waits for the blackout window to end");
                shared.agenda.defer(job.ticket, due);
            }
        }
        shared.phase = Phase::Idle;
        shared.current = None;
        shared.waiting = None;
        drop(shared);
        persist_schedule(daemon);
        return;
    }
    match &end.run {
        Some(run) => tracing::info!(
            suite = %job.suite,
            run = run.id,
            status = run.status.as_str(),
            "suite finished"
        ),
        None => tracing::error!(
            suite = %job.suite,
            error = end.message.as_deref().unwrap_or("unknown"),
            "suite did not run"
        ),
    }
    let mut shared = daemon.lock();
    if end.run_failed {
        shared.agenda.finish_failed(job.ticket, Utc::now());
    } else {
        shared.agenda.finish(job.ticket, end.run.as_ref());
    }
    if let Some(run) = &end.run {
        let settings = &shared.config.daemon;
        match pipeline::next_confirmation(
            &daemon.store,
            run,
            job.attempt,
            settings.confirm_attempts,
        ) {
            Ok(Some((benches, origin, attempt))) => {
                let now = Utc::now();
                let delay = if job.confirm_now {
                    chrono::Duration::zero()
                } else {
                    chrono::Duration::from_std(settings.confirm_delay).unwrap_or_default()
                };
                let due = pipeline::confirmation_start(&shared.config, &benches, now + delay);
                let ticket = shared.agenda.schedule_confirmation(
                    &job.suite,
                    benches.clone(),
                    origin,
                    attempt,
                    due,
                    now,
                );
                tracing::info!(
                    suite = %job.suite,
                    run = origin,
                    attempt,
                    ticket,
                    due = %due,
                    benchmarks = %benches.join(","),
                    "suspected regression: a confirmation run of the suspected benchmarks is queued"
                );
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the suspicions to confirm"),
        }
    }
    shared.phase = Phase::Idle;
    shared.current = None;
    shared.waiting = None;
    if let Some(health) = end.health {
        shared.health = health;
    }
    shared.finished.push_back((
        job.ticket,
        TicketState::Finished {
            run_id: end.run.as_ref().map(|r| r.id),
            code: end.code,
            message: end.message,
        },
    ));
    while shared.finished.len() > FINISHED_TICKETS {
        shared.finished.pop_front();
    }
    let judged = end.run.is_some();
    drop(shared);
    persist_schedule(daemon);
    // A run that went through the pipeline was published there.
    if !judged {
        DaemonSinks(daemon).run_judged(&daemon.store);
    }
}

/// The daemon's exports: the OTLP exporter is woken to deliver the new events now, and the
/// Prometheus scrape page is recomputed from the store.
struct DaemonSinks<'a>(&'a Daemon);

impl Publish for DaemonSinks<'_> {
    fn run_judged(&self, _store: &Store) {
        let daemon = self.0;
        if let Some(exporter) = &daemon
            .otlp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .exporter
        {
            exporter.flush_soon();
        }
        refresh_exposition(daemon);
    }
}

/// Runs one job: retention, the quiet-host gate (every run but a manual one), then the suite
/// on a blocking thread, then the verdicts. The benchmarks are planned after the gate, from
/// the config in force then (a reload while the suite waited applies to it).
async fn execute_job(daemon: Arc<Daemon>, job: Job) -> JobEnd {
    let config = daemon.lock().config.clone();
    // Before planning: inside a blackout window, planning holds the load tests back.
    if job.trigger == Trigger::Confirmation {
        let start = pipeline::confirmation_start(&config, &job.benches, Utc::now());
        if start > Utc::now() {
            return JobEnd::requeued(Requeue::Until(start));
        }
    }
    if let Err(e) = pipeline::plan(&config, &job.suite, &job.benches, job.quick) {
        return JobEnd::failed(exit::USAGE, e.to_string());
    }
    pipeline::purge(&daemon.store, &config);
    daemon.lock().current = Some(CurrentRun {
        ticket: job.ticket,
        suite: job.suite.clone(),
        trigger: job.trigger,
        run_id: None,
        started_at: Utc::now(),
        benchmark: None,
        index: 0,
        total: 0,
        samples: 0,
        target_samples: 0,
    });

    let gate = if job.trigger == Trigger::Manual {
        None
    } else {
        match quiet_gate(&daemon, &job).await {
            GateEnd::Passed(record) => Some(record),
            GateEnd::Disabled => None,
            GateEnd::StepAside {
                waiting_since,
                checks,
            } => {
                return JobEnd::requeued(Requeue::StepAside {
                    waiting_since,
                    checks,
                });
            }
            GateEnd::Stopping => {
                return JobEnd::failed(
                    exit::INTERRUPTED,
                    "stopped while waiting for a quiet host".into(),
                );
            }
        }
    };
    let config = daemon.lock().config.clone();
    let plans = match pipeline::plan(&config, &job.suite, &job.benches, job.quick) {
        Ok(plans) => plans,
        Err(e) => return JobEnd::failed(exit::USAGE, e.to_string()),
    };
    {
        let mut shared = daemon.lock();
        shared.phase = Phase::Running;
        shared.waiting = None;
        if let Some(current) = shared.current.as_mut() {
            current.total = plans.len();
        }
    }

    let runner = daemon.clone();
    let outcome = tokio::task::spawn_blocking(move || -> Result<SuiteOutcome, String> {
        let run = SuiteRun {
            store: &runner.store,
            config: &config,
            suite: job.suite.clone(),
            quick: job.quick,
            trigger: job.trigger,
            confirms: job.confirms,
            gate,
            host: runner.host.clone(),
            host_id: runner.host_id.clone(),
            clock: Arc::new(MonotonicClock::default()),
            cancel: runner.cancel.clone(),
            outbox: runner.store.outbox_enabled(),
        };
        let mut observer = StatusObserver {
            daemon: runner.clone(),
        };
        let published = DaemonSinks(&runner);
        let outcome =
            pipeline::execute(run, plans, &mut observer, &published).map_err(|e| e.to_string())?;
        reports::keep(&runner.store, &config, &outcome.run);
        Ok(outcome)
    })
    .await;
    match outcome {
        Ok(Ok(outcome)) => JobEnd {
            code: exit::of_run(&outcome.run),
            run: Some(outcome.run),
            health: outcome.health,
            message: None,
            requeue: None,
            run_failed: false,
        },
        Ok(Err(message)) => JobEnd::run_failed(message),
        Err(e) => JobEnd::run_failed(format!("the suite thread panicked: {e}")),
    }
}

/// How the wait for a quiet host ended.
enum GateEnd {
    Passed(QuietGateRecord),
    /// The gate is off (`[daemon.quiet] enabled = false`, possibly since a reload).
    Disabled,
    /// A manual run was queued; the wait resumes after it.
    StepAside {
        waiting_since: DateTime<Utc>,
        checks: u32,
    },
    /// The daemon is stopping.
    Stopping,
}

/// Waits until the host is quiet, backing off up to `max_delay` (counted from when this job
/// first waited, across a step aside). The settings are read afresh at every look, so a
/// reload applies to a suite already waiting; a reload or a manual run ends the current
/// back-off at once.
async fn quiet_gate(daemon: &Arc<Daemon>, job: &Job) -> GateEnd {
    let since = job.waiting_since.unwrap_or_else(Utc::now);
    let waited = || (Utc::now() - since).to_std().unwrap_or_default();
    let mut stopping = daemon.stopping.subscribe();
    let mut checks = job.gate_checks;
    let mut attempt = job.gate_checks;
    let mut last_reasons = Vec::new();
    loop {
        let settings = daemon.lock().config.daemon.quiet.clone();
        if !settings.enabled {
            return GateEnd::Disabled;
        }
        let sample = settings.cpu_sample;
        let readings = tokio::task::spawn_blocking(move || quiet::read_host(sample))
            .await
            .map_err(|e| e.to_string())
            .and_then(|read| read.map_err(|e| e.to_string()));
        checks += 1;
        let readings = match readings {
            Ok(r) => r,
            Err(message) => {
                tracing::warn!(error = %message, "cannot read the host's load; running without the quiet-host gate");
                return GateEnd::Passed(QuietGateRecord {
                    outcome: GateOutcome::Quiet,
                    postponed_secs: waited().as_secs_f64(),
                    checks,
                    reasons: vec![message],
                    readings: None,
                });
            }
        };
        let reasons = quiet::busy_reasons(&readings, &settings);
        if reasons.is_empty() {
            if checks > 1 {
                tracing::info!(suite = %job.suite, postponed_secs = waited().as_secs(), "the host is quiet now");
            }
            return GateEnd::Passed(QuietGateRecord {
                outcome: GateOutcome::Quiet,
                postponed_secs: waited().as_secs_f64(),
                checks,
                reasons: last_reasons,
                readings: Some(readings),
            });
        }
        if waited() >= settings.max_delay {
            let outcome = match settings.when_busy {
                WhenBusy::Run => GateOutcome::Noisy,
                WhenBusy::Skip => GateOutcome::Skipped,
            };
            tracing::warn!(
                suite = %job.suite,
                outcome = outcome.as_str(),
                reasons = %reasons.join(", "),
                "the host stayed busy for the whole max_delay"
            );
            return GateEnd::Passed(QuietGateRecord {
                outcome,
                postponed_secs: waited().as_secs_f64(),
                checks,
                reasons,
                readings: Some(readings),
            });
        }
        if daemon.lock().agenda.manual_waiting() {
            return GateEnd::StepAside {
                waiting_since: since,
                checks,
            };
        }
        let wait = quiet::backoff(attempt, &settings).min(settings.max_delay - waited());
        attempt += 1;
        tracing::info!(
            suite = %job.suite,
            reasons = %reasons.join(", "),
            retry_in_secs = wait.as_secs(),
            "host busy; postponing the suite"
        );
        {
            let mut shared = daemon.lock();
            shared.phase = Phase::WaitingForQuietHost;
            shared.waiting = Some(QuietWait {
                suite: job.suite.clone(),
                since,
                retry_at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                reasons: reasons.clone(),
            });
        }
        notify::status(&status_line(daemon));
        last_reasons = reasons;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = daemon.gate_wake.notified() => {}
            _ = stopping.wait_for(|s| *s) => return GateEnd::Stopping,
        }
    }
}

/// Mirrors the runner's progress into the shared status.
struct StatusObserver {
    daemon: Arc<Daemon>,
}

impl RunObserver for StatusObserver {
    fn run_started(&mut self, run: &RunRecord) {
        if let Some(current) = self.daemon.lock().current.as_mut() {
            current.run_id = Some(run.id);
        }
    }

    fn benchmark_started(&mut self, index: usize, total: usize, plan: &BenchmarkPlan) {
        if let Some(current) = self.daemon.lock().current.as_mut() {
            current.benchmark = Some(plan.name.clone());
            current.index = index + 1;
            current.total = total;
            current.samples = 0;
            current.target_samples = plan.options.samples;
        }
        notify::status(&status_line(&self.daemon));
    }

    fn sample_taken(&mut self, count: usize, target: usize) {
        if let Some(current) = self.daemon.lock().current.as_mut() {
            current.samples = count;
            current.target_samples = target;
        }
    }

    fn benchmark_finished(&mut self, _result: &BenchmarkResult) {}
}

/// SIGHUP: load the config again; an invalid one is logged problem by problem and the old
/// one keeps running.
fn reload(daemon: &Daemon) {
    notify::reloading();
    let now = Utc::now();
    match Config::load(daemon.options.config.as_deref()) {
        Ok(config) => {
            let (timezone, splay) = scheduler::timing(&config, &daemon.host_id);
            let mut shared = daemon.lock();
            if config.daemon.socket != shared.config.daemon.socket
                || config.daemon.socket_group != shared.config.daemon.socket_group
                || config.agent.state_dir != shared.config.agent.state_dir
            {
                tracing::warn!(
                    "the socket, socket group and state directory change only on restart"
                );
            }
            shared
                .agenda
                .reschedule(scheduler::schedules(&config, timezone, splay), now);
            shared.timezone = timezone;
            shared.splay = splay;
            shared.config = Arc::new(config);
            shared.last_reload = Some(ReloadStatus {
                at: now,
                ok: true,
                errors: Vec::new(),
            });
            daemon.set_config_load(true, now);
            tracing::info!(config = %shared.config.source, "config reloaded");
            let config = shared.config.clone();
            drop(shared);
            apply_otlp(daemon, &config);
        }
        Err(errors) => {
            let lines: Vec<String> = errors
                .problems
                .iter()
                .map(|p| p.to_string().trim_end().to_string())
                .collect();
            for line in &lines {
                tracing::error!(problem = %line, "config reload rejected; the previous config keeps running");
            }
            daemon.lock().last_reload = Some(ReloadStatus {
                at: now,
                ok: false,
                errors: lines,
            });
            daemon.set_config_load(false, now);
        }
    }
    persist_schedule(daemon);
    refresh_exposition(daemon);
    daemon.wake.notify_one();
    daemon.gate_wake.notify_one();
    notify::ready(&status_line(daemon));
}

/// One line for systemd's STATUS: what runs now and what runs next.
fn status_line(daemon: &Daemon) -> String {
    let shared = daemon.lock();
    let next = shared
        .agenda
        .suites()
        .filter_map(|(s, state)| state.next_due.map(|d| (d, s.suite.clone())))
        .min()
        .map(|(at, suite)| {
            format!(
                "next: {suite} at {}",
                at.with_timezone(&shared.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
            )
        })
        .unwrap_or_else(|| "no suite scheduled".into());
    let now = match (&shared.phase, &shared.current, &shared.waiting) {
        (Phase::WaitingForQuietHost, _, Some(w)) => {
            format!(
                "{} waits for a quiet host ({})",
                w.suite,
                w.reasons.join(", ")
            )
        }
        (Phase::Running, Some(c), _) => format!(
            "running {} {}/{} {}",
            c.suite,
            c.index,
            c.total,
            c.benchmark.as_deref().unwrap_or("")
        ),
        (phase, _, _) => phase.as_str().to_string(),
    };
    format!("{now}; {next}")
}

/// The live status, as the control socket returns it.
fn status_report(daemon: &Daemon) -> StatusReport {
    let shared = daemon.lock();
    StatusReport {
        daemon: Some(DaemonInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: daemon.started_at,
            config: shared.config.source.to_string(),
            timezone: shared.timezone.name().to_string(),
            splay_secs: shared.splay.as_secs_f64(),
            state: shared.phase.as_str().to_string(),
            waiting: shared.waiting.clone(),
            current: shared.current.clone(),
            queue: shared
                .agenda
                .queued()
                .map(|j| (None, j))
                .chain(
                    shared
                        .agenda
                        .pending_confirmations()
                        .map(|(due, j)| (Some(*due), j)),
                )
                .map(|(due_at, j)| QueuedRun {
                    ticket: j.ticket,
                    suite: j.suite.clone(),
                    trigger: j.trigger,
                    queued_at: j.queued_at,
                    due_at,
                    confirms: j.confirms,
                    benches: j.benches.clone(),
                })
                .collect(),
            last_reload: shared.last_reload.clone(),
        }),
        socket: daemon.socket.clone(),
        state_dir: daemon.state_dir.clone(),
        suites: status::suites_from_agenda(&shared.agenda),
        health_score: shared.health.score,
        health_grade: shared.health.grade,
        open_regressions: shared.health.open_regressions,
        export_backlog: daemon.store.outbox_len().unwrap_or(0),
        otlp: otlp_status(daemon),
    }
}

/// Where a ticket is now.
fn ticket_state(daemon: &Daemon, ticket: u64) -> TicketState {
    let shared = daemon.lock();
    if let Some((_, state)) = shared.finished.iter().find(|(t, _)| *t == ticket) {
        return state.clone();
    }
    match shared.agenda.position(ticket) {
        Some(0) => {
            let current = shared.current.as_ref().filter(|c| c.ticket == ticket);
            TicketState::Running {
                run_id: current.and_then(|c| c.run_id),
                benchmark: current.and_then(|c| c.benchmark.clone()),
                index: current.map_or(0, |c| c.index),
                total: current.map_or(0, |c| c.total),
            }
        }
        Some(position) => TicketState::Queued { position },
        None => TicketState::Unknown,
    }
}
