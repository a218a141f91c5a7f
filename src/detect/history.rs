//! History analysis of one series (run medians over time, or any series a user feeds to
//! `perfwarden analyze`): level shifts and drift, told apart.
//!
//! - level shifts: the trend-plus-steps segmentation of `stats::changepoint` (one robust
//!   noise scale, lone outliers set aside, AR(1) noise, PELT with a BIC penalty, a common
//!   slope when it explains the data better than more steps);
//! - drift: Mann-Kendall at p < 0.01 (its variance corrected for the noise's
//!   autocorrelation) with the Theil–Sen slope, over the series with the level shifts taken
//!   out, so a step is reported as a step and not also as a drift; a drift counts when the
//!   slope's change over the series reaches the tolerance (default 5%) of the median level.
//!   A shift that accounts for all of the series' apparent drift says so
//!   (`explains_drift`).
//!
//! Every finding is labelled `worse` or `better` in the series' declared direction. The
//! daemon's verdicts, `report` and `analyze` all call [`analyze`].

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

/// Mann-Kendall and Theil–Sen over `values` at `positions`.
fn trend(
    values: &[f64],
    positions: &[f64],
    rho: f64,
    direction: Direction,
    tolerance: f64,
) -> Option<Trend> {
    let mk = stats::mann_kendall(values, rho)?;
    let slope = stats::theil_sen(positions, values)?;
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
}

/// The series' typical magnitude: the median of |value| (else the largest |value|, else
/// 1). The analysis runs on the values divided by it, so its findings do not depend on
/// the unit: squared errors of values near 1e80 overflow and those near 1e-200 vanish.
fn magnitude(values: &[f64]) -> f64 {
    let absolute: Vec<f64> = values.iter().map(|v| v.abs()).collect();
    let median = stats::median(&absolute);
    if median.is_finite() && median > 0.0 {
        return median;
    }
    let largest = absolute.iter().copied().fold(0.0, f64::max);
    if largest.is_finite() && largest > 0.0 {
        largest
    } else {
        1.0
    }
}

/// Analyses `values`, optionally at `times` (same length, increasing). Levels, slopes and
/// the noise scale are in the values' unit; the analysis itself is scale-free
/// ([`magnitude`]).
pub(crate) fn analyze(
    values: &[f64],
    times: Option<&[f64]>,
    direction: Direction,
    tolerance: f64,
) -> SeriesAnalysis {
    let scale = magnitude(values);
    let scaled: Vec<f64> = values.iter().map(|v| v / scale).collect();
    let mut analysis = analyze_scaled(&scaled, times, direction, tolerance);
    for labelled in &mut analysis.change_points {
        labelled.point.mean_before *= scale;
        labelled.point.mean_after *= scale;
    }
    if let Some(trend) = &mut analysis.trend {
        trend.slope *= scale;
    }
    analysis.noise_scale *= scale;
    analysis
}

