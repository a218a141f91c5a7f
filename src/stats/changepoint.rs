//! Change points in a series of run medians.
//!
//! **E-divisive means** (Matteson & James 2014, "A Nonparametric Approach for Multiple
//! Change Point Analysis of Multivariate Data", with α = 1), as Apache Otava (Hunter)
//! uses it: find the split τ that maximises the energy statistic
//! q̂(τ) = |X||Y|/(|X|+|Y|) · (2·mean|x−y| − mean|x−x'| − mean|y−y'|), accept it when a
//! Welch t-test between the two sides gives p < `max_p_value` (Hunter replaces the
//! original permutation test with this t-test so results are deterministic), then recurse
//! into both sides. Segments are at least [`MIN_SEGMENT`] points; series shorter than
//! [`MIN_POINTS`] are not analysed. The search is O(n²) per split (running sums).
//!
//! **Binary segmentation** (Scott & Knott 1974; Killick & Eckley's `changepoint` package
//! documents the form used) cross-checks each point: the Gaussian mean-shift statistic
//! τ(n−τ)/n · (mean_L − mean_R)² / σ² with σ estimated robustly from first differences
//! (MAD · 1.4826 / √2), accepted above a penalty of 3·ln n. A change point that both
//! methods find (within one index) is marked `confirmed_by_binseg`.

use serde::{Deserialize, Serialize};

use super::hypothesis::welch_t_test;
use super::summary::{mad, mean};

/// Smallest segment on either side of a change point.
pub(crate) const MIN_SEGMENT: usize = 3;
/// Series shorter than this are not analysed.
pub(crate) const MIN_POINTS: usize = 8;
/// Default significance for accepting a split (Otava/Hunter's default).
pub(crate) const DEFAULT_MAX_P: f64 = 0.001;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Index of the first point of the new segment.
    pub index: usize,
    pub mean_before: f64,
    pub mean_after: f64,
    /// mean_after / mean_before − 1.
    pub relative_change: f64,
    /// Welch t-test p-value between the adjacent segments.
    pub p_value: f64,
    pub confirmed_by_binseg: bool,
}

/// The split of `values` maximising the energy statistic, with its q̂.
fn best_energy_split(values: &[f64]) -> Option<(usize, f64)> {
    let n = values.len();
    if n < 2 * MIN_SEGMENT {
        return None;
    }
    let d = |i: usize, j: usize| (values[i] - values[j]).abs();
    // τ = MIN_SEGMENT initially: X = [0, τ), Y = [τ, n).
    let tau0 = MIN_SEGMENT;
    let mut within_x = 0.0;
    for i in 0..tau0 {
        for k in i + 1..tau0 {
            within_x += d(i, k);
        }
    }
    let mut within_y = 0.0;
    for j in tau0..n {
        for k in j + 1..n {
            within_y += d(j, k);
        }
    }
    let mut between = 0.0;
    for i in 0..tau0 {
        for j in tau0..n {
            between += d(i, j);
        }
    }
    let mut best: Option<(usize, f64)> = None;
    let mut tau = tau0;
    loop {
        let (nx, ny) = (tau as f64, (n - tau) as f64);
        let energy = 2.0 * between / (nx * ny)
            - within_x / (nx * (nx - 1.0) / 2.0)
            - within_y / (ny * (ny - 1.0) / 2.0);
        let q = nx * ny / (nx + ny) * energy;
        if best.is_none_or(|(_, b)| q > b) {
            best = Some((tau, q));
        }
        if tau + 1 > n - MIN_SEGMENT {
            break;
        }
        // Move point `tau` from Y to X.
        let to_left: f64 = (0..tau).map(|i| d(i, tau)).sum();
        let to_right: f64 = (tau + 1..n).map(|k| d(tau, k)).sum();
        within_x += to_left;
        within_y -= to_right;
        between += to_right - to_left;
        tau += 1;
    }
    best
}

fn e_divisive(values: &[f64], offset: usize, max_p: f64, out: &mut Vec<(usize, f64)>) {
    let Some((tau, q)) = best_energy_split(values) else {
        return;
    };
    // No energy at all: the segment is constant (a t-test on it would only see rounding).
    if q <= 0.0 {
        return;
    }
    let (left, right) = values.split_at(tau);
    let Some((_, p)) = welch_t_test(left, right) else {
        return;
    };
    if p >= max_p {
        return;
    }
    out.push((offset + tau, p));
    e_divisive(left, offset, max_p, out);
    e_divisive(right, offset + tau, max_p, out);
}

/// Robust noise scale of a series from its first differences.
fn noise_sigma(values: &[f64]) -> f64 {
    let diffs: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    if diffs.is_empty() {
        return 0.0;
    }
    1.4826 * mad(&diffs) / std::f64::consts::SQRT_2
}

