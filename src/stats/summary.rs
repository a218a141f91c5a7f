//! Summary statistics of one sample set.
//!
//! Methods:
//! - percentiles use linear interpolation between closest ranks (Hyndman & Fan 1996 type 7),
//!   the default of numpy (`np.percentile`) and R (`quantile(type = 7)`);
//! - standard deviation is the sample (Bessel-corrected, n − 1) estimate;
//! - MAD is the raw median absolute deviation (not scaled by 1.4826), as R's
//!   `mad(x, constant = 1)` and `scipy.stats.median_abs_deviation(x)`;
//! - coefficient of variation is sd / |mean|;
//! - the standard error of a median is McKean & Schrader's (1984) distribution-free
//!   estimate from the order statistics that bound the median's 95% interval,
//!   (x₍ₙ₋c₊₁₎ − x₍c₎) / (2 z) with c = round((n + 1)/2 − 1.96 · √(n/4)) and z the normal
//!   quantile of that pair's exact binomial coverage (1.96 as n grows); unlike
//!   1.2533 · sd / √n it holds for heavy-tailed and skewed samples, whose median moves far
//!   less than their sd suggests;
//! - the 95% interval of the mean is mean ± t(0.975, n − 1) · sd / √n with Student's t from
//!   statrs; the interval of the median is a seeded percentile bootstrap (see
//!   [`super::bootstrap`]).

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal, StudentsT};

use super::bootstrap::bootstrap_median_ci;
use super::outliers::modified_z_outliers;

/// A two-sided interval with its confidence level (0.95 for a 95% interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    pub level: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Everything perfwarden reports about one set of samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub median: f64,
    pub std_dev: f64,
    pub min: f64,
    pub max: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    /// Raw median absolute deviation.
    pub mad: f64,
    /// Coefficient of variation, sd / |mean|; 0 when the mean is 0.
    pub cv: f64,
    /// 95% Student-t interval of the mean; `None` with fewer than 2 samples.
    pub mean_ci: Option<Interval>,
    /// 95% bootstrap interval of the median; `None` with fewer than 2 samples.
    pub median_ci: Option<Interval>,
    /// Samples whose modified z-score exceeds 3.5 (Iglewicz & Hoaglin).
    pub outliers_low: usize,
    pub outliers_high: usize,
}

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
pub fn std_dev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let sum_sq: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (sum_sq / (values.len() - 1) as f64).sqrt()
}

/// Percentile `p` in [0, 100] of already sorted values, type 7 (linear interpolation).
pub(crate) fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
            let lower = rank.floor() as usize;
            let upper = rank.ceil() as usize;
            let weight = rank - lower as f64;
            sorted[lower] + (sorted[upper] - sorted[lower]) * weight
        }
    }
}

/// Percentile `p` in [0, 100] of unsorted values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_sorted(&sorted, p)
}

/// Median of unsorted values (the 50th percentile, type 7).
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// Distribution-free standard error of the median (McKean & Schrader 1984, see the module
/// doc); `None` with fewer than 5 values, where the order statistics reach the extremes.
pub fn median_standard_error(values: &[f64]) -> Option<f64> {
    const Z: f64 = 1.959_963_984_540_054;
    let n = values.len();
    if n < 5 {
        return None;
    }
    let c = (((n + 1) as f64) / 2.0 - Z * (n as f64 / 4.0).sqrt())
        .round()
        .max(1.0) as usize;
    // The pair (x₍c₎, x₍ₙ₋c₊₁₎) covers the median with the exact binomial probability
    // P(c ≤ B ≤ n − c), B ~ Bin(n, ½), a little above 95% at small n: the half-width is
    // divided by that coverage's normal quantile, not by 1.96.
    let binomial = Binomial::new(0.5, n as u64).ok()?;
    let coverage = binomial.cdf((n - c) as u64) - binomial.cdf((c - 1) as u64);
    let z = Normal::standard().inverse_cdf(0.5 + coverage / 2.0);
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some((sorted[n - c] - sorted[c - 1]) / (2.0 * z))
}

/// Raw median absolute deviation around the median.
pub fn mad(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let m = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median(&deviations)
}

/// Student-t confidence interval of the mean at `level` (e.g. 0.95).
pub(crate) fn mean_confidence_interval(values: &[f64], level: f64) -> Option<Interval> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let m = mean(values);
    let standard_error = std_dev(values) / (n as f64).sqrt();
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(0.5 + level / 2.0);
    Some(Interval {
        low: m - t * standard_error,
        high: m + t * standard_error,
        level,
    })
}

/// Seed used for every bootstrap of a run summary, so that the same samples always give
/// the same interval (reports are reproducible and tests can pin values).
pub(crate) const SUMMARY_BOOTSTRAP_SEED: u64 = 0x7065_7266_7761_7264; // "perfward"

