//! The exporter loop: on its own thread and tokio runtime, so a slow or hung collector can
//! never stall the daemon's event loop or a suite. Every `interval`, and when woken after
//! a suite, it drains the outbox in batches, deleting events only after the collector
//! accepted their batch, then exports the persisted state as metrics.
//!
//! Failures back off exponentially with jitter; after [`OPEN_AFTER`] failures in a row the
//! circuit breaker is open and nothing is sent until the backoff ends; the next attempt is
//! a half-open probe (the metrics, or one event) that closes it again on success. Memory
//! stays bounded whatever the collector does: at most one batch is in flight, every
//! request has a timeout, and waiting events live on disk.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use super::metrics::MetricsPipeline;
use super::settings::OtlpSettings;
use super::transport::{ExportError, Transport};
use crate::export::state::{ConfigLoad, SharedConfigLoad};
use crate::model::status::ExportStatus;
use crate::store::Store;

/// Events per request.
pub(crate) const BATCH: usize = 100;
/// Consecutive failures after which the breaker opens.
pub(crate) const OPEN_AFTER: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The exporter's breaker and backoff: the shared [`crate::resilience`] code with the
/// exporter's constants.
pub(crate) type Breaker = crate::resilience::CircuitBreaker;
pub(crate) use crate::resilience::BreakerState;

fn new_breaker() -> Breaker {
    Breaker::new(
        OPEN_AFTER,
        crate::resilience::Backoff::exponential(FIRST_BACKOFF, MAX_BACKOFF),
    )
}

impl ExportStatus {
    fn new(settings: &OtlpSettings) -> ExportStatus {
        ExportStatus {
            endpoint: super::settings::shown_endpoint(&settings.metrics.endpoint),
            protocol: settings.metrics.protocol.as_str().to_string(),
            running: true,
            backlog: 0,
            breaker: BreakerState::Closed,
            consecutive_failures: 0,
            last_success: None,
            last_error: None,
            last_error_at: None,
            next_attempt: None,
            delivered_events: 0,
        }
    }
}

impl ExportStatus {
    /// OTLP is configured but could not start (`problem` says why).
    pub(crate) fn not_running(problem: &str) -> ExportStatus {
        ExportStatus {
            endpoint: String::new(),
            protocol: String::new(),
            running: false,
            backlog: 0,
            breaker: BreakerState::Closed,
            consecutive_failures: 0,
            last_success: None,
            last_error: Some(problem.to_string()),
            last_error_at: None,
            next_attempt: None,
            delivered_events: 0,
        }
    }
}

/// The resource: the agent's own attributes, then the settings' overrides.
pub(crate) fn resource(settings: &OtlpSettings, fingerprint: &str) -> Vec<(String, String)> {
    let mut attributes: Vec<(String, String)> = crate::export::resource(fingerprint)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for (key, value) in &settings.resource_overrides {
        match attributes.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => attributes.push((key.clone(), value.clone())),
        }
    }
    attributes
}

/// The connections and the SDK pipeline of one exporter.
struct Session {
    metrics: MetricsPipeline,
    logs: Transport,
    resource: Vec<(String, String)>,
}

impl Session {
    fn new(settings: &OtlpSettings, fingerprint: &str) -> Result<Session, ExportError> {
        let resource = resource(settings, fingerprint);
        Ok(Session {
            metrics: MetricsPipeline::new(&Transport::new(&settings.metrics)?, &resource)?,
            logs: Transport::new(&settings.logs)?,
            resource,
        })
    }

    async fn export_metrics(
        &self,
        store: &Store,
        config_load: Option<ConfigLoad>,
    ) -> Result<(), ExportError> {
        let points = crate::export::state::collect(store, config_load)
            .map_err(|e| ExportError::Setup(format!("reading the state: {e}")))?;
        self.metrics.export(points).await
    }

