//! Traffic against a service of the user's: the shared machinery of the load tests
//! (`load.http`, `cache.redis`). A [`LoadTarget`] knows how to connect and perform one
//! operation; the [`engine`] runs virtual users against it with pacing and the error
//! guard; the [`Meter`] turns the running load into the runner's samples (time slices)
//! and the result's outcomes and measurements.
//!
//! Failures are classified, because the error ratio is reported by class: a refused or
//! reset connection, a failed DNS lookup, TLS handshake or authentication is `connect`; an
//! answer that does not arrive in time is `timeout`; an unexpected HTTP status or a Redis
//! error reply is `status`; a body without the expected text (or cut short) is `body`.

pub(crate) mod engine;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use self::engine::{Engine, Plan};
use crate::model::metric::{Measurement, Outcomes, ResultDetails};
use crate::model::units::ConfigDuration;
use crate::model::units::Percent;
use crate::workload::{LatencyRecorder, WorkloadError};

/// How a request failed; the classes of the error ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    Connect,
    Timeout,
    Status,
    Body,
}

impl FailureClass {
    pub(crate) const ALL: [FailureClass; 4] = [
        FailureClass::Connect,
        FailureClass::Timeout,
        FailureClass::Status,
        FailureClass::Body,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureClass::Connect => "connect",
            FailureClass::Timeout => "timeout",
            FailureClass::Status => "status",
            FailureClass::Body => "body",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A failed operation: its class and a message naming the target, never a secret.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub class: FailureClass,
    pub message: String,
    /// The connection was already closed by the server (keep-alive ended, `Connection:
    /// close`) before the request went out: reconnect and send it, it did not fail.
    pub stale: bool,
}

impl Failure {
    pub(crate) fn new(class: FailureClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            message: message.into(),
            stale: false,
        }
    }
}

/// A service to put load on: how to open a connection and perform one operation on it.
pub(crate) trait LoadTarget: Send + Sync + 'static {
    type Connection: Send + 'static;

    /// Opens a connection, within the target's connect timeout.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, Failure>> + Send;

    /// Performs one operation and returns the bytes received; within the target's
    /// request timeout. After a `connect` or `timeout` failure the connection is dropped.
    fn send(
        &self,
        connection: &mut Self::Connection,
    ) -> impl Future<Output = Result<u64, Failure>> + Send;
}

/// Defaults every load test shares (`load.http`, `cache.redis`).
pub(crate) fn default_duration() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}
pub(crate) fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(3))
}
pub(crate) fn default_abort_ratio() -> Percent {
    Percent(0.5)
}
pub(crate) fn default_abort_window() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

/// What the `[load]` guard rails check on a load test, the caps the config stage copies
/// into it, and what the runner's clock is set from (`WorkloadConfig::rails`).
pub(crate) struct Rails<'a> {
    /// The target host, or why the URL has none.
    pub host: Result<String, String>,
    pub users: usize,
    /// The parameter that names the users (`users`, `clients`).
    pub users_key: &'static str,
    pub rate: Option<f64>,
    pub duration: Duration,
    pub ramp_up: Duration,
    /// A request count ends the test (`requests`).
    pub counted: bool,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub rate_cap: &'a mut Option<f64>,
    pub max_duration: &'a mut Option<Duration>,
}

/// What a sample value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Objective {
    /// Successful operations per second (closed model).
    Throughput,
    /// 99th percentile of latency over the slice (open model).
    P99Latency,
}

/// Connects once and performs one operation, before any load: an unreachable target, a
/// TLS or authentication error or a wrong answer fails the benchmark with that reason
/// instead of starting an error storm.
pub(crate) fn probe<T: LoadTarget>(target: &T) -> Result<(), WorkloadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WorkloadError::io("cannot start the load generator", e))?;
    runtime
        .block_on(async {
            let mut connection = target.connect().await?;
            target.send(&mut connection).await
        })
        .map(|_| ())
        .map_err(|failure| WorkloadError::Invalid(failure.message))
}

/// The running load seen by the runner: each `run(n)` is a slice of `n` milliseconds.
pub(crate) struct Meter {
    engine: Engine,
    objective: Objective,
    /// An open-model slice spans at least this long (20 due operations).
    min_slice: Duration,
    request_timeout: Duration,
    measured: Outcomes,
    ok: u64,
    bytes: u64,
    measured_time: Duration,
    slice: Histogram<u64>,
}

impl Meter {
    pub(crate) fn start<T: LoadTarget>(
        target: Arc<T>,
        plan: Plan,
        threads: usize,
        objective: Objective,
        request_timeout: Duration,
    ) -> Result<Meter, WorkloadError> {
        let min_slice = match plan.pacing {
            engine::Pacing::Open(rate) => Duration::from_secs_f64(20.0 / rate),
            _ => Duration::ZERO,
        };
        let engine = Engine::start(target, plan, threads)
            .map_err(|e| WorkloadError::io("cannot start the load generator", e))?;
        Ok(Meter {
            engine,
            objective,
            min_slice,
            request_timeout,
            measured: Outcomes::default(),
            ok: 0,
            bytes: 0,
            measured_time: Duration::ZERO,
            slice: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("static histogram bounds are valid"),
        })
    }