fn binary_segmentation(
    values: &[f64],
    offset: usize,
    sigma: f64,
    penalty: f64,
    out: &mut Vec<usize>,
) {
    let n = values.len();
    if n < 2 * MIN_SEGMENT {
        return;
    }
    let total: f64 = values.iter().sum();
    let mut left_sum = values[..MIN_SEGMENT - 1].iter().sum::<f64>();
    let mut best: Option<(usize, f64)> = None;
    for tau in MIN_SEGMENT..=n - MIN_SEGMENT {
        left_sum += values[tau - 1];
        let (nl, nr) = (tau as f64, (n - tau) as f64);
        let diff = left_sum / nl - (total - left_sum) / nr;
        let stat = nl * nr / n as f64 * diff * diff;
        if best.is_none_or(|(_, b)| stat > b) {
            best = Some((tau, stat));
        }
    }
    let Some((tau, stat)) = best else { return };
    let accepted = if sigma > 0.0 {
        stat / (sigma * sigma) > penalty
    } else {
        stat > 0.0
    };
    if !accepted {
        return;
    }
    out.push(offset + tau);
    binary_segmentation(&values[..tau], offset, sigma, penalty, out);
    binary_segmentation(&values[tau..], offset + tau, sigma, penalty, out);
}

/// Change points of `values` (in time order), sorted by index. Empty under
/// [`MIN_POINTS`] points.
pub fn change_points(values: &[f64], max_p: f64) -> Vec<ChangePoint> {
    if values.len() < MIN_POINTS {
        return Vec::new();
    }
    let mut found = Vec::new();
    e_divisive(values, 0, max_p, &mut found);
    found.sort_by_key(|(index, _)| *index);

    let mut binseg = Vec::new();
    let penalty = 3.0 * (values.len() as f64).ln();
    binary_segmentation(values, 0, noise_sigma(values), penalty, &mut binseg);

    let boundaries: Vec<usize> = std::iter::once(0)
        .chain(found.iter().map(|(i, _)| *i))
        .chain(std::iter::once(values.len()))
        .collect();
    found
        .iter()
        .enumerate()
        .map(|(k, &(index, p_value))| {
            let before = &values[boundaries[k]..index];
            let after = &values[index..boundaries[k + 2]];
            let (mean_before, mean_after) = (mean(before), mean(after));
            ChangePoint {
                index,
                mean_before,
                mean_after,
                relative_change: if mean_before != 0.0 {
                    mean_after / mean_before - 1.0
                } else {
                    f64::NAN
                },
                p_value,
                confirmed_by_binseg: binseg.iter().any(|&b| b.abs_diff(index) <= 1),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn noisy_step(before: f64, after: f64, n_before: usize, n_after: usize) -> Vec<f64> {
        // Deterministic ±0.5% wobble.
        (0..n_before + n_after)
            .map(|i| {
                let level = if i < n_before { before } else { after };
                level * (1.0 + 0.005 * ((i * 7 % 5) as f64 - 2.0) / 2.0)
            })
            .collect()
    }

    #[test]
    fn a_ten_percent_step_is_found_where_it_is() {
        let series = noisy_step(100.0, 110.0, 12, 10);
        let points = change_points(&series, DEFAULT_MAX_P);
        assert_eq!(points.len(), 1, "{points:?}");
        let p = &points[0];
        assert_eq!(p.index, 12);
        assert!((p.relative_change - 0.10).abs() < 0.01, "{p:?}");
        assert!(p.p_value < 1e-6);
        assert!(p.confirmed_by_binseg);
    }

    #[test]
    fn two_steps_are_both_found() {
        let mut series = noisy_step(100.0, 120.0, 10, 10);
        series.extend(noisy_step(90.0, 90.0, 10, 0));
        let points = change_points(&series, DEFAULT_MAX_P);
        let indices: Vec<usize> = points.iter().map(|p| p.index).collect();
        assert_eq!(indices, vec![10, 20]);
    }

    #[test]
    fn short_series_are_skipped() {
        assert!(change_points(&[1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0], DEFAULT_MAX_P).is_empty());
    }

    #[test]
    fn energy_split_matches_brute_force() {
        // The running-sum search must agree with the definition evaluated directly.
        let series: [f64; 11] = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
        let brute = |tau: usize| {
            let (x, y) = series.split_at(tau);
            let mut b = 0.0;
            for a in x {
                for c in y {
                    b += (a - c).abs();
                }
            }
            let pairs = |s: &[f64]| {
                let mut t = 0.0;
                for i in 0..s.len() {
                    for j in i + 1..s.len() {
                        t += (s[i] - s[j]).abs();
                    }
                }
                t / (s.len() * (s.len() - 1) / 2) as f64
            };
            let (nx, ny) = (x.len() as f64, y.len() as f64);
            nx * ny / (nx + ny) * (2.0 * b / (nx * ny) - pairs(x) - pairs(y))
        };
        let (best_tau, best_q) = best_energy_split(&series).unwrap();
        let (brute_tau, brute_q) = (MIN_SEGMENT..=series.len() - MIN_SEGMENT)
            .map(|t| (t, brute(t)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(best_tau, brute_tau);
        assert!((best_q - brute_q).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn constant_series_have_no_change_point(value in -1e6f64..1e6, n in 8usize..60) {
            prop_assert!(change_points(&vec![value; n], DEFAULT_MAX_P).is_empty());
        }

        #[test]
        fn scaling_leaves_change_points_unchanged(scale in 0.001f64..1000.0) {
            let series = noisy_step(100.0, 125.0, 9, 9);
            let scaled: Vec<f64> = series.iter().map(|v| v * scale).collect();
            let a = change_points(&series, DEFAULT_MAX_P);
            let b = change_points(&scaled, DEFAULT_MAX_P);
            prop_assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                prop_assert_eq!(x.index, y.index);
                prop_assert!((x.relative_change - y.relative_change).abs() < 1e-9);
            }
        }
    }
}
