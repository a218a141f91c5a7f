//! What a benchmark's numbers mean: the quantity a sample measures, which direction is
//! better, its units (UCUM for OpenTelemetry, a short form for people), and what a probe
//! records besides its primary metric (latency percentiles, outcomes, secondary
//! measurements). Every layer reads these; only workloads produce them.

use serde::{Deserialize, Serialize};

/// Whether a larger or a smaller value of a metric is better. A regression is always a
/// move in the worse direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    /// `true` when going from `before` to `after` is a move in the worse direction.
    pub(crate) fn is_worse(self, before: f64, after: f64) -> bool {
        match self {
            Direction::HigherIsBetter => after < before,
            Direction::LowerIsBetter => after > before,
        }
    }
}

/// The quantity a sample measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Seconds per iteration (value = elapsed / iterations).
    Duration,
    /// Bytes per second (value = bytes / elapsed).
    Bandwidth,
    /// Operations per second (value = operations / elapsed).
    Throughput,
    /// Seconds the workload measured itself (value = what `run` returned): a command's mean
    /// wall time without its prepare step, a load test's latency percentile over a slice.
    Time,
    /// Bytes (value = what `run` returned): a process's resident memory.
    Size,
    /// A dimensionless ratio the workload computes itself (value = what `run` returned):
    /// a scaling efficiency, a slowdown under mixed load. Its direction says which way is
    /// better.
    Ratio,
}

/// The primary metric of a benchmark: what one sample value means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDef {
    pub quantity: Quantity,
    /// The unit of work, singular (`event`, `file`, `operation`, `byte`).
    pub operation: String,
    pub direction: Direction,
}

impl MetricDef {
    pub fn throughput(operation: &str) -> Self {
        MetricDef {
            quantity: Quantity::Throughput,
            operation: operation.to_string(),
            direction: Direction::HigherIsBetter,
        }
    }

    pub fn bandwidth() -> Self {
        MetricDef {
            quantity: Quantity::Bandwidth,
            operation: "byte".to_string(),
            direction: Direction::HigherIsBetter,
        }
    }

    pub fn duration(operation: &str) -> Self {
        MetricDef {
            quantity: Quantity::Duration,
            operation: operation.to_string(),
            direction: Direction::LowerIsBetter,
        }
    }

    /// A time the workload measures itself (lower is better).
    pub fn time(operation: &str) -> Self {
        MetricDef {
            quantity: Quantity::Time,
            operation: operation.to_string(),
            direction: Direction::LowerIsBetter,
        }
    }

    /// A size in bytes the workload reads itself (lower is better).
    pub fn size(operation: &str) -> Self {
        MetricDef {
            quantity: Quantity::Size,
            operation: operation.to_string(),
            direction: Direction::LowerIsBetter,
        }
    }

    /// A dimensionless ratio the workload computes itself; `operation` names it
    /// (`efficiency`, `slowdown`).
    pub fn ratio(operation: &str, direction: Direction) -> Self {
        MetricDef {
            quantity: Quantity::Ratio,
            operation: operation.to_string(),
            direction,
        }
    }

    /// The UCUM unit, as set on OpenTelemetry instruments: `s`, `By/s`, `{event}/s`.
    pub fn ucum(&self) -> String {
        match self.quantity {
            Quantity::Duration | Quantity::Time => "s".to_string(),
            Quantity::Size => "By".to_string(),
            Quantity::Ratio => "1".to_string(),
            Quantity::Bandwidth => "By/s".to_string(),
            Quantity::Throughput => format!("{{{}}}/s", self.operation),
        }
    }

    /// Human unit for reports: `s`, `B/s`, `events/s`.
    pub(crate) fn display_unit(&self) -> String {
        match self.quantity {
            Quantity::Duration | Quantity::Time => "s".to_string(),
            Quantity::Size => "B".to_string(),
            Quantity::Ratio => "×".to_string(),
            Quantity::Bandwidth => "B/s".to_string(),
            Quantity::Throughput => format!("{}s/s", self.operation),
        }
    }

    /// Turns one timed sample into the metric's value.
    pub fn value(&self, units: f64, iterations: u64, elapsed_secs: f64) -> f64 {
        match self.quantity {
            Quantity::Duration => elapsed_secs / iterations.max(1) as f64,
            Quantity::Bandwidth | Quantity::Throughput => units / elapsed_secs,
            Quantity::Time | Quantity::Size | Quantity::Ratio => units,
        }
    }
}

/// Per-operation latency percentiles in seconds (from the HDR histogram).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// What a workload measured besides its primary metric: how the operations it attempted
/// ended (load tests, Redis, commands) and secondary measurements (user and system time,
/// peak memory, bytes/s). Covers the measured samples only, not the warm-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<Outcomes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
}

/// Attempted operations and failures by class (`connect`, `timeout`, `status`, `body`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    pub attempted: u64,
    pub failed: std::collections::BTreeMap<String, u64>,
    /// The most recent failure's message, so a report can say what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Outcomes {
    pub(crate) fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Failed / attempted (0 when nothing was attempted).
    pub fn error_ratio(&self) -> f64 {
        if self.attempted == 0 {
            0.0
        } else {
            self.failures() as f64 / self.attempted as f64
        }
    }

    pub(crate) fn class_ratio(&self, class: &str) -> f64 {
        if self.attempted == 0 {
            0.0
        } else {
            self.failed.get(class).copied().unwrap_or(0) as f64 / self.attempted as f64
        }
    }
}

/// One secondary measurement: a name (`user_time`, `peak_rss`), a value and its UCUM unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

impl Measurement {
    pub fn new(name: &str, value: f64, unit: &str) -> Self {
        Measurement {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_defines_worse() {
        assert!(Direction::HigherIsBetter.is_worse(10.0, 9.0));
        assert!(Direction::LowerIsBetter.is_worse(10.0, 11.0));
        assert!(!Direction::LowerIsBetter.is_worse(10.0, 9.0));
    }

    #[test]
    fn units_are_ucum() {
        assert_eq!(MetricDef::throughput("event").ucum(), "{event}/s");
        assert_eq!(MetricDef::bandwidth().ucum(), "By/s");
        assert_eq!(MetricDef::duration("run").ucum(), "s");
    }
}
