//! Monotonic drift over a window of run medians.
//!
//! - [`mann_kendall`]: the Mann-Kendall trend test (Mann 1945, Kendall 1975): S = Σ sign(xⱼ −
//!   xᵢ) over i < j, variance with the tie correction, continuity-corrected z, two-sided
//!   normal p-value — the textbook form used by e.g. `pymannkendall.original_test`.
//! - [`theil_sen`]: the Theil–Sen slope (Theil 1950, Sen 1968), the median of all pairwise
//!   slopes, robust to a few outlying runs.

use statrs::distribution::{ContinuousCDF, Normal};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    pub s: f64,
    pub variance: f64,
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Mann-Kendall test of `values` in time order; `None` with fewer than 3 values.
pub fn mann_kendall(values: &[f64]) -> Option<MannKendall> {
    let n = values.len();
    if n < 3 {
        return None;
    }
    let mut s = 0.0;
    for i in 0..n - 1 {
        for j in i + 1..n {
            s += (values[j] - values[i]).signum() * f64::from(values[j] != values[i]);
        }
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && sorted[end] == sorted[start] {
            end += 1;
        }
        let t = (end - start) as f64;
        tie_term += t * (t - 1.0) * (2.0 * t + 5.0);
        start = end;
    }
    let nf = n as f64;
    let variance = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0;
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

/// Theil–Sen slope of `values` over `times`; `None` with fewer than 2 distinct times.
pub fn theil_sen(times: &[f64], values: &[f64]) -> Option<f64> {
    let mut slopes = Vec::new();
    for i in 0..times.len() {
        for j in i + 1..times.len() {
            if times[j] != times[i] {
                slopes.push((values[j] - values[i]) / (times[j] - times[i]));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    Some(super::median(&slopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISING: [f64; 11] = [5.0, 5.1, 4.9, 5.3, 5.2, 5.6, 5.4, 5.8, 5.7, 6.0, 5.9];

    #[test]
    fn mann_kendall_matches_the_textbook_formula() {
        // Computed with numpy/scipy from the formula in the module doc:
        // S = 43, var = 165, z = 3.2696955654783966, p = 0.0010766328645878014
        let r = mann_kendall(&RISING).unwrap();
        assert_eq!(r.s, 43.0);
        assert_eq!(r.variance, 165.0);
        assert!((r.z - 3.2696955654783966).abs() < 1e-12);
        assert!((r.p - 0.0010766328645878014).abs() < 1e-9, "{}", r.p);
        // With ties: S = -3, var = 183.666…, z = -0.14757569038298454, p = 0.8826776412685254
        let r =
            mann_kendall(&[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]).unwrap();
        assert_eq!(r.s, -3.0);
        assert!((r.variance - 183.66666666666666).abs() < 1e-9);
        assert!((r.p - 0.8826776412685254).abs() < 1e-9, "{}", r.p);
    }

    #[test]
    fn theil_sen_matches_scipy() {
        // scipy.stats.theilslopes(RISING, range(11)).slope == 0.10000000000000009
        let times: Vec<f64> = (0..11).map(f64::from).collect();
        assert!((theil_sen(&times, &RISING).unwrap() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn constant_series_has_no_trend() {
        let r = mann_kendall(&[3.0; 10]).unwrap();
        assert_eq!(r.s, 0.0);
        assert_eq!(r.p, 1.0);
    }
}
