//! The load itself: virtual users on a multi-threaded tokio runtime, tallies in a few
//! mutex-guarded shards (one lock per request, no shared atomic counter on the hot path),
//! pacing by tickets, and the error guard.
//!
//! **Closed model:** each user sends, waits for the whole response, and sends again;
//! latency is measured from the send. Users start one by one over the ramp-up.
//! **Open model:** request *i* is due at `start + i / rate`, whatever the server does. A
//! user takes the next ticket, waits for its due time and sends; latency is measured from
//! the due time, not from the send, so a server stall counts in full for every request
//! that should have been sent during it (coordinated omission corrected, as wrk2 and
//! `oha --latency-correction` do). With a rate cap (`[load] max_rate`), the closed model is
//! paced by the same tickets.
//!
//! **Error guard:** a monitor task looks at the last `abort_window` of outcomes every
//! 100 ms; once at least 20 requests ended there and the failed share reaches
//! `abort_error_ratio`, it stops every user (a breaker that does not close again: a
//! failing service is not hammered for the rest of the test) and the benchmark fails with
//! that reason.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::{Failure, FailureClass, LoadTarget};
use crate::resilience::Backoff;

/// Tallies of one shard; summed over shards when a sample ends.
pub(crate) struct Tally {
    pub latency: Histogram<u64>,
    pub ok: u64,
    pub bytes: u64,
    pub failed: [u64; 4],
    pub last_error: Option<String>,
    /// Never reset by [`Shared::drain`]: the error guard's running totals.
    ended_ok: u64,
    ended_failed: u64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("static histogram bounds are valid"),
            ok: 0,
            bytes: 0,
            failed: [0; 4],
            last_error: None,
            ended_ok: 0,
            ended_failed: 0,
        }
    }

    fn record_ok(&mut self, bytes: u64) {
        self.ok += 1;
        self.ended_ok += 1;
        self.bytes += bytes;
    }

    fn record_failure(&mut self, failure: Failure) {
        self.failed[failure.class.index()] += 1;
        self.ended_failed += 1;
        self.last_error = Some(failure.message);
    }
}

/// Counts at one moment, for the error guard and the per-sample deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Totals {
    pub ok: u64,
    pub failed: u64,
}

impl Totals {
    /// Requests that ended, either way.
    pub(crate) fn ended(&self) -> u64 {
        self.ok + self.failed
    }
}

/// How the load is paced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pacing {
    /// Closed model, unpaced.
    Free,
    /// Closed model capped at this many requests per second.
    Capped(f64),
    /// Open model at this arrival rate; latency from the due time.
    Open(f64),
}

pub(crate) struct Plan {
    pub users: usize,
    pub pacing: Pacing,
    pub ramp_up: Duration,
    /// Stop issuing after this many requests (all users together).
    pub requests: Option<u64>,
    /// Stop issuing after this long, whatever the runner asks.
    pub max_duration: Duration,
    pub abort_error_ratio: f64,
    pub abort_window: Duration,
}

/// State shared by the users, the monitor and the sampling thread.
pub(crate) struct Shared {
    pub shards: Vec<Mutex<Tally>>,
    pub stop: AtomicBool,
    /// Why the error guard stopped the test.
    pub aborted: Mutex<Option<String>>,
    next_ticket: AtomicU64,
    pub active_users: AtomicUsize,
    started: Instant,
}

impl Shared {
    /// Requests ended since the start (not reset by `drain`).
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for shard in &self.shards {
            let tally = shard.lock().unwrap_or_else(|p| p.into_inner());
            totals.ok += tally.ended_ok;
            totals.failed += tally.ended_failed;
        }
        totals
    }

    /// Moves every shard's tallies out (resetting them) into one.
    pub(crate) fn drain(&self) -> Tally {
        let mut sum = Tally::new();
        for shard in &self.shards {
            let mut tally = shard.lock().unwrap_or_else(|p| p.into_inner());
            let _ = sum.latency.add(&tally.latency);
            tally.latency.reset();
            sum.ok += std::mem::take(&mut tally.ok);
            sum.bytes += std::mem::take(&mut tally.bytes);
            for (total, class) in sum.failed.iter_mut().zip(tally.failed.iter_mut()) {
                *total += std::mem::take(class);
            }
            if let Some(error) = tally.last_error.take() {
                sum.last_error = Some(error);
            }
        }
        sum
    }

    pub(crate) fn finished(&self) -> bool {
        self.active_users.load(Ordering::Acquire) == 0
    }
}

/// The running load: a runtime that owns the users.
pub(crate) struct Engine {
    runtime: Option<tokio::runtime::Runtime>,
    pub shared: Arc<Shared>,
}

