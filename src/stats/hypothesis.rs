//! Hypothesis tests used by the verdicts and the change-point search.
//!
//! - [`mann_whitney_greater`]: one-sided Mann-Whitney U with the normal approximation, tie
//!   correction and continuity correction — the same computation as
//!   `scipy.stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")`.
//!   Implemented here because statrs 0.19's exact Mann-Whitney p-value is wrong in one tail.
//! - [`benjamini_hochberg`]: adjusted p-values controlling the false discovery rate over
//!   the benchmarks of one suite run (Benjamini & Hochberg 1995, step-up).
//! - [`welch_t_test`]: two-sided Welch t-test (unequal variances, Welch–Satterthwaite
//!   degrees of freedom), as `scipy.stats.ttest_ind(equal_var=False)`.
//! - [`prediction_bound`]: one-sided bound for one new observation from a normal sample,
//!   mean ± t(1−α, n−1) · s · √(1 + 1/n) (e.g. Hahn & Meeker, "Statistical Intervals").

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use super::summary::{mean, std_dev};

/// Result of a one-sided Mann-Whitney test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample.
    pub u: f64,
    pub z: f64,
    /// P(the first sample is not stochastically greater); small means "greater".
    pub p: f64,
}

/// Average ranks (1-based) of `values`, ties sharing their mean rank, plus Σ(t³ − t) over
/// tie groups.
fn ranks_with_ties(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0; // mean of ranks start+1 ..= end
        for &index in &order[start..end] {
            ranks[index] = average;
        }
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    (ranks, tie_term)
}

/// Tests whether `x` is stochastically greater than `y`. `None` when either side is empty
/// or all values are equal.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let combined: Vec<f64> = x.iter().chain(y).copied().collect();
    let (ranks, tie_term) = ranks_with_ties(&combined);
    let r1: f64 = ranks[..x.len()].iter().sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let sigma = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    if sigma.is_nan() || sigma <= 0.0 {
        return None;
    }
    let z = (u - n1 * n2 / 2.0 - 0.5) / sigma;
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    Some(MannWhitney {
        u,
        z,
        p: normal.sf(z),
    })
}

/// Benjamini-Hochberg adjusted p-values, in the input order.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running_min: f64 = 1.0;
    for (rank, &index) in order.iter().enumerate().rev() {
        let value = p_values[index] * m as f64 / (rank + 1) as f64;
        running_min = running_min.min(value);
        adjusted[index] = running_min.min(1.0);
    }
    adjusted
}

/// Two-sided Welch t-test; returns (t, p). `None` with fewer than 2 values per side or no
/// variance at all.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (std_dev(a).powi(2) / na, std_dev(b).powi(2) / nb);
    let se = (va + vb).sqrt();
    let diff = mean(a) - mean(b);
    if se == 0.0 {
        // Two constant segments: identical means are no evidence, different ones certain.
        return Some(if diff == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(diff), 0.0)
        });
    }
    let t = diff / se;
    let df = (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((t, (2.0 * dist.sf(t.abs())).min(1.0)))
}

/// The `p` quantile of Student's t with `df` degrees of freedom (the normal one when `df`
/// is not positive and finite).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) if df.is_finite() && df > 0.0 => dist.inverse_cdf(p),
        _ => Normal::new(0.0, 1.0)
            .expect("standard normal")
            .inverse_cdf(p),
    }
}

