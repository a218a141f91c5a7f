//! Monotonic drift over a window of run medians, in O(n log n) time and O(n) memory.
//!
//! - [`mann_kendall`]: the Mann-Kendall trend test (Mann 1945, Kendall 1975): S = Σ sign(xⱼ −
//!   xᵢ) over i < j, variance with the tie correction, continuity-corrected z, two-sided
//!   normal p-value — the textbook form used by e.g. `pymannkendall.original_test`. S is
//!   counted by merge sort (concordant minus discordant pairs, Knight 1966), not pair by
//!   pair. Autocorrelated noise makes runs of values move together and S's variance
//!   larger: given the lag-1 autocorrelation ρ of the noise, the variance is multiplied by
//!   Hamed & Rao's (1998) factor 1 + 2/(n(n−1)(n−2)) · Σₖ (n−k)(n−k−1)(n−k−2) ρᵏ (their
//!   modified test with the AR(1) autocorrelations ρᵏ).
//! - [`theil_sen`]: the Theil–Sen slope (Theil 1950, Sen 1968), the median of all pairwise
//!   slopes, robust to a few outlying runs. It is found without listing the pairs: the
//!   number of pairs with a slope below s is the number of inversions of yᵢ − s·tᵢ in time
//!   order, so a bisection over the ordered doubles (at most 64 counts by merge sort) finds
//!   the k-th slope (the counting idea of Cole, Salowe, Steiger & Szemerédi 1989).

use statrs::distribution::{ContinuousCDF, Normal};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    pub s: f64,
    pub variance: f64,
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Strict inversions of `values` (pairs i < j with values[i] > values[j]); sorts it.
fn inversions(values: &mut [f64], scratch: &mut Vec<f64>) -> u64 {
    let n = values.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count = {
        let (left, right) = values.split_at_mut(mid);
        inversions(left, scratch) + inversions(right, scratch)
    };
    scratch.clear();
    let (mut i, mut j) = (0, mid);
    while i < mid && j < n {
        if values[j] < values[i] {
            count += (mid - i) as u64;
            scratch.push(values[j]);
            j += 1;
        } else {
            scratch.push(values[i]);
            i += 1;
        }
    }
    scratch.extend_from_slice(&values[i..mid]);
    scratch.extend_from_slice(&values[j..n]);
    values.copy_from_slice(scratch);
    count
}

/// Σ t(t−1)(2t+5) and Σ t(t−1)/2 over groups of equal values of a sorted slice.
fn tie_groups(sorted: &[f64]) -> (f64, f64) {
    let (mut variance_term, mut pairs) = (0.0, 0.0);
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start + 1;
        while end < sorted.len() && sorted[end] == sorted[start] {
            end += 1;
        }
        let t = (end - start) as f64;
        variance_term += t * (t - 1.0) * (2.0 * t + 5.0);
        pairs += t * (t - 1.0) / 2.0;
        start = end;
    }
    (variance_term, pairs)
}

/// Hamed & Rao's variance factor n/n* for AR(1) noise with lag-1 autocorrelation `rho`.
pub(crate) fn autocorrelation_factor(n: usize, rho: f64) -> f64 {
    if n < 3 || rho <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let mut sum = 0.0;
    let mut rho_k = 1.0;
    for k in 1..n {
        rho_k *= rho;
        if rho_k < 1e-12 {
            break;
        }
        let m = (n - k) as f64;
        sum += m * (m - 1.0) * (m - 2.0) * rho_k;
    }
    1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum
}

/// Mann-Kendall test of `values` in time order, for noise with lag-1 autocorrelation
/// `rho` (0 for independent noise); `None` with fewer than 3 values.
pub fn mann_kendall(values: &[f64], rho: f64) -> Option<MannKendall> {
    let n = values.len();
    if n < 3 {
        return None;
    }
    let mut sorted = values.to_vec();
    let mut scratch = Vec::with_capacity(n);
    let discordant = inversions(&mut sorted, &mut scratch) as f64;
    let (tie_term, tied_pairs) = tie_groups(&sorted);
    let nf = n as f64;
    let pairs = nf * (nf - 1.0) / 2.0;
    let concordant = pairs - tied_pairs - discordant;
    let s = concordant - discordant;
    let variance =
        (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0 * autocorrelation_factor(n, rho);
    let z = if variance <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / variance.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / variance.sqrt()
    } else {
        0.0
    };
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    Some(MannKendall {
        s,
        variance,
        z,
        p: (2.0 * normal.sf(z.abs())).min(1.0),
    })
}

