//! `resilience.circuit_breaker` and `resilience.retry` — the cost and the behaviour of
//! perfwarden's own [`crate::resilience`] code (the breaker and backoff the OTLP exporter
//! and the load tests use), against a fault-injecting HTTP server on loopback that the
//! probe starts itself.
//!
//! **Fault server:** HTTP/1.1 keep-alive on 127.0.0.1, one thread per connection; each
//! request fails (503) with probability `failure_ratio` or while an outage is on, after an
//! optional added latency. The client is a plain keep-alive connection, so a call costs
//! one loopback round trip.
//!
//! **`resilience.circuit_breaker`** — sample value: calls per second through a closed
//! breaker (`permits` with the clock read, the call, `succeeded`) where the call is an
//! in-process no-op, so the breaker's own cost is what is measured (higher is better).
//! Once per benchmark, untimed: the same loop without the breaker (`direct_calls_per_second`,
//! and the overhead per call in ns), then a scenario against the fault server: an outage
//! begins — time until the breaker opens; calls while open — mean fail-fast latency; the
//! outage ends — time until a half-open trial closes the breaker again.
//!
//! **`resilience.retry`** — sample value: successful calls per second against the fault
//! server failing `failure_ratio` of requests, with `attempts` tries and exponential
//! backoff with jitter (higher is better). Once per benchmark: for each of
//! `compare_ratios`, exponential-with-jitter and fixed-delay retries, the success ratio and
//! the latency a retried call adds on average.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::model::metric::{Measurement, MetricDef, ResultDetails};
use crate::model::units::{ConfigDuration, Percent};
use crate::resilience::{Backoff, BreakerState, CircuitBreaker, retry};
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

// ---------------------------------------------------------------- the fault server

/// What the fault server does to requests; changed while it runs.
#[derive(Default)]
pub(crate) struct Faults {
    /// Failure probability in parts per million.
    failure_ppm: AtomicU64,
    outage: AtomicBool,
    latency_us: AtomicU64,
    stop: AtomicBool,
}

impl Faults {
    pub(crate) fn set_failure_ratio(&self, ratio: f64) {
        self.failure_ppm
            .store((ratio.clamp(0.0, 1.0) * 1e6) as u64, Ordering::Relaxed);
    }
    pub(crate) fn set_outage(&self, on: bool) {
        self.outage.store(on, Ordering::Relaxed);
    }
    pub(crate) fn set_latency(&self, latency: Duration) {
        self.latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }
}

/// An HTTP/1.1 server on loopback answering `200 ok` or `503` by the [`Faults`].
pub(crate) struct FaultServer {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
}

impl FaultServer {
    pub(crate) fn start() -> std::io::Result<FaultServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Faults::default());
        let shared = faults.clone();
        std::thread::Builder::new()
            .name("fault-server".into())
            .spawn(move || {
                let mut seed = 0x2545_F491_4F6C_DD1Du64;
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let faults = shared.clone();
                    let _ = std::thread::Builder::new()
                        .name("fault-conn".into())
                        .spawn(move || serve(stream, faults, seed | 1));
                }
            })?;
        Ok(FaultServer { addr, faults })
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.faults.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, faults: Arc<Faults>, mut random: u64) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        // Read one request head (no body: the client sends GETs).
        let mut saw_request = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => saw_request = true,
            }
        }
        if !saw_request || faults.stop.load(Ordering::Relaxed) {
            return;
        }
        let latency = faults.latency_us.load(Ordering::Relaxed);
        if latency > 0 {
            std::thread::sleep(Duration::from_micros(latency));
        }
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let fail = faults.outage.load(Ordering::Relaxed)
            || random % 1_000_000 < faults.failure_ppm.load(Ordering::Relaxed);
        let response: &[u8] = if fail {
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nfail"
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        };
        if writer.write_all(response).is_err() {
            return;
        }
    }
}

/// A keep-alive client of the fault server; a call is one GET.
pub(crate) struct FaultClient {
    addr: SocketAddr,
    stream: Option<(TcpStream, BufReader<TcpStream>)>,
}

impl FaultClient {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        FaultClient { addr, stream: None }
    }

    /// `Ok(true)` on 200, `Ok(false)` on an error status.
    pub(crate) fn call(&mut self) -> std::io::Result<bool> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            let reader = BufReader::new(stream.try_clone()?);
            self.stream = Some((stream, reader));
        }
        let (stream, reader) = self.stream.as_mut().expect("connected above");
        let outcome = (|| {
            stream.write_all(b"GET / HTTP/1.1\r\nhost: fault\r\n\r\n")?;
            let mut status = String::new();
            reader.read_line(&mut status)?;
            let ok = status.starts_with("HTTP/1.1 200");
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body)?;
            Ok(ok)
        })();
        if outcome.is_err() {
            self.stream = None;
        }
        outcome
    }
}