    /// Sends up to `batches` batches of `size` events; returns how many were delivered.
    async fn drain(&self, store: &Store, size: usize, batches: usize) -> Result<u64, ExportError> {
        let mut delivered = 0;
        for _ in 0..batches {
            let batch = store
                .outbox_peek(size)
                .map_err(|e| ExportError::Setup(format!("reading the outbox: {e}")))?;
            if batch.is_empty() {
                break;
            }
            let events: Vec<_> = batch.iter().map(|(_, e)| e.clone()).collect();
            self.logs
                .send_logs(super::logs::request(&self.resource, &events))
                .await?;
            let sequences: Vec<u64> = batch.iter().map(|(seq, _)| *seq).collect();
            store
                .outbox_remove(&sequences)
                .map_err(|e| ExportError::Setup(format!("updating the outbox: {e}")))?;
            delivered += sequences.len() as u64;
        }
        Ok(delivered)
    }
}

/// The running exporter of the daemon.
pub(crate) struct OtlpExporter {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    status: Arc<Mutex<ExportStatus>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OtlpExporter {
    /// Starts the exporter thread. Setup problems are logged and retried by the loop.
    pub(crate) fn start(
        store: Arc<Store>,
        config_load: SharedConfigLoad,
        settings: OtlpSettings,
        fingerprint: String,
    ) -> std::io::Result<OtlpExporter> {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let status = Arc::new(Mutex::new(ExportStatus::new(&settings)));
        let thread = {
            let wake = wake.clone();
            let status = status.clone();
            std::thread::Builder::new()
                .name("otlp-export".into())
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            tracing::error!(error = %e, "OTLP export: cannot start its runtime");
                            return;
                        }
                    };
                    runtime.block_on(export_loop(
                        store,
                        config_load,
                        settings,
                        fingerprint,
                        wake,
                        stopped,
                        status,
                    ));
                })?
        };
        Ok(OtlpExporter {
            wake,
            stop,
            status,
            thread: Some(thread),
        })
    }

    /// Exports the state and drains the outbox now (after a suite), unless backing off.
    pub(crate) fn flush_soon(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn status(&self) -> ExportStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the loop. A request in flight is abandoned after `grace` (its events stay in
    /// the outbox and are sent again, with the same ids, by the next process).
    pub(crate) fn stop(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + grace;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn to_wall(at: Instant) -> DateTime<Utc> {
    let ahead = at.saturating_duration_since(Instant::now());
    Utc::now() + chrono::Duration::from_std(ahead).unwrap_or_default()
}

async fn export_loop(
    store: Arc<Store>,
    config_load: SharedConfigLoad,
    settings: OtlpSettings,
    fingerprint: String,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
    status: Arc<Mutex<ExportStatus>>,
) {
    let mut breaker = new_breaker();
    let mut session: Option<Session> = None;
    let mut next_metrics = Instant::now();
    let mut flush_requested = true;
    tracing::info!(
        endpoint = %super::settings::shown_endpoint(&settings.metrics.endpoint),
        protocol = settings.metrics.protocol.as_str(),
        interval_s = settings.interval.as_secs(),
        "OTLP export on"
    );
    loop {
        let now = Instant::now();
        if breaker.permits(now) && (flush_requested || now >= next_metrics || backlog(&store) > 0) {
            let half_open = breaker.state(now) == BreakerState::HalfOpen;
            let outcome = attempt(
                &store,
                ConfigLoad::read(Some(&config_load)),
                &settings,
                &fingerprint,
                &mut session,
                half_open,
            )
            .await;
            let mut shown = status.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                Ok(delivered) => {
                    if breaker.failures() >= OPEN_AFTER {
                        tracing::info!("OTLP export: the collector answers again; breaker closed");
                    }
                    breaker.succeeded();
                    shown.last_success = Some(Utc::now());
                    shown.delivered_events += delivered;
                    if !half_open {
                        flush_requested = false;
                        next_metrics = Instant::now() + settings.interval;
                    }
                }
                Err(error) => {
                    let wait = breaker.failed(Instant::now(), rand::random::<f64>());
                    if breaker.failures() == 1 || breaker.failures() == OPEN_AFTER {
                        tracing::warn!(
                            error = %error,
                            retry_in_s = wait.as_secs_f64(),
                            breaker = breaker.state(Instant::now()).as_str(),
                            "OTLP export failed; alert events stay in the outbox"
                        );
                    } else {
                        tracing::debug!(error = %error, "OTLP export failed again");
                    }
                    shown.last_error = Some(error.to_string());
                    shown.last_error_at = Some(Utc::now());
                }
            }
        }
        {
            let now = Instant::now();
            let mut shown = status.lock().unwrap_or_else(|e| e.into_inner());
            shown.backlog = backlog(&store);
            shown.breaker = breaker.state(now);
            shown.consecutive_failures = breaker.failures();
            shown.next_attempt = breaker.retry_at().filter(|at| *at > now).map(to_wall);
        }
        // Backing off: until the backoff ends. Otherwise until the next export is due (a
        // failed export leaves `next_metrics` in the past, so it is retried right away
        // once the backoff allows).
        let wake_at = match breaker.retry_at() {
            Some(at) if at > Instant::now() => at,
            _ => next_metrics,
        };
        tokio::select! {
            _ = wake.notified() => flush_requested = true,
            _ = tokio::time::sleep_until(wake_at.into()) => {}
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
    }
}

fn backlog(store: &Store) -> u64 {
    store.outbox_len().unwrap_or(0)
}

/// One attempt: the outbox (one event when half-open), then the metrics. Returns the
/// events delivered.
async fn attempt(
    store: &Store,
    config_load: Option<ConfigLoad>,
    settings: &OtlpSettings,
    fingerprint: &str,
    session: &mut Option<Session>,
    half_open: bool,
) -> Result<u64, ExportError> {
    if session.is_none() {
        *session = Some(Session::new(settings, fingerprint)?);
    }
    let session = session.as_ref().expect("set above");
    // Events first, so the exported backlog gauge counts what is still undelivered.
    let delivered = if half_open {
        session.drain(store, 1, 1).await?
    } else {
        session.drain(store, BATCH, usize::MAX).await?
    };
    session.export_metrics(store, config_load).await?;
    Ok(delivered)
}

/// What a one-shot export achieved.
#[derive(Debug)]
pub(crate) struct OnceReport {
    pub result: Result<(), ExportError>,
    pub delivered: u64,
    pub backlog: u64,
}

/// Exports the state and drains the outbox once, within `deadline` (for `perfwarden run`).
/// Undelivered events stay in the outbox for the next run or the daemon.
pub(crate) fn export_once(
    store: &Store,
    settings: &OtlpSettings,
    fingerprint: &str,
    deadline: Duration,
) -> OnceReport {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return OnceReport {
                result: Err(ExportError::Setup(e.to_string())),
                delivered: 0,
                backlog: backlog(store),
            };
        }
    };
    let mut delivered = 0;
    let result = runtime.block_on(async {
        tokio::time::timeout(deadline, async {
            let session = Session::new(settings, fingerprint)?;
            delivered = session.drain(store, BATCH, usize::MAX).await?;
            session.export_metrics(store, None).await
        })
        .await
        .map_err(|_| ExportError::Timeout(deadline))?
    });
    OnceReport {
        result,
        delivered,
        backlog: backlog(store),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exporters_breaker_opens_after_three_failures_and_backs_off_to_five_minutes() {
        let t0 = Instant::now();
        let mut breaker = new_breaker();
        assert_eq!(breaker.failed(t0, 0.0), Duration::from_millis(500));
        breaker.failed(t0, 0.0);
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        breaker.failed(t0, 0.0);
        assert_eq!(breaker.state(t0), BreakerState::Open);
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = breaker.failed(t0, 1.0);
        }
        assert_eq!(last, MAX_BACKOFF);
    }
}
