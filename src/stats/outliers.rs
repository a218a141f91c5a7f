//! Outliers by the modified z-score of Iglewicz and Hoaglin (1993), "How to Detect and
//! Handle Outliers": M_i = 0.6745 (x_i − median) / MAD, and |M_i| > 3.5 marks an outlier.
//!
//! Why this method: it uses the median and MAD, so a few extreme samples (a page fault
//! storm, a preempted thread) cannot hide themselves by inflating the mean and standard
//! deviation, as they do with the classic z-score. hyperfine uses the same rule.
//!
//! Outliers are counted and reported, never dropped: every sample is kept and the
//! statistics perfwarden relies on (median, bootstrap interval) are already robust.

/// Threshold on |modified z| recommended by Iglewicz and Hoaglin.
pub(crate) const MODIFIED_Z_THRESHOLD: f64 = 3.5;

/// Indices of low and high outliers in the input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutlierReport {
    pub low: Vec<usize>,
    pub high: Vec<usize>,
}

/// Modified z-scores of every value; all zero when the MAD is zero (no spread).
pub(crate) fn modified_z_scores(values: &[f64]) -> Vec<f64> {
    let median = super::median(values);
    let mad = super::summary::mad(values);
    if mad.is_nan() || mad <= 0.0 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| 0.6745 * (v - median) / mad).collect()
}

/// Flags values with |modified z| > 3.5.
pub fn modified_z_outliers(values: &[f64]) -> OutlierReport {
    let mut report = OutlierReport::default();
    for (index, z) in modified_z_scores(values).into_iter().enumerate() {
        if z > MODIFIED_Z_THRESHOLD {
            report.high.push(index);
        } else if z < -MODIFIED_Z_THRESHOLD {
            report.low.push(index);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_hand_computation() {
        // median = 12.1, MAD = 0.15 (see summary tests); for 15.3:
        // 0.6745 * (15.3 - 12.1) / 0.15 = 14.389333... (by hand)
        let data = [
            12.1, 11.8, 12.4, 12.0, 11.9, 12.2, 15.3, 12.1, 11.7, 12.3, 12.0, 12.2,
        ];
        let z = modified_z_scores(&data);
        assert!((z[6] - 14.389333333333).abs() < 1e-6, "{}", z[6]);
        let report = modified_z_outliers(&data);
        assert_eq!(report.high, vec![6]);
        assert!(report.low.is_empty());
    }

    #[test]
    fn constant_series_has_no_outliers() {
        assert_eq!(modified_z_outliers(&[5.0; 20]), OutlierReport::default());
    }

    #[test]
    fn low_outlier_is_reported_low() {
        let mut data = vec![100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8];
        data.push(50.0);
        let report = modified_z_outliers(&data);
        assert_eq!(report.low, vec![7]);
    }
}