fn random_unit() -> f64 {
    rand::random::<f64>()
}

// ---------------------------------------------------------------- circuit breaker

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Failures in a row that open the breaker.
    #[serde(default = "default_open_after")]
    pub open_after: u32,
    /// First open period; doubles (with jitter) on each failed half-open trial.
    #[serde(default = "default_open_for")]
    pub open_for: ConfigDuration,
    /// Latency the fault server adds to every request.
    #[serde(default)]
    pub added_latency: Option<ConfigDuration>,
}

fn default_open_after() -> u32 {
    5
}
fn default_open_for() -> ConfigDuration {
    ConfigDuration(Duration::from_millis(200))
}

impl CircuitBreakerConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.open_after == 0 {
            problems.push(("open_after".into(), "must be at least 1".into()));
        }
        if self.open_for.0 < Duration::from_millis(1) || self.open_for.0 > Duration::from_secs(10) {
            problems.push(("open_for".into(), "must be between 1ms and 10s".into()));
        }
        problems
    }

    fn breaker(&self) -> CircuitBreaker {
        CircuitBreaker::new(
            self.open_after,
            Backoff::exponential(self.open_for.0, self.open_for.0 * 16),
        )
    }
}

/// Calls through a closed breaker around an in-process no-op; returns calls made.
fn guarded_noop_calls(breaker: &mut CircuitBreaker, calls: u64, sink: &mut u64) -> u64 {
    for i in 0..calls {
        if breaker.permits(Instant::now()) {
            *sink = std::hint::black_box(sink.wrapping_add(i));
            breaker.succeeded();
        }
    }
    calls
}

fn direct_noop_calls(calls: u64, sink: &mut u64) -> u64 {
    for i in 0..calls {
        std::hint::black_box(Instant::now());
        *sink = std::hint::black_box(sink.wrapping_add(i));
    }
    calls
}

/// What the scenario against the fault server measured.
#[derive(Debug, Clone, Default)]
struct BreakerScenario {
    direct_calls_per_second: f64,
    time_to_open: f64,
    fail_fast_latency: f64,
    time_to_recover: f64,
}

pub(crate) struct CircuitBreakerProbe {
    config: CircuitBreakerConfig,
    breaker: CircuitBreaker,
    sink: u64,
    scenario: BreakerScenario,
}

impl CircuitBreakerProbe {
    pub(crate) fn new(config: CircuitBreakerConfig) -> Self {
        let breaker = config.breaker();
        CircuitBreakerProbe {
            config,
            breaker,
            sink: 0,
            scenario: BreakerScenario::default(),
        }
    }

    fn scenario(&self, deadline: Duration) -> Result<BreakerScenario, WorkloadError> {
        let io = |e| WorkloadError::io("fault server", e);
        let server = FaultServer::start().map_err(io)?;
        if let Some(latency) = &self.config.added_latency {
            server.faults.set_latency(latency.0);
        }
        let mut client = FaultClient::new(server.addr);
        let mut breaker = self.config.breaker();
        let give_up = Instant::now() + deadline;
        let mut call = |breaker: &mut CircuitBreaker| -> Result<(), WorkloadError> {
            if Instant::now() > give_up {
                return Err(WorkloadError::Invalid(
                    "the breaker scenario did not finish in time".into(),
                ));
            }
            let now = Instant::now();
            if !breaker.permits(now) {
                return Ok(());
            }
            match client.call() {
                Ok(true) => breaker.succeeded(),
                Ok(false) | Err(_) => {
                    breaker.failed(Instant::now(), random_unit());
                }
            }
            Ok(())
        };
        for _ in 0..50 {
            call(&mut breaker)?;
        }
        // An outage begins: time until the breaker opens.
        server.faults.set_outage(true);
        let outage = Instant::now();
        while breaker.state(Instant::now()) != BreakerState::Open {
            call(&mut breaker)?;
        }
        let time_to_open = outage.elapsed().as_secs_f64();
        // While open, calls fail fast.
        let fast = Instant::now();
        let mut rejected = 0u32;
        while rejected < 10_000 && breaker.state(Instant::now()) == BreakerState::Open {
            if !breaker.permits(Instant::now()) {
                rejected += 1;
            }
        }
        let fail_fast_latency = fast.elapsed().as_secs_f64() / f64::from(rejected.max(1));
        // The outage ends: time until a half-open trial closes the breaker.
        server.faults.set_outage(false);
        let healed = Instant::now();
        while breaker.state(Instant::now()) != BreakerState::Closed || breaker.failures() > 0 {
            call(&mut breaker)?;
            std::thread::sleep(Duration::from_millis(1));
        }
        let time_to_recover = healed.elapsed().as_secs_f64();
        // The same loop without a breaker, for the overhead.
        let mut sink = 0;
        let calls = 2_000_000;
        let started = Instant::now();
        direct_noop_calls(calls, &mut sink);
        let direct_calls_per_second = calls as f64 / started.elapsed().as_secs_f64();
        Ok(BreakerScenario {
            direct_calls_per_second,
            time_to_open,
            fail_fast_latency,
            time_to_recover,
        })
    }
}