/// Total order of doubles as unsigned integers (negative below positive).
fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_ordered(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Theil–Sen slope of `values` over `times` (non-decreasing); `None` with fewer than 2
/// distinct times.
pub fn theil_sen(times: &[f64], values: &[f64]) -> Option<f64> {
    let n = times.len().min(values.len());
    let (times, values) = (&times[..n], &values[..n]);
    if n < 2 {
        return None;
    }
    let mut sorted_times = times.to_vec();
    sorted_times.sort_by(f64::total_cmp);
    let (_, same_time_pairs) = tie_groups(&sorted_times);
    let pairs = n as f64 * (n as f64 - 1.0) / 2.0 - same_time_pairs;
    if pairs < 1.0 {
        return None;
    }
    if values.iter().all(|&v| v == values[0]) {
        return Some(0.0);
    }
    let pairs = pairs as u64;
    // Every slope lies within ±(value range / smallest time gap).
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let gap = sorted_times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g > 0.0)
        .fold(f64::INFINITY, f64::min);
    let bound = ((high - low) / gap).max(f64::MIN_POSITIVE);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    // Runs of equal times, in time order (usually none).
    let mut groups = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && times[order[end]] == times[order[start]] {
            end += 1;
        }
        if end - start > 1 {
            groups.push((start, end));
        }
        start = end;
    }
    let mut z = Vec::with_capacity(n);
    let mut scratch = Vec::with_capacity(n);
    // Pairs (distinct times) whose slope is below `s`: inversions of y − s·t in time order,
    // with equal times sorted by y − s·t so that they add none.
    let mut below = |s: f64| -> u64 {
        z.clear();
        z.extend(order.iter().map(|&i| values[i] - s * times[i]));
        for &(a, b) in &groups {
            z[a..b].sort_by(f64::total_cmp);
        }
        inversions(&mut z, &mut scratch)
    };
    // The k-th smallest slope (0-based): the largest s with at most k slopes below it.
    let mut kth = |k: u64| -> f64 {
        let (mut lo, mut hi) = (ordered(-bound), ordered(bound));
        if below(from_ordered(hi)) <= k {
            return from_ordered(hi);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if below(from_ordered(mid)) <= k {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        from_ordered(lo)
    };
    Some(if pairs % 2 == 1 {
        kth(pairs / 2)
    } else {
        (kth(pairs / 2 - 1) + kth(pairs / 2)) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISING: [f64; 11] = [5.0, 5.1, 4.9, 5.3, 5.2, 5.6, 5.4, 5.8, 5.7, 6.0, 5.9];

    /// The definitions, pair by pair.
    fn brute_s(values: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..values.len() {
            for j in i + 1..values.len() {
                s += (values[j] - values[i]).signum() * f64::from(values[j] != values[i]);
            }
        }
        s
    }

    fn brute_theil_sen(times: &[f64], values: &[f64]) -> f64 {
        let mut slopes = Vec::new();
        for i in 0..times.len() {
            for j in i + 1..times.len() {
                if times[j] != times[i] {
                    slopes.push((values[j] - values[i]) / (times[j] - times[i]));
                }
            }
        }
        crate::stats::median(&slopes)
    }

    #[test]
    fn mann_kendall_matches_the_textbook_formula() {
        // Computed with numpy/scipy from the formula in the module doc:
        // S = 43, var = 165, z = 3.2696955654783966, p = 0.0010766328645878014
        let r = mann_kendall(&RISING, 0.0).unwrap();
        assert_eq!(r.s, 43.0);
        assert_eq!(r.variance, 165.0);
        assert!((r.z - 3.2696955654783966).abs() < 1e-12);
        assert!((r.p - 0.0010766328645878014).abs() < 1e-9, "{}", r.p);
        // With ties: S = -3, var = 183.666…, z = -0.14757569038298454, p = 0.8826776412685254
        let r = mann_kendall(
            &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0],
            0.0,
        )
        .unwrap();
        assert_eq!(r.s, -3.0);
        assert!((r.variance - 183.66666666666666).abs() < 1e-9);
        assert!((r.p - 0.8826776412685254).abs() < 1e-9, "{}", r.p);
    }

    #[test]
    fn merge_sort_counts_agree_with_the_pairs() {
        let mut x = 0.37f64;
        for n in [3usize, 4, 7, 50, 301] {
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    x = (x * 3.9 * (1.0 - x)).fract();
                    // Rounded so that ties occur.
                    (x * 20.0).round() + i as f64 * 0.1
                })
                .collect();
            assert_eq!(mann_kendall(&values, 0.0).unwrap().s, brute_s(&values));
            let times: Vec<f64> = (0..n).map(|i| (i / 2) as f64).collect();
            let fast = theil_sen(&times, &values).unwrap();
            let slow = brute_theil_sen(&times, &values);
            assert!(
                (fast - slow).abs() <= 1e-9 * slow.abs().max(1.0),
                "{fast} {slow}"
            );
        }
    }

    #[test]
    fn hamed_rao_factor_matches_its_formula_by_hand() {
        // n = 5, ρ = 0.5: 1 + 2/60 · (4·3·2·0.5 + 3·2·1·0.25) = 1 + (12 + 1.5)/30 = 1.45.
        assert!((autocorrelation_factor(5, 0.5) - 1.45).abs() < 1e-12);
        assert_eq!(autocorrelation_factor(50, 0.0), 1.0);
        let plain = mann_kendall(&RISING, 0.0).unwrap();
        let corrected = mann_kendall(&RISING, 0.5).unwrap();
        assert!(corrected.p > plain.p);
    }

    #[test]
    fn theil_sen_matches_scipy() {
        // scipy.stats.theilslopes(RISING, range(11)).slope == 0.10000000000000009
        let times: Vec<f64> = (0..11).map(f64::from).collect();
        assert!((theil_sen(&times, &RISING).unwrap() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn constant_series_has_no_trend() {
        let r = mann_kendall(&[3.0; 10], 0.0).unwrap();
        assert_eq!(r.s, 0.0);
        assert_eq!(r.p, 1.0);
        let times: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(theil_sen(&times, &[3.0; 10]), Some(0.0));
    }

    #[test]
    fn a_million_points_take_linear_memory() {
        let n: usize = 1_000_000;
        let times: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let values: Vec<f64> = (0..n)
            .map(|i| 0.5 * i as f64 + ((i * 7919) % 101) as f64)
            .collect();
        let slope = theil_sen(&times, &values).unwrap();
        assert!((slope - 0.5).abs() < 1e-3, "{slope}");
        assert!(mann_kendall(&values, 0.0).unwrap().p < 1e-12);
    }
}
