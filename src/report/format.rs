//! Number formatting for people: values scaled to a readable prefix with their unit,
//! signed percentages, and sparklines.

use crate::model::metric::{MetricDef, Quantity};

/// The divisor and unit label that make `v` readable: bytes/s use binary prefixes
/// (`GiB/s`), operations SI prefixes (`k events/s`), seconds `ns`, `µs`, `ms`, `s`.
fn scale(v: f64, metric: &MetricDef) -> (f64, String) {
    let a = v.abs();
    match metric.quantity {
        Quantity::Duration | Quantity::Time => {
            if a >= 1.0 || a == 0.0 {
                (1.0, "s".into())
            } else if a >= 1e-3 {
                (1e-3, "ms".into())
            } else if a >= 1e-6 {
                (1e-6, "µs".into())
            } else {
                (1e-9, "ns".into())
            }
        }
        Quantity::Ratio => (1.0, "×".into()),
        Quantity::Size => prefixed(a, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB"]),
        Quantity::Bandwidth => prefixed(a, 1024.0, &["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"]),
        Quantity::Throughput => {
            let (divisor, prefix) = prefixed(a, 1000.0, &["", "k ", "M ", "G ", "T "]);
            (divisor, format!("{prefix}{}", metric.display_unit()))
        }
    }
}

/// The largest of `labels` (steps of `base`) under which `a` stays at least 1, with its
/// divisor.
fn prefixed(a: f64, base: f64, labels: &[&str]) -> (f64, String) {
    let mut i = 0;
    while a / base.powi(i as i32) >= base && i < labels.len() - 1 {
        i += 1;
    }
    (base.powi(i as i32), labels[i].to_string())
}

/// `1234567.0` events/s → `1.235 M events/s`.
pub(crate) fn value(v: f64, metric: &MetricDef) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let (divisor, unit) = scale(v, metric);
    format!("{} {unit}", sig4(v / divisor))
}

/// An interval in one scale: `3.112 – 3.236 k events/s`.
pub(crate) fn range(low: f64, high: f64, metric: &MetricDef) -> String {
    if !low.is_finite() || !high.is_finite() {
        return "-".into();
    }
    let (divisor, unit) = scale(high.abs().max(low.abs()), metric);
    format!("{} – {} {unit}", sig4(low / divisor), sig4(high / divisor))
}

/// A value alone, scaled like [`value`] would scale `reference` (for interval bounds).
pub(crate) fn seconds(v: f64) -> String {
    let a = v.abs();
    if a >= 1.0 {
        format!("{} s", sig4(v))
    } else if a >= 1e-3 {
        format!("{} ms", sig4(v * 1e3))
    } else if a >= 1e-6 {
        format!("{} µs", sig4(v * 1e6))
    } else {
        format!("{} ns", sig4(v * 1e9))
    }
}

/// Four significant digits without trailing noise.
pub(crate) fn sig4(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = v.abs().log10().floor() as i32;
    // Below 0.001 and from 10^10 on, fixed decimals would print `0.000001` or 20 digits.
    if !(-3..10).contains(&digits) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - digits).clamp(0, 6) as usize;
    format!("{v:.decimals$}")
}

/// `0.0312` → `+3.1%`.
pub(crate) fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "-".into();
    }
    format!("{:+.1}%", fraction * 100.0)
}

/// A relative change of a value as every report writes it: signed as the value moved, and
/// the word its metric's direction gives — "-9.5% worse" for a throughput that fell,
/// "+2.9% better" for one that rose, "no change" under 0.05%. The second part is `worse`,
/// `better` or `same`, for colour.
pub(crate) fn value_change(
    relative: f64,
    direction: crate::model::metric::Direction,
) -> (String, &'static str) {
    use crate::model::metric::Direction;
    if !relative.is_finite() {
        return ("-".into(), "same");
    }
    if relative.abs() < 0.0005 {
        return ("no change".into(), "same");
    }
    let worse = match direction {
        Direction::LowerIsBetter => relative > 0.0,
        Direction::HigherIsBetter => relative < 0.0,
    };
    let word = if worse { "worse" } else { "better" };
    (format!("{} {word}", percent(relative)), word)
}

/// A change from earlier runs as every report writes it: [`value_change`] when its 95%
/// interval excludes zero (or "no change" under 0.05%), else the signed change "within
/// noise" (the terminal's "~").
pub(crate) fn run_change(
    change: &crate::detect::Change,
    direction: crate::model::metric::Direction,
) -> (String, &'static str) {
    match change.assessment {
        crate::detect::Assessment::Unchanged
            if change.relative.is_finite() && change.relative.abs() >= 0.0005 =>
        {
            (format!("{} within noise", percent(change.relative)), "same")
        }
        _ => value_change(change.relative, direction),
    }
}

/// How much worse a verdict found a benchmark, as verdicts and regressions state it: the
/// change in the worse direction, "+9.5% worse" (a throughput 9.5% lower or a time 9.5%
/// longer).
pub(crate) fn worse_change(worse: f64) -> String {
    format!("{} worse", percent(worse))
}

/// Eight-level block sparkline of `values` (NaN shown as a space).
pub(crate) fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (Some(min), Some(max)) = (
        finite.iter().copied().reduce(f64::min),
        finite.iter().copied().reduce(f64::max),
    ) else {
        return String::new();
    };
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else if max == min {
                BARS[3]
            } else {
                BARS[(((v - min) / (max - min)) * 7.0).round() as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_within_its_noise_is_said_so_in_every_format() {
        use crate::detect::{Assessment, Change};
        use crate::model::metric::Direction;
        let change = |relative: f64, assessment| Change {
            baseline_runs: vec![1],
            baseline_median: 100.0,
            current_median: 100.0 * (1.0 + relative),
            relative,
            interval: None,
            assessment,
        };
        let throughput = Direction::HigherIsBetter;
        assert_eq!(
            run_change(&change(-0.019, Assessment::Unchanged), throughput),
            ("-1.9% within noise".into(), "same")
        );
        assert_eq!(
            run_change(&change(0.0001, Assessment::Unchanged), throughput),
            ("no change".into(), "same")
        );
        assert_eq!(
            run_change(&change(-0.102, Assessment::Worse), throughput),
            ("-10.2% worse".into(), "worse")
        );
        assert_eq!(
            run_change(&change(-0.05, Assessment::Better), Direction::LowerIsBetter),
            ("-5.0% better".into(), "better")
        );
    }

    #[test]
    fn values_scale_with_their_unit() {
        assert_eq!(
            value(1_234_567.0, &MetricDef::throughput("event")),
            "1.235 M events/s"
        );
        assert_eq!(
            range(3112.0, 3236.0, &MetricDef::throughput("event")),
            "3.112 – 3.236 k events/s"
        );
        assert_eq!(
            value(950.0, &MetricDef::throughput("file")),
            "950.0 files/s"
        );
        assert_eq!(
            value(3.0 * 1024.0 * 1024.0 * 1024.0, &MetricDef::bandwidth()),
            "3.000 GiB/s"
        );
        assert_eq!(value(0.0012, &MetricDef::duration("run")), "1.200 ms");
    }

    #[test]
    fn sparkline_spans_min_to_max() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0]), "▁▅█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn percent_is_signed() {
        assert_eq!(percent(0.031), "+3.1%");
        assert_eq!(percent(-0.2), "-20.0%");
    }
}