const CALLS_PER_ITERATION: u64 = 10_000;

impl Workload for CircuitBreakerProbe {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("call")
    }

    fn setup(&mut self, _ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        self.scenario = self.scenario(Duration::from_secs(60))?;
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let calls = iterations * CALLS_PER_ITERATION;
        Ok(guarded_noop_calls(&mut self.breaker, calls, &mut self.sink) as f64)
    }

    fn details(&mut self) -> Option<ResultDetails> {
        let s = &self.scenario;
        Some(ResultDetails {
            outcomes: None,
            measurements: vec![
                Measurement::new(
                    "direct_calls_per_second",
                    s.direct_calls_per_second,
                    "{call}/s",
                ),
                Measurement::new("time_to_open", s.time_to_open, "s"),
                Measurement::new("fail_fast_latency", s.fail_fast_latency, "s"),
                Measurement::new("time_to_recover", s.time_to_recover, "s"),
            ],
        })
    }
}

// ---------------------------------------------------------------- retry

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Share of requests the fault server fails during the samples.
    #[serde(default = "default_failure_ratio")]
    pub failure_ratio: Percent,
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First backoff step (exponential, with jitter) and the fixed delay compared with it.
    #[serde(default = "default_delay")]
    pub delay: ConfigDuration,
    /// Failure ratios of the once-per-benchmark comparison.
    #[serde(default = "default_compare_ratios")]
    pub compare_ratios: Vec<Percent>,
}

fn default_failure_ratio() -> Percent {
    Percent(0.3)
}
fn default_attempts() -> u32 {
    3
}
fn default_delay() -> ConfigDuration {
    ConfigDuration(Duration::from_millis(1))
}
fn default_compare_ratios() -> Vec<Percent> {
    vec![Percent(0.1), Percent(0.3), Percent(0.5)]
}

impl RetryConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let ratio_ok = |p: &Percent| (0.0..1.0).contains(&p.0);
        if !ratio_ok(&self.failure_ratio) {
            problems.push((
                "failure_ratio".into(),
                "must be at least 0% and below 100%".into(),
            ));
        }
        if !self.compare_ratios.iter().all(ratio_ok) {
            problems.push((
                "compare_ratios".into(),
                "each must be at least 0% and below 100%".into(),
            ));
        }
        if !(1..=10).contains(&self.attempts) {
            problems.push(("attempts".into(), "must be between 1 and 10".into()));
        }
        if self.delay.0 > Duration::from_secs(1) {
            problems.push(("delay".into(), "must be at most 1s".into()));
        }
        problems
    }

    fn exponential(&self) -> Backoff {
        Backoff::exponential(self.delay.0, self.delay.0 * 64)
    }
}

/// Calls with retries; returns (successful calls, total latency of all calls).
fn retried_calls(
    client: &mut FaultClient,
    calls: u64,
    attempts: u32,
    backoff: Backoff,
) -> (u64, Duration) {
    let mut ok = 0;
    let started = Instant::now();
    for _ in 0..calls {
        let outcome = retry(
            attempts,
            backoff,
            random_unit,
            std::thread::sleep,
            || match client.call() {
                Ok(true) => Ok(()),
                _ => Err(()),
            },
        );
        if outcome.result.is_ok() {
            ok += 1;
        }
    }
    (ok, started.elapsed())
}

pub(crate) struct RetryProbe {
    config: RetryConfig,
    server: Option<FaultServer>,
    client: Option<FaultClient>,
    comparison: Vec<Measurement>,
}

impl RetryProbe {
    pub(crate) fn new(config: RetryConfig) -> Self {
        RetryProbe {
            config,
            server: None,
            client: None,
            comparison: Vec::new(),
        }
    }
}

