//! SLO thresholds per benchmark, in the spirit of k6 thresholds:
//! `slo = ["median > 3000/s", "latency_p99 < 5ms", "cv < 5%"]`.
//!
//! An expression is `STATISTIC OP VALUE[UNIT]` with OP one of `<`, `<=`, `>`, `>=`.
//! Statistics:
//! - of the samples, in the benchmark's unit: `median`, `mean`, `min`, `max`, `p95`, `p99`
//!   (and `throughput`, `bandwidth`, `duration`, `size` or `ratio`, the median under its
//!   quantity's name);
//! - `cv`, the coefficient of variation (a ratio: `5%` or `0.05`);
//! - per-operation latency, for probes that record it (`disk.files`, `cache.local`):
//!   `latency_p50`, `latency_p90`, `latency_p95`, `latency_p99`, `latency_p999`,
//!   `latency_max`;
//! - `error_ratio`, for the load-test probes that measure errors.
//!
//! Units: durations `ns`, `us`/`µs`, `ms`, `s`, `m`; operations per second `/s` (as
//! `5000/s`); bandwidth `B/s`, `KB/s`, `MB/s`, `GB/s`, `KiB/s`, `MiB/s`, `GiB/s`; ratios `%` or a
//! bare number. A unit that does not fit the statistic is a config error with its column;
//! so is anything malformed. SLOs are evaluated on every run and reported apart from
//! regressions.

use serde::{Deserialize, Serialize};

use crate::model::metric::{MetricDef, Quantity};
use crate::model::records::BenchmarkResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
}

impl Comparison {
    fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Comparison::Less => actual < threshold,
            Comparison::LessOrEqual => actual <= threshold,
            Comparison::Greater => actual > threshold,
            Comparison::GreaterOrEqual => actual >= threshold,
        }
    }
}

/// What kind of number a statistic or a threshold is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Seconds,
    PerSecond,
    BytesPerSecond,
    Bytes,
    Ratio,
}

impl Kind {
    fn of(quantity: Quantity) -> Kind {
        match quantity {
            Quantity::Duration | Quantity::Time => Kind::Seconds,
            Quantity::Throughput => Kind::PerSecond,
            Quantity::Bandwidth => Kind::BytesPerSecond,
            Quantity::Size => Kind::Bytes,
            Quantity::Ratio => Kind::Ratio,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Seconds => "a duration (e.g. 200ms)",
            Kind::PerSecond => "a rate (e.g. 5000/s)",
            Kind::BytesPerSecond => "a bandwidth (e.g. 500MiB/s)",
            Kind::Bytes => "a size (e.g. 512MiB)",
            Kind::Ratio => "a ratio (e.g. 5% or 0.05)",
        }
    }
}

/// A parsed SLO expression; `threshold` is in SI units (seconds, 1/s, bytes/s, fraction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub expression: String,
    pub statistic: String,
    pub comparison: Comparison,
    pub threshold: f64,
}

/// A malformed expression: the column (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SloError {
    pub column: usize,
    pub message: String,
}

const STATISTICS: &[&str] = &[
    "median",
    "mean",
    "min",
    "max",
    "p95",
    "p99",
    "throughput",
    "bandwidth",
    "duration",
    "size",
    "ratio",
    "cv",
    "latency_p50",
    "latency_p90",
    "latency_p95",
    "latency_p99",
    "latency_p999",
    "latency_max",
    "error_ratio",
];

/// What a probe records besides its samples, which decides the statistics an SLO may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Records {
    /// Per-operation latency (`latency_*`).
    pub latency: bool,
    /// Failed operations (`error_ratio`).
    pub errors: bool,
}

impl From<bool> for Records {
    fn from(latency: bool) -> Records {
        Records {
            latency,
            errors: false,
        }
    }
}

fn statistic_kind(statistic: &str, metric: &MetricDef, records: Records) -> Result<Kind, String> {
    let has_latency = records.latency;
    match statistic {
        "median" | "mean" | "min" | "max" | "p95" | "p99" => Ok(Kind::of(metric.quantity)),
        "throughput" | "bandwidth" | "duration" | "size" | "ratio" => {
            let wanted = match metric.quantity {
                Quantity::Throughput => "throughput",
                Quantity::Bandwidth => "bandwidth",
                Quantity::Duration | Quantity::Time => "duration",
                Quantity::Size => "size",
                Quantity::Ratio => "ratio",
            };
            if statistic == wanted {
                Ok(Kind::of(metric.quantity))
            } else {
                Err(format!(
                    "this benchmark measures {}, not {statistic}; use `{wanted}` or `median`",
                    metric.display_unit()
                ))
            }
        }
        "cv" => Ok(Kind::Ratio),
        s if s.starts_with("latency_") => {
            if has_latency {
                Ok(Kind::Seconds)
            } else {
                Err(format!(
                    "this probe records no per-operation latency; use `p95`/`p99` of the samples ({})",
                    metric.display_unit()
                ))
            }
        }
        "error_ratio" if records.errors => Ok(Kind::Ratio),
        "error_ratio" => Err("this probe does not measure errors (only load tests do)".into()),
        other => Err(format!(
            "unknown statistic `{other}`; one of: {}",
            STATISTICS.join(", ")
        )),
    }
}