    /// One sample: waits for the slice and reads what completed in it.
    pub(crate) fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        // One iteration is one millisecond of load. An open-model slice spans at least 20
        // due requests, and lasts until one has completed (a stalled server stretches it
        // rather than leaving it empty), within the request timeout.
        let slice = Duration::from_millis(iterations).max(self.min_slice);
        let longest = slice + self.request_timeout + Duration::from_secs(1);
        let begin = Instant::now();
        let shared = self.engine.shared.clone();
        let ended_before = shared.totals().ended();
        loop {
            if shared.stop.load(Ordering::Relaxed) || shared.finished() {
                break;
            }
            let elapsed = begin.elapsed();
            if elapsed >= slice {
                let waits_for_one = self.objective == Objective::P99Latency
                    && elapsed < longest
                    && shared.totals().ended() == ended_before;
                if !waits_for_one {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            std::thread::sleep((slice - elapsed).min(Duration::from_millis(50)));
        }
        let took = begin.elapsed();
        let tally = shared.drain();
        latencies.merge_histogram(&tally.latency);
        self.ok += tally.ok;
        self.bytes += tally.bytes;
        self.measured_time += took;
        self.measured.attempted += tally.ok + tally.failed.iter().sum::<u64>();
        for class in FailureClass::ALL {
            let count = tally.failed[class.index()];
            if count > 0 {
                *self
                    .measured
                    .failed
                    .entry(class.as_str().into())
                    .or_default() += count;
            }
        }
        if tally.last_error.is_some() {
            self.measured.last_error = tally.last_error;
        }
        if let Some(reason) = shared
            .aborted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            let last = self
                .measured
                .last_error
                .as_deref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default();
            return Err(WorkloadError::Invalid(format!("{reason}{last}")));
        }
        if (shared.stop.load(Ordering::Relaxed) || shared.finished()) && took < slice / 2 {
            // Too short a slice to be a fair sample: the planned work is done.
            return Err(WorkloadError::Finished);
        }
        Ok(match self.objective {
            Objective::Throughput => tally.ok as f64,
            Objective::P99Latency => {
                self.slice.reset();
                let _ = self.slice.add(&tally.latency);
                if self.slice.is_empty() {
                    let failed: u64 = tally.failed.iter().sum();
                    return Err(WorkloadError::Invalid(format!(
                        "no request completed in a whole sample ({failed} failed; last error: {})",
                        self.measured
                            .last_error
                            .as_deref()
                            .unwrap_or("none, the target stalled")
                    )));
                }
                self.slice.value_at_quantile(0.99) as f64 / 1e9
            }
        })
    }

    /// Forgets the warm-up's outcomes.
    pub(crate) fn warmup_done(&mut self) {
        self.measured = Outcomes::default();
        self.bytes = 0;
        self.ok = 0;
        self.measured_time = Duration::ZERO;
    }

    /// Outcomes and measurements of the measured slices; `operation` names the unit
    /// (`request`, `operation`).
    pub(crate) fn details(&self, operation: &str) -> ResultDetails {
        let secs = self.measured_time.as_secs_f64();
        let mut measurements = vec![Measurement::new(
            "success_ratio",
            if self.measured.attempted == 0 {
                0.0
            } else {
                self.ok as f64 / self.measured.attempted as f64
            },
            "1",
        )];
        if secs > 0.0 {
            measurements.push(Measurement::new(
                &format!("{operation}s_per_second"),
                self.measured.attempted as f64 / secs,
                &format!("{{{operation}}}/s"),
            ));
            measurements.push(Measurement::new(
                "bytes_per_second",
                self.bytes as f64 / secs,
                "By/s",
            ));
        }
        ResultDetails {
            outcomes: Some(self.measured.clone()),
            measurements,
        }
    }

    pub(crate) fn stop(&mut self) {
        self.engine.stop();
    }
}

/// The sampling side of a load test's `Workload` (`load.http`, `cache.redis`): the meter
/// once `setup` started it, and the name of one operation for its details.
pub(crate) struct LoadSampling {
    meter: Option<Meter>,
    operation: &'static str,
}

impl LoadSampling {
    pub(crate) fn new(operation: &'static str) -> Self {
        LoadSampling {
            meter: None,
            operation,
        }
    }

    pub(crate) fn start(&mut self, meter: Meter) {
        self.meter = Some(meter);
    }

    pub(crate) fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        self.meter
            .as_mut()
            .ok_or_else(|| WorkloadError::not_set_up("the load test"))?
            .run(iterations, latencies)
    }

    pub(crate) fn warmup_done(&mut self) {
        if let Some(meter) = &mut self.meter {
            meter.warmup_done();
        }
    }

    pub(crate) fn details(&self) -> Option<ResultDetails> {
        self.meter
            .as_ref()
            .map(|meter| meter.details(self.operation))
    }

    /// Stops the load (idempotent).
    pub(crate) fn stop(&mut self) {
        if let Some(mut meter) = self.meter.take() {
            meter.stop();
        }
    }
}

/// The hard stop of a load test without `[load] max_duration`: twice its planned length
/// plus ten seconds, so a slow runner never leaves it running.
pub(crate) fn default_stop_after(ramp_up: Duration, duration: Duration) -> Duration {
    ramp_up + duration * 2 + Duration::from_secs(10)
}
