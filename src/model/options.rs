//! Per-benchmark sampling options, as stored with every result: a result is only judged
//! against results taken with comparable options, so the options travel with the data.

use std::time::Duration;

use serde::Deserialize;

/// Sampling options of one benchmark, after defaults are applied. Stored and printed
/// with durations in seconds (`warmup_secs`, …) and the tolerance as a fraction.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct BenchOptions {
    pub samples: usize,
    #[serde(rename = "warmup_secs", with = "as_secs")]
    pub warmup: Duration,
    #[serde(rename = "min_time_secs", with = "as_secs")]
    pub min_time: Duration,
    #[serde(rename = "time_budget_secs", with = "as_secs")]
    pub time_budget: Duration,
    #[serde(rename = "timeout_secs", with = "as_secs")]
    pub timeout: Duration,
    /// Fraction (0.05 for 5%): smallest change called a regression (minor).
    pub tolerance: f64,
    /// A regression whose interval's lower bound reaches this is major (default 15%).
    #[serde(default = "default_major")]
    pub major: f64,
    /// … and critical from this (default 30%).
    #[serde(default = "default_critical")]
    pub critical: f64,
    /// SLO expressions (see `detect::slo`), checked on every run.
    #[serde(default)]
    pub slo: Vec<String>,
}

pub(crate) fn default_major() -> f64 {
    0.15
}

pub(crate) fn default_critical() -> f64 {
    0.30
}

/// Durations as fractional seconds in stored records and JSON output.
mod as_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

impl BenchOptions {
    /// The reduced options of `--quick`: a smoke test of every probe, not a measurement
    /// to compare with full runs' precision (the results are still stored and compared).
    pub fn quick(&self) -> BenchOptions {
        BenchOptions {
            samples: self.samples.min(10),
            warmup: self.warmup.min(Duration::from_millis(200)),
            min_time: self.min_time.min(Duration::from_millis(500)),
            time_budget: self.time_budget.min(Duration::from_secs(5)),
            timeout: self.timeout,
            tolerance: self.tolerance,
            major: self.major,
            critical: self.critical,
            slo: self.slo.clone(),
        }
    }
}