/// Parses `expression` for a benchmark with `metric` (and per-operation latency when
/// `has_latency`).
pub(crate) fn parse(
    expression: &str,
    metric: &MetricDef,
    records: impl Into<Records>,
) -> Result<Slo, SloError> {
    let records = records.into();
    let chars: Vec<char> = expression.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let err = |column: usize, message: String| SloError { column, message };
    skip_ws(&mut i);
    let start = i;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    if start == i {
        return Err(err(
            start + 1,
            "expected a statistic such as `median` or `latency_p99`".into(),
        ));
    }
    let statistic: String = chars[start..i].iter().collect();
    let kind = statistic_kind(&statistic, metric, records).map_err(|m| err(start + 1, m))?;
    skip_ws(&mut i);
    let op_column = i + 1;
    let comparison = match (chars.get(i), chars.get(i + 1)) {
        (Some('<'), Some('=')) => {
            i += 2;
            Comparison::LessOrEqual
        }
        (Some('>'), Some('=')) => {
            i += 2;
            Comparison::GreaterOrEqual
        }
        (Some('<'), _) => {
            i += 1;
            Comparison::Less
        }
        (Some('>'), _) => {
            i += 1;
            Comparison::Greater
        }
        _ => return Err(err(op_column, "expected `<`, `<=`, `>` or `>=`".into())),
    };
    skip_ws(&mut i);
    let number_start = i;
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_') {
        i += 1;
    }
    let number_text: String = chars[number_start..i]
        .iter()
        .filter(|c| **c != '_')
        .collect();
    let number: f64 = number_text
        .parse()
        .map_err(|_| err(number_start + 1, "expected a number".into()))?;
    skip_ws(&mut i);
    let unit_start = i;
    let unit: String = chars[i..].iter().collect::<String>().trim_end().to_string();
    let (unit_kind, factor) = match unit.as_str() {
        "" => (None, 1.0),
        "%" => (Some(Kind::Ratio), 0.01),
        "ns" => (Some(Kind::Seconds), 1e-9),
        "us" | "µs" => (Some(Kind::Seconds), 1e-6),
        "ms" => (Some(Kind::Seconds), 1e-3),
        "s" => (Some(Kind::Seconds), 1.0),
        "m" | "min" => (Some(Kind::Seconds), 60.0),
        "/s" => (Some(Kind::PerSecond), 1.0),
        "B/s" => (Some(Kind::BytesPerSecond), 1.0),
        "KB/s" | "kB/s" => (Some(Kind::BytesPerSecond), 1e3),
        "MB/s" => (Some(Kind::BytesPerSecond), 1e6),
        "GB/s" => (Some(Kind::BytesPerSecond), 1e9),
        "KiB/s" => (Some(Kind::BytesPerSecond), 1024.0),
        "MiB/s" => (Some(Kind::BytesPerSecond), 1024.0 * 1024.0),
        "GiB/s" => (Some(Kind::BytesPerSecond), 1024.0 * 1024.0 * 1024.0),
        "B" => (Some(Kind::Bytes), 1.0),
        "KiB" => (Some(Kind::Bytes), 1024.0),
        "MiB" => (Some(Kind::Bytes), 1024.0 * 1024.0),
        "GiB" => (Some(Kind::Bytes), 1024.0 * 1024.0 * 1024.0),
        other => {
            return Err(err(
                unit_start + 1,
                format!(
                    "unknown unit `{other}`; use a duration (ms, s), /s, a bandwidth (MiB/s) or %"
                ),
            ));
        }
    };
    match unit_kind {
        Some(k) if k != kind => {
            return Err(err(
                unit_start + 1,
                format!("`{statistic}` is {}, not {}", kind.describe(), k.describe()),
            ));
        }
        None if kind != Kind::Ratio => {
            return Err(err(
                unit_start + 1,
                format!(
                    "the threshold needs a unit: `{statistic}` is {}",
                    kind.describe()
                ),
            ));
        }
        _ => {}
    }
    Ok(Slo {
        expression: expression.trim().to_string(),
        statistic,
        comparison,
        threshold: number * factor,
    })
}

