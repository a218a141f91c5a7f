//! Resilience primitives perfwarden uses around everything remote — the OTLP exporter
//! (`export::otlp::exporter`) and the load targets' reconnects (`workload::traffic`) — and
//! that the `resilience.*` probes measure, so what is benchmarked is what runs.
//!
//! - [`Backoff`]: exponential (doubling from `first` up to `max`) or fixed delays, with
//!   optional "equal jitter" (a wait drawn uniformly from [½, 1] of the step, so a fleet
//!   that failed together does not retry together, yet never retries immediately).
//! - [`CircuitBreaker`]: closed until `open_after` failures in a row; then open (calls
//!   fail fast) until the backoff ends; then half-open: one trial call closes it on
//!   success or reopens it with the next, longer backoff. Told the time, so it is pure
//!   and tested without waiting.
//! - [`retry`]: up to `attempts` tries of an operation with a backoff between them.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long to wait before the next try.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// `false`: the same delay every time.
    pub exponential: bool,
    /// Draw the wait from [½, 1] of the step.
    pub jitter: bool,
}

impl Backoff {
    pub(crate) const fn exponential(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            exponential: true,
            jitter: true,
        }
    }

    pub(crate) const fn fixed(delay: Duration) -> Backoff {
        Backoff {
            first: delay,
            max: delay,
            exponential: false,
            jitter: false,
        }
    }

    /// The wait after the `failures`-th failure in a row (1-based); `random` in [0, 1).
    pub(crate) fn delay(&self, failures: u32, random: f64) -> Duration {
        let step = if self.exponential {
            let exponent = failures.saturating_sub(1).min(30);
            self.first.saturating_mul(1u32 << exponent).min(self.max)
        } else {
            self.first
        };
        if self.jitter {
            step.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0))
        } else {
            step
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A circuit breaker with backoff (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct CircuitBreaker {
    open_after: u32,
    backoff: Backoff,
    failures: u32,
    retry_at: Option<Instant>,
}

impl CircuitBreaker {
    pub(crate) fn new(open_after: u32, backoff: Backoff) -> CircuitBreaker {
        CircuitBreaker {
            open_after: open_after.max(1),
            backoff,
            failures: 0,
            retry_at: None,
        }
    }

    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        if self.failures < self.open_after {
            BreakerState::Closed
        } else if self.retry_at.is_some_and(|at| now < at) {
            BreakerState::Open
        } else {
            BreakerState::HalfOpen
        }
    }

    /// Whether a call may be made now: closed and not backing off, or half-open.
    #[inline]
    pub(crate) fn permits(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    #[inline]
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// Records a failure; returns the wait before the next call is permitted.
    pub(crate) fn failed(&mut self, now: Instant, random: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let wait = self.backoff.delay(self.failures, random);
        self.retry_at = Some(now + wait);
        wait
    }
}

/// What [`retry`] ended with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retried<T, E> {
    pub result: Result<T, E>,
    pub attempts: u32,
    /// Time spent waiting between attempts.
    pub waited: Duration,
}

/// Runs `operation` up to `attempts` times, sleeping `backoff` between failures.
/// `sleep` and `random` are injected (the real ones in production, fakes in tests).
pub(crate) fn retry<T, E>(
    attempts: u32,
    backoff: Backoff,
    mut random: impl FnMut() -> f64,
    mut sleep: impl FnMut(Duration),
    mut operation: impl FnMut() -> Result<T, E>,
) -> Retried<T, E> {
    let attempts = attempts.max(1);
    let mut waited = Duration::ZERO;
    let mut attempt = 1;
    loop {
        let result = operation();
        if result.is_ok() || attempt == attempts {
            return Retried {
                result,
                attempts: attempt,
                waited,
            };
        }
        let wait = backoff.delay(attempt, random());
        sleep(wait);
        waited += wait;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped_or_fixed() {
        let b = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(500));
        let second = b.delay(2, 0.999_999);
        assert!(second > Duration::from_millis(1990) && second <= Duration::from_secs(2));
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(3));
        assert_eq!(b.delay(40, 1.0), Duration::from_secs(300));
        let fixed = Backoff::fixed(Duration::from_millis(50));
        assert_eq!(fixed.delay(1, 0.3), Duration::from_millis(50));
        assert_eq!(fixed.delay(9, 0.9), Duration::from_millis(50));
    }

    #[test]
    fn the_breaker_opens_fails_fast_then_probes_half_open() {
        let t0 = Instant::now();
        let mut breaker = CircuitBreaker::new(
            3,
            Backoff::exponential(Duration::from_secs(1), Duration::from_secs(300)),
        );
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        assert!(breaker.permits(t0));
        breaker.failed(t0, 0.0);
        assert!(!breaker.permits(t0), "backing off");
        assert_eq!(breaker.state(t0), BreakerState::Closed);
        breaker.failed(t0, 0.0);
        let third = breaker.failed(t0, 0.5);
        assert_eq!(third, Duration::from_secs(3));
        assert_eq!(breaker.state(t0), BreakerState::Open);
        assert!(!breaker.permits(t0 + Duration::from_secs(2)));
        let later = t0 + Duration::from_secs(4);
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        assert!(breaker.permits(later));
        breaker.succeeded();
        assert_eq!(breaker.state(later), BreakerState::Closed);
    }

    #[test]
    fn retry_stops_at_the_first_success_or_the_last_attempt() {
        let mut slept = Vec::new();
        let mut calls = 0;
        let outcome = retry(
            5,
            Backoff::fixed(Duration::from_millis(10)),
            || 0.0,
            |d| slept.push(d),
            || {
                calls += 1;
                if calls < 3 { Err("no") } else { Ok(calls) }
            },
        );
        assert_eq!(outcome.result, Ok(3));
        assert_eq!(outcome.attempts, 3);
        assert_eq!(outcome.waited, Duration::from_millis(20));
        assert_eq!(slept.len(), 2);
        let failing: Retried<(), &str> = retry(
            2,
            Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)),
            || 0.0,
            |_| {},
            || Err("down"),
        );
        assert_eq!(failing.result, Err("down"));
        assert_eq!(failing.attempts, 2);
        assert_eq!(failing.waited, Duration::from_millis(5));
    }
}