const RETRY_CALLS_PER_ITERATION: u64 = 20;

impl Workload for RetryProbe {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("call")
    }

    fn setup(&mut self, _ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let server = FaultServer::start().map_err(|e| WorkloadError::io("fault server", e))?;
        let mut client = FaultClient::new(server.addr);
        // The cost of a call that succeeds the first time, for the added latency.
        server.faults.set_failure_ratio(0.0);
        let calls = 2000;
        let (_, clean) = retried_calls(&mut client, calls, 1, self.config.exponential());
        let base = clean.as_secs_f64() / calls as f64;
        for ratio in &self.config.compare_ratios {
            server.faults.set_failure_ratio(ratio.0);
            let percent = (ratio.0 * 100.0).round();
            for (name, backoff) in [
                ("exponential", self.config.exponential()),
                ("fixed", Backoff::fixed(self.config.delay.0)),
            ] {
                let (ok, took) = retried_calls(&mut client, calls, self.config.attempts, backoff);
                self.comparison.push(Measurement::new(
                    &format!("success_ratio_{name}_{percent}pct"),
                    ok as f64 / calls as f64,
                    "1",
                ));
                self.comparison.push(Measurement::new(
                    &format!("added_latency_{name}_{percent}pct"),
                    (took.as_secs_f64() / calls as f64 - base).max(0.0),
                    "s",
                ));
            }
        }
        server.faults.set_failure_ratio(self.config.failure_ratio.0);
        self.server = Some(server);
        self.client = Some(client);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        _latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| WorkloadError::not_set_up("the fault server"))?;
        let (ok, _) = retried_calls(
            client,
            iterations * RETRY_CALLS_PER_ITERATION,
            self.config.attempts,
            self.config.exponential(),
        );
        Ok(ok as f64)
    }

    fn details(&mut self) -> Option<ResultDetails> {
        Some(ResultDetails {
            outcomes: None,
            measurements: self.comparison.clone(),
        })
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        self.client = None;
        self.server = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> WorkloadContext {
        super::super::fake::context_in(std::env::temp_dir(), 1)
    }

    #[test]
    fn the_fault_server_fails_the_share_it_is_told() {
        let server = FaultServer::start().unwrap();
        let mut client = FaultClient::new(server.addr);
        assert!(client.call().unwrap());
        server.faults.set_failure_ratio(0.5);
        let ok = (0..2000).filter(|_| client.call().unwrap()).count();
        assert!((800..1200).contains(&ok), "{ok} of 2000 succeeded");
        server.faults.set_outage(true);
        assert!(!client.call().unwrap());
    }

    #[test]
    fn the_breaker_scenario_opens_fails_fast_and_recovers() {
        let mut probe = CircuitBreakerProbe::new(CircuitBreakerConfig {
            open_after: 5,
            open_for: ConfigDuration(Duration::from_millis(50)),
            added_latency: None,
        });
        probe.setup(&context()).unwrap();
        let s = &probe.scenario;
        assert!(s.time_to_open > 0.0 && s.time_to_open < 1.0, "{s:?}");
        assert!(s.fail_fast_latency < 1e-5, "fail fast is in-process: {s:?}");
        // The first half-open trial after the outage comes within the open period
        // (50 ms, at most doubled by the failed trials before the outage ended).
        assert!(s.time_to_recover < 1.0, "{s:?}");
        assert!(probe.run(1, &mut LatencyRecorder::new()).unwrap() > 0.0);
    }

    #[test]
    fn retries_raise_the_success_ratio_of_a_failing_server() {
        let mut probe = RetryProbe::new(RetryConfig {
            failure_ratio: Percent(0.3),
            attempts: 3,
            delay: ConfigDuration(Duration::from_micros(100)),
            compare_ratios: vec![Percent(0.3)],
        });
        probe.setup(&context()).unwrap();
        let details = probe.details().unwrap();
        let value = |name: &str| {
            details
                .measurements
                .iter()
                .find(|m| m.name == name)
                .unwrap()
                .value
        };
        // Three tries at 30% failures: 1 - 0.3³ = 97.3% succeed.
        let ratio = value("success_ratio_exponential_30pct");
        assert!(ratio > 0.94, "{ratio}");
        assert!(value("success_ratio_fixed_30pct") > 0.94);
        assert!(value("added_latency_exponential_30pct") > 0.0);
        let ok = probe.run(5, &mut LatencyRecorder::new()).unwrap();
        assert!(ok >= 90.0, "{ok} of 100");
    }
}