fn analyze_scaled(
    values: &[f64],
    times: Option<&[f64]>,
    direction: Direction,
    tolerance: f64,
) -> SeriesAnalysis {
    let fit = stats::changepoint::segment(values);
    let positions: Vec<f64> = match times {
        Some(t) => t.to_vec(),
        None => (0..values.len()).map(|i| i as f64).collect(),
    };
    // The series without its outliers and with each level shift taken out (the points
    // after a shift moved back by its jump).
    let mut adjusted = Vec::with_capacity(values.len());
    let mut adjusted_positions = Vec::with_capacity(values.len());
    let mut raw = Vec::with_capacity(values.len());
    let mut offset = 0.0;
    let mut next_shift = fit.change_points.iter().zip(&fit.jumps).peekable();
    let mut outliers = fit.outliers.iter().peekable();
    for (i, (&v, &p)) in values.iter().zip(&positions).enumerate() {
        while let Some((_, jump)) = next_shift.next_if(|(c, _)| c.index <= i) {
            offset += jump;
        }
        if outliers.next_if_eq(&&i).is_some() {
            continue;
        }
        adjusted.push(v - offset);
        adjusted_positions.push(p);
        raw.push(v);
    }
    let rho = fit.autocorrelation;
    let drift = trend(&adjusted, &adjusted_positions, rho, direction, tolerance);
    let apparent = trend(&raw, &adjusted_positions, rho, direction, tolerance);
    let explained = !fit.change_points.is_empty()
        && apparent.as_ref().is_some_and(|t| t.drift)
        && drift.as_ref().is_none_or(|t| !t.drift);
    let change_points = fit
        .change_points
        .into_iter()
        .map(|point| LabelledChangePoint {
            movement: movement(direction, point.relative_change),
            explains_drift: explained,
            point,
        })
        .collect();
    SeriesAnalysis {
        points: values.len(),
        direction,
        change_points,
        trend: drift,
        noise_scale: fit.noise_scale,
        autocorrelation: rho,
        outliers: fit.outliers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_do_not_depend_on_the_unit() {
        let series: Vec<f64> = (0..30)
            .map(|i| if i < 18 { 1.0 } else { 1.19 } * (1.0 + 0.01 * ((i * 7 % 5) as f64 - 2.0)))
            .collect();
        let reference = analyze(&series, None, Direction::LowerIsBetter, DEFAULT_TOLERANCE);
        assert_eq!(reference.change_points.len(), 1, "{reference:?}");
        for scale in [1e-200, 1e-6, 1e6, 1e80, 1e300] {
            let scaled: Vec<f64> = series.iter().map(|v| v * scale).collect();
            let analysis = analyze(&scaled, None, Direction::LowerIsBetter, DEFAULT_TOLERANCE);
            assert_eq!(
                analysis.change_points.len(),
                1,
                "at {scale:e}: {analysis:?}"
            );
            let (a, b) = (
                &analysis.change_points[0].point,
                &reference.change_points[0].point,
            );
            assert_eq!(a.index, b.index, "at {scale:e}");
            assert!(
                (a.relative_change - b.relative_change).abs() < 1e-9,
                "at {scale:e}"
            );
            assert!((a.mean_before / scale - b.mean_before).abs() < 1e-9 * b.mean_before);
            assert!((analysis.noise_scale / scale - reference.noise_scale).abs() < 1e-9);
        }
    }

    #[test]
    fn a_latency_step_up_is_worse_and_a_throughput_step_up_is_better() {
        let series: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 100.0 } else { 130.0 } + (i % 3) as f64)
            .collect();
        let latency = analyze(&series, None, Direction::LowerIsBetter, DEFAULT_TOLERANCE);
        assert!(
            latency.trend.as_ref().is_some_and(|t| !t.drift),
            "{latency:?}"
        );
        assert!(latency.change_points[0].explains_drift, "{latency:?}");
        assert_eq!(latency.change_points.len(), 1);
        assert_eq!(latency.change_points[0].point.index, 10);
        assert_eq!(latency.change_points[0].movement, Movement::Worse);
        let throughput = analyze(&series, None, Direction::HigherIsBetter, DEFAULT_TOLERANCE);
        assert_eq!(throughput.change_points[0].movement, Movement::Better);
    }

    #[test]
    fn a_slow_drift_is_a_drift_and_noise_is_not() {
        let noise = crate::stats::gaussian(30, 5);
        let drifting: Vec<f64> = (0..30)
            .map(|i| 100.0 * (1.0 - 0.004 * i as f64) + 0.5 * noise[i])
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

        let flat: Vec<f64> = noise.iter().map(|v| 100.0 + 0.5 * v).collect();
        let trend = analyze(&flat, None, Direction::HigherIsBetter, DEFAULT_TOLERANCE)
            .trend
            .unwrap();
        assert!(!trend.drift, "{trend:?}");
    }
}
