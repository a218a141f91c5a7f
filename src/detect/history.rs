//! History analysis of one series (run medians over time, or any series a user feeds to
//! `perfwarden analyze`): change points and drift.
//!
//! - change points: E-divisive means with a Welch t-test (p < 0.001), cross-checked with
//!   binary segmentation (see `stats::changepoint`);
//! - drift: Mann-Kendall at p < 0.01 plus the Theil–Sen slope; a drift counts when the
//!   slope's change over the series reaches the tolerance (default 5%) of the median level.
//!
//! Every finding is labelled `worse` or `better` in the series' declared direction.

use crate::model::history::{LabelledChangePoint, Movement, SeriesAnalysis, Trend};
use crate::model::metric::Direction;
use crate::stats;

/// Significance for a Mann-Kendall drift.
pub(crate) const DRIFT_MAX_P: f64 = 0.01;
/// Default relative change over the window for a drift to count (the tests' tolerance).
#[cfg(test)]
pub(crate) const DEFAULT_TOLERANCE: f64 = 0.05;

fn movement(direction: Direction, relative: f64) -> Movement {
    if direction.is_worse(0.0, relative) {
        Movement::Worse
    } else {
        Movement::Better
    }
}

/// Analyses `values`, optionally at `times` (same length, increasing).
pub(crate) fn analyze(
    values: &[f64],
    times: Option<&[f64]>,
    direction: Direction,
    tolerance: f64,
) -> SeriesAnalysis {
    let change_points = stats::change_points(values, stats::changepoint::DEFAULT_MAX_P)
        .into_iter()
        .map(|point| LabelledChangePoint {
            movement: movement(direction, point.relative_change),
            point,
        })
        .collect();
    let positions: Vec<f64> = match times {
        Some(t) => t.to_vec(),
        None => (0..values.len()).map(|i| i as f64).collect(),
    };
    let trend = stats::mann_kendall(values).and_then(|mk| {
        let slope = stats::theil_sen(&positions, values)?;
        let span = positions.last()? - positions.first()?;
        let level = stats::median(values);
        let relative = if level != 0.0 {
            slope * span / level.abs()
        } else {
            0.0
        };
        Some(Trend {
            mann_kendall_s: mk.s,
            mann_kendall_z: mk.z,
            p_value: mk.p,
            slope,
            relative_change_over_window: relative,
            drift: mk.p < DRIFT_MAX_P && relative.abs() >= tolerance,
            movement: movement(direction, relative),
        })
    });
    SeriesAnalysis {
        points: values.len(),
        direction,
        change_points,
        trend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_step_up_is_worse_and_a_throughput_step_up_is_better() {
        let series: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 100.0 } else { 130.0 } + (i % 3) as f64)
            .collect();
        let latency = analyze(&series, None, Direction::LowerIsBetter, DEFAULT_TOLERANCE);
        assert_eq!(latency.change_points.len(), 1);
        assert_eq!(latency.change_points[0].point.index, 10);
        assert_eq!(latency.change_points[0].movement, Movement::Worse);
        let throughput = analyze(&series, None, Direction::HigherIsBetter, DEFAULT_TOLERANCE);
        assert_eq!(throughput.change_points[0].movement, Movement::Better);
    }

    #[test]
    fn a_slow_drift_is_a_drift_and_noise_is_not() {
        let drifting: Vec<f64> = (0..30)
            .map(|i| 100.0 * (1.0 - 0.004 * i as f64) + (i % 4) as f64 * 0.2)
            .collect();
        let trend = analyze(
            &drifting,
            None,
            Direction::HigherIsBetter,
            DEFAULT_TOLERANCE,
        )
        .trend
        .unwrap();
        assert!(trend.drift, "{trend:?}");
        assert_eq!(trend.movement, Movement::Worse);
        assert!(
            (trend.relative_change_over_window + 0.116).abs() < 0.02,
            "{trend:?}"
        );

        let flat: Vec<f64> = (0..30)
            .map(|i| 100.0 + ((i * 7) % 5) as f64 * 0.3)
            .collect();
        let trend = analyze(&flat, None, Direction::HigherIsBetter, DEFAULT_TOLERANCE)
            .trend
            .unwrap();
        assert!(!trend.drift, "{trend:?}");
    }
}