/// Summarises `values`. Non-finite values must have been rejected by the caller.
pub fn summarize(values: &[f64]) -> Summary {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    let mean_value = mean(&sorted);
    let sd = std_dev(&sorted);
    let outliers = modified_z_outliers(&sorted);
    Summary {
        count,
        mean: mean_value,
        median: percentile_sorted(&sorted, 50.0),
        std_dev: sd,
        min: sorted.first().copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
        p50: percentile_sorted(&sorted, 50.0),
        p95: percentile_sorted(&sorted, 95.0),
        p99: percentile_sorted(&sorted, 99.0),
        mad: mad(&sorted),
        cv: if mean_value == 0.0 || count == 0 {
            0.0
        } else {
            sd / mean_value.abs()
        },
        mean_ci: mean_confidence_interval(&sorted, 0.95),
        median_ci: bootstrap_median_ci(&sorted, 0.95, 2000, SUMMARY_BOOTSTRAP_SEED),
        outliers_low: outliers.low.len(),
        outliers_high: outliers.high.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    // Reference data set used across these tests.
    const DATA: [f64; 12] = [
        12.1, 11.8, 12.4, 12.0, 11.9, 12.2, 15.3, 12.1, 11.7, 12.3, 12.0, 12.2,
    ];

    #[test]
    fn mean_sd_and_percentiles_match_numpy() {
        // Reference values computed with numpy 1.24.2 and scipy 1.10.1 (Debian 12 python3-numpy, python3-scipy):
        //   x = np.array(DATA); x.mean(); x.std(ddof=1);
        //   np.percentile(x, [50, 95, 99])  (default method "linear" = type 7)
        let s = summarize(&DATA);
        assert!(close(s.mean, 12.333333333333334, 1e-12), "{}", s.mean);
        assert!(close(s.std_dev, 0.9556847457887636, 1e-12), "{}", s.std_dev);
        assert!(close(s.median, 12.1, 1e-12));
        assert!(close(s.p95, 13.704999999999998, 1e-12), "{}", s.p95);
        assert!(close(s.p99, 14.981000000000002, 1e-12), "{}", s.p99);
        assert_eq!(s.min, 11.7);
        assert_eq!(s.max, 15.3);
    }

    #[test]
    fn mad_matches_scipy() {
        // scipy.stats.median_abs_deviation(DATA) == 0.14999999999999947 (scale=1.0)
        assert!(close(mad(&DATA), 0.15, 1e-9), "{}", mad(&DATA));
    }

    #[test]
    fn median_standard_error_by_hand() {
        // n = 12: c = round(6.5 − 1.96·√3) = 3; sorted DATA has x₍₃₎ = 11.9 and
        // x₍₁₀₎ = 12.3; P(3 ≤ B ≤ 9) for B ~ Bin(12, ½) is 3938/4096 = 0.96142578125, whose
        // normal quantile Φ⁻¹(0.980712890625) is 2.0687003031928377 (Python's
        // statistics.NormalDist), so (12.3 − 11.9) / (2 · 2.0687003) = 0.0966790596449952.
        let se = median_standard_error(&DATA).unwrap();
        assert!(close(se, 0.0966790596449952, 1e-9), "{se}");
        assert_eq!(median_standard_error(&[1.0, 2.0, 3.0, 4.0]), None);
    }

    #[test]
    fn median_standard_error_follows_the_median_not_the_sd() {
        use rand::{Rng, SeedableRng};
        // Over 4000 seeded sets of 40 values, the estimate's root mean square against the
        // observed spread of the medians: normal values, and Student t(3) values, whose sd
        // (√3) is far above what their median shows (1 / (2 f(0)) = 1.3607 per √n).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut normal = move || {
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        for heavy in [false, true] {
            let mut medians = Vec::new();
            let mut variances = Vec::new();
            for _ in 0..4000 {
                let values: Vec<f64> = (0..40)
                    .map(|_| {
                        let z = normal();
                        if heavy {
                            let chi2: f64 = (0..3).map(|_| normal().powi(2)).sum();
                            z / (chi2 / 3.0).sqrt()
                        } else {
                            z
                        }
                    })
                    .collect();
                medians.push(median(&values));
                variances.push(median_standard_error(&values).unwrap().powi(2));
            }
            let observed = std_dev(&medians);
            let estimated = mean(&variances).sqrt();
            let expected = if heavy { 1.3607 } else { 1.2533 } / 40f64.sqrt();
            assert!(
                close(observed, expected, 0.05),
                "{heavy}: observed {observed}"
            );
            assert!(
                close(estimated, observed, 0.10),
                "{heavy}: estimated {estimated} vs observed {observed}"
            );
        }
    }

    #[test]
    fn mean_interval_matches_scipy_t_interval() {
        // scipy.stats.t.interval(0.95, df=11, loc=x.mean(), scale=scipy.stats.sem(x))
        //   == (11.726120215217263, 12.940546451449405)
        let ci = mean_confidence_interval(&DATA, 0.95).unwrap();
        assert!(close(ci.low, 11.726120215217263, 1e-9), "{}", ci.low);
        assert!(close(ci.high, 12.940546451449405, 1e-9), "{}", ci.high);
    }

    #[test]
    fn cv_is_sd_over_mean() {
        let s = summarize(&DATA);
        assert!(close(s.cv, 0.9556847457887636 / 12.333333333333334, 1e-12));
    }

    #[test]
    fn percentile_by_hand() {
        // Type 7 on [1,2,3,4]: rank = 0.25*3 = 0.75 → 1 + 0.75*(2-1) = 1.75 (by hand).
        assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 25.0), 1.75);
        assert_eq!(percentile(&[5.0], 99.0), 5.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn single_value_has_no_interval() {
        let s = summarize(&[3.0]);
        assert_eq!(s.count, 1);
        assert_eq!(s.std_dev, 0.0);
        assert!(s.mean_ci.is_none());
        assert!(s.median_ci.is_none());
    }
}