/// The outcome of one SLO on one result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloOutcome {
    #[serde(flatten)]
    pub slo: Slo,
    /// The measured value in SI units; `null` when the run has no such statistic.
    pub actual: Option<f64>,
    /// `null` when it could not be evaluated (failed benchmark).
    pub met: Option<bool>,
}

fn actual(statistic: &str, result: &BenchmarkResult) -> Option<f64> {
    let summary = result.summary.as_ref()?;
    let latency = result.latency.as_ref();
    match statistic {
        "median" | "throughput" | "bandwidth" | "duration" | "size" => Some(summary.median),
        "mean" => Some(summary.mean),
        "min" => Some(summary.min),
        "max" => Some(summary.max),
        "p95" => Some(summary.p95),
        "p99" => Some(summary.p99),
        "cv" => Some(summary.cv),
        "latency_p50" => latency.map(|l| l.p50),
        "latency_p90" => latency.map(|l| l.p90),
        "latency_p95" => latency.map(|l| l.p95),
        "latency_p99" => latency.map(|l| l.p99),
        "latency_p999" => latency.map(|l| l.p999),
        "latency_max" => latency.map(|l| l.max),
        "error_ratio" => result
            .details
            .as_ref()
            .and_then(|d| d.outcomes.as_ref())
            .map(|o| o.error_ratio()),
        _ => None,
    }
}

/// Evaluates the result's SLOs (expressions were validated with the config); `records`
/// is what the result's kind records.
pub(crate) fn evaluate(result: &BenchmarkResult, mut records: Records) -> Vec<SloOutcome> {
    records.latency |= result.latency.is_some();
    result
        .options
        .slo
        .iter()
        .filter_map(|expression| parse(expression, &result.metric, records).ok())
        .map(|slo| {
            let value = actual(&slo.statistic, result);
            SloOutcome {
                met: value.map(|v| slo.comparison.holds(v, slo.threshold)),
                actual: value,
                slo,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throughput() -> MetricDef {
        MetricDef::throughput("event")
    }

    #[test]
    fn expressions_parse_to_si_thresholds() {
        let slo = parse("median > 3000/s", &throughput(), false).unwrap();
        assert_eq!(slo.comparison, Comparison::Greater);
        assert_eq!(slo.threshold, 3000.0);
        let slo = parse(" latency_p99 <= 5ms ", &throughput(), true).unwrap();
        assert_eq!(slo.threshold, 0.005);
        assert_eq!(slo.comparison, Comparison::LessOrEqual);
        assert_eq!(
            parse("cv < 5%", &throughput(), false).unwrap().threshold,
            0.05
        );
        assert_eq!(
            parse("cv < 0.05", &throughput(), false).unwrap().threshold,
            0.05
        );
        let bw = parse("bandwidth >= 1GiB/s", &MetricDef::bandwidth(), false).unwrap();
        assert_eq!(bw.threshold, 1024.0 * 1024.0 * 1024.0);
        let d = parse("p99 < 200ms", &MetricDef::duration("run"), false).unwrap();
        assert_eq!(d.threshold, 0.2);
        let efficiency = MetricDef::ratio(
            "efficiency",
            crate::model::metric::Direction::HigherIsBetter,
        );
        assert_eq!(
            parse("median > 80%", &efficiency, false).unwrap().threshold,
            0.8
        );
        assert_eq!(
            parse("ratio >= 0.9", &efficiency, false).unwrap().threshold,
            0.9
        );
        let e = parse("median > 5/s", &efficiency, false).unwrap_err();
        assert!(e.message.contains("is a ratio"), "{e:?}");
    }

    #[test]
    fn malformed_expressions_name_the_column() {
        let e = parse("median >> 5/s", &throughput(), false).unwrap_err();
        assert_eq!(e.column, 9, "{e:?}");
        let e = parse("p99 < 200ms", &throughput(), false).unwrap_err();
        assert_eq!(e.column, 10);
        assert!(e.message.contains("is a rate"), "{e:?}");
        let e = parse("median = 5/s", &throughput(), false).unwrap_err();
        assert_eq!(e.column, 8);
        let e = parse("median > fast", &throughput(), false).unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (10, "expected a number"));
        let e = parse("medain > 5/s", &throughput(), false).unwrap_err();
        assert_eq!(e.column, 1);
        let e = parse("latency_p99 < 5ms", &throughput(), false).unwrap_err();
        assert!(e.message.contains("no per-operation latency"), "{e:?}");
        let e = parse("median > 3000", &throughput(), false).unwrap_err();
        assert!(e.message.contains("needs a unit"), "{e:?}");
        let e = parse("error_ratio < 0.01", &throughput(), false).unwrap_err();
        assert!(e.message.contains("does not measure errors"));
    }
}