impl Engine {
    pub(crate) fn start<T: LoadTarget>(
        target: Arc<T>,
        plan: Plan,
        threads: usize,
    ) -> std::io::Result<Engine> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("load-http")
            .enable_all()
            .build()?;
        let shard_count = (threads * 4).clamp(1, plan.users.max(1));
        let shared = Arc::new(Shared {
            shards: (0..shard_count).map(|_| Mutex::new(Tally::new())).collect(),
            stop: AtomicBool::new(false),
            aborted: Mutex::new(None),
            next_ticket: AtomicU64::new(0),
            active_users: AtomicUsize::new(plan.users),
            started: Instant::now(),
        });
        let plan = Arc::new(plan);
        for user in 0..plan.users {
            let delay = match plan.pacing {
                Pacing::Open(_) => Duration::ZERO,
                _ => plan.ramp_up.mul_f64(user as f64 / plan.users as f64),
            };
            runtime.spawn(virtual_user(
                user,
                delay,
                target.clone(),
                plan.clone(),
                shared.clone(),
            ));
        }
        runtime.spawn(error_guard(plan.clone(), shared.clone()));
        Ok(Engine {
            runtime: Some(runtime),
            shared,
        })
    }

    /// Stops every user and waits briefly for them.
    pub(crate) fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Decrements the active count when a user ends, however it ends.
struct Leaving<'a>(&'a AtomicUsize);
impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn virtual_user<T: LoadTarget>(
    user: usize,
    delay: Duration,
    target: Arc<T>,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
) {
    let _leaving = Leaving(&shared.active_users);
    let shard = &shared.shards[user % shared.shards.len()];
    tokio::time::sleep(delay).await;
    let deadline = shared.started + plan.max_duration;
    let mut connection = None;
    // After a failed connect, back off (10 ms doubling to 1 s, with jitter: the shared
    // `resilience::Backoff`) so a dead target is not spun on.
    let reconnect = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1));
    let mut failed_connects = 0u32;
    loop {
        if shared.stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return;
        }
        let ticket = shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        if plan.requests.is_some_and(|limit| ticket >= limit) {
            return;
        }
        let due = match plan.pacing {
            Pacing::Free => None,
            Pacing::Capped(rate) | Pacing::Open(rate) => {
                Some(shared.started + Duration::from_secs_f64(ticket as f64 / rate))
            }
        };
        if let Some(due) = due {
            if due >= deadline {
                return;
            }
            tokio::time::sleep_until(due).await;
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
        }
        if connection.is_none() {
            match target.connect().await {
                Ok(c) => {
                    connection = Some(c);
                    failed_connects = 0;
                }
                Err(failure) => {
                    shard
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record_failure(failure);
                    failed_connects += 1;
                    tokio::time::sleep(reconnect.delay(failed_connects, rand::random::<f64>()))
                        .await;
                    continue;
                }
            }
        }
        let sent = Instant::now();
        let mut outcome = target
            .send(connection.as_mut().expect("connected above"))
            .await;
        if outcome.as_ref().is_err_and(|failure| failure.stale) {
            // The server ended the keep-alive: the request never left; send it again on a
            // new connection (a failure to connect counts).
            outcome = match target.connect().await {
                Ok(mut fresh) => {
                    let again = target.send(&mut fresh).await;
                    connection = Some(fresh);
                    again
                }
                Err(failure) => Err(failure),
            };
        }
        let since = match (plan.pacing, due) {
            (Pacing::Open(_), Some(due)) => due,
            _ => sent,
        };
        let nanos = since.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        let mut tally = shard.lock().unwrap_or_else(|p| p.into_inner());
        tally.latency.saturating_record(nanos.max(1));
        match outcome {
            Ok(bytes) => tally.record_ok(bytes),
            Err(failure) => {
                // A status or body failure leaves a usable connection; anything else may
                // be mid-response.
                if matches!(failure.class, FailureClass::Connect | FailureClass::Timeout) {
                    connection = None;
                }
                tally.record_failure(failure);
            }
        }
    }
}

/// Counts the outcomes over a sliding window and stops the test when too many fail.
async fn error_guard(plan: Arc<Plan>, shared: Arc<Shared>) {
    let tick = Duration::from_millis(100);
    let mut history: VecDeque<(Instant, Totals)> = VecDeque::new();
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let totals = shared.totals();
        history.push_back((now, totals));
        while history
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > plan.abort_window)
        {
            history.pop_front();
        }
        let (_, oldest) = history.front().copied().expect("just pushed");
        let ok = totals.ok.saturating_sub(oldest.ok);
        let failed = totals.failed.saturating_sub(oldest.failed);
        let ended = ok + failed;
        if ended >= 20 && failed as f64 >= plan.abort_error_ratio * ended as f64 {
            let reason = format!(
                "stopped by the error guard: {failed} of {ended} requests failed in the last {:?} (abort_error_ratio {:.0}%)",
                plan.abort_window,
                plan.abort_error_ratio * 100.0
            );
            *shared.aborted.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
            shared.stop.store(true, Ordering::Release);
            return;
        }
    }
}