/// One-sided prediction bound for a new observation: the lower bound (`upper = false`) or
/// upper bound of `values`' normal model at confidence `level`. `None` with fewer than 2
/// values.
pub fn prediction_bound(values: &[f64], level: f64, upper: bool) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(level);
    let half = t * std_dev(values) * (1.0 + 1.0 / n as f64).sqrt();
    let m = mean(values);
    Some(if upper { m + half } else { m - half })
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: [f64; 12] = [
        10.1, 10.4, 9.8, 10.0, 10.3, 10.2, 9.9, 10.5, 10.1, 10.0, 10.2, 10.3,
    ];
    const Y: [f64; 12] = [
        10.6, 10.9, 10.4, 10.8, 10.7, 11.0, 10.5, 10.6, 10.9, 10.8, 10.4, 10.7,
    ];

    #[test]
    fn mann_whitney_matches_scipy() {
        // scipy 1.10.1: mannwhitneyu(Y, X, alternative="greater", method="asymptotic")
        //   → statistic 140.5, pvalue 4.123195656770937e-05
        let r = mann_whitney_greater(&Y, &X).unwrap();
        assert_eq!(r.u, 140.5);
        assert!((r.p - 4.123195656770937e-05).abs() < 1e-12, "{}", r.p);
        // and the other way round → statistic 3.5, pvalue 0.9999676560326062
        let r = mann_whitney_greater(&X, &Y).unwrap();
        assert_eq!(r.u, 3.5);
        assert!((r.p - 0.9999676560326062).abs() < 1e-12, "{}", r.p);
    }

    #[test]
    fn mann_whitney_with_ties_matches_scipy() {
        // scipy: mannwhitneyu(b, a, alternative="greater", method="asymptotic")
        //   → 72.5, 0.04570788507470821
        let a = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0];
        let b = [2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 8.0];
        let r = mann_whitney_greater(&b, &a).unwrap();
        assert_eq!(r.u, 72.5);
        // statrs' normal CDF agrees with scipy's to about 1e-11 here.
        assert!((r.p - 0.04570788507470821).abs() < 1e-10, "{}", r.p);
    }

    #[test]
    fn mann_whitney_does_not_depend_on_order() {
        let mut shuffled = Y;
        shuffled.reverse();
        assert_eq!(
            mann_whitney_greater(&Y, &X),
            mann_whitney_greater(&shuffled, &X)
        );
        assert!(mann_whitney_greater(&[1.0; 5], &[1.0; 5]).is_none());
    }

    #[test]
    fn benjamini_hochberg_by_hand() {
        // m = 4, sorted p = 0.01, 0.02, 0.03, 0.5: m·p/rank = 0.04, 0.04, 0.04, 0.5; the
        // running minimum from the top keeps them (by hand).
        let adjusted = benjamini_hochberg(&[0.03, 0.5, 0.01, 0.02]);
        let expected = [0.04, 0.5, 0.04, 0.04];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        // A large p below a smaller adjusted one is lowered to it: 0.04·2/1 = 0.08 > 0.05·2/2.
        let adjusted = benjamini_hochberg(&[0.04, 0.05]);
        assert!((adjusted[0] - 0.05).abs() < 1e-12 && (adjusted[1] - 0.05).abs() < 1e-12);
    }

    #[test]
    fn welch_matches_scipy() {
        // scipy: ttest_ind([1,2,3,4,5.5], [3,4.5,6,7,8], equal_var=False)
        //   → statistic -2.1974010622941433, pvalue 0.05978012713310035
        let (t, p) = welch_t_test(&[1.0, 2.0, 3.0, 4.0, 5.5], &[3.0, 4.5, 6.0, 7.0, 8.0]).unwrap();
        assert!((t + 2.1974010622941433).abs() < 1e-9, "{t}");
        assert!((p - 0.05978012713310035).abs() < 1e-6, "{p}");
    }

    #[test]
    fn prediction_bound_uses_t_and_the_new_observation_term() {
        // n = 10 values 1..=10: mean 5.5, s = 3.0276503540974917 (numpy, ddof=1);
        // t(0.95, 9) = 1.8331129326536335 (scipy.stats.t.ppf):
        // 5.5 - 1.8331129326536335 · 3.0276503540974917 · sqrt(1.1) = -0.32112... (by hand)
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let low = prediction_bound(&values, 0.95, false).unwrap();
        let expected = 5.5 - 1.8331129326536335 * 3.0276503540974917 * 1.1f64.sqrt();
        assert!((low - expected).abs() < 1e-9, "{low} vs {expected}");
        assert!(prediction_bound(&[1.0], 0.95, true).is_none());
    }
}
