//! Seeded percentile bootstrap (Efron & Tibshirani 1993, "An Introduction to the
//! Bootstrap", ch. 13): resample with replacement, compute the statistic, take the
//! α/2 and 1 − α/2 percentiles of the replicates.
//!
//! Why seeded: the same samples must give the same interval on every machine and every
//! re-render of a stored run, and tests must be able to pin exact values. The generator is
//! ChaCha8, whose output stream is specified and stable across platforms. Inputs are
//! sorted first, so the interval depends on the values only, not on their order.
//!
//! Why by counts: with the values sorted, the k-th smallest value of a resample is the
//! value at the k-th smallest drawn index, so each replicate's median comes from counting
//! the drawn indices (O(n), no comparison sort and no copy of the values). The draws and
//! the replicates are exactly those of sorting each resample, at a fraction of the time.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::summary::{Interval, percentile_sorted};

/// The median of one resample of `sorted` (ascending): `n` indices drawn with replacement
/// and counted in `counts`, then the middle one (or the two middle ones) read off the
/// counts. Equal to the median of the drawn values, since the values ascend with the index.
fn resample_median(sorted: &[f64], counts: &mut Vec<u32>, rng: &mut ChaCha8Rng) -> f64 {
    let n = sorted.len();
    counts.clear();
    counts.resize(n, 0);
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
    // The value of the k-th smallest draw (0-based) for k = mid − 1 and mid.
    let mid = n / 2;
    let (mut lower, mut upper) = (None, None);
    let mut seen = 0usize;
    for (index, &count) in counts.iter().enumerate() {
        seen += count as usize;
        if lower.is_none() && mid > 0 && seen > mid - 1 {
            lower = Some(sorted[index]);
        }
        if seen > mid {
            upper = Some(sorted[index]);
            break;
        }
    }
    let upper = upper.expect("n draws reach the middle");
    if n % 2 == 1 {
        upper
    } else {
        (lower.expect("an even n has two middles") + upper) / 2.0
    }
}

fn interval_from_replicates(mut replicates: Vec<f64>, level: f64) -> Interval {
    replicates.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    Interval {
        low: percentile_sorted(&replicates, 100.0 * alpha / 2.0),
        high: percentile_sorted(&replicates, 100.0 * (1.0 - alpha / 2.0)),
        level,
    }
}

/// Percentile-bootstrap interval of the median; `None` with fewer than 2 values.
pub fn bootstrap_median_ci(
    values: &[f64],
    level: f64,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    if values.len() < 2 || resamples == 0 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let values = &sorted;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = Vec::with_capacity(values.len());
    let replicates = (0..resamples)
        .map(|_| resample_median(values, &mut counts, &mut rng))
        .collect();
    Some(interval_from_replicates(replicates, level))
}

/// Interval of the relative change of medians, `median(current) / median(baseline) − 1`,
/// resampling both groups independently (two-sample bootstrap). `None` when a group has
/// fewer than 2 values or the baseline median can be zero.
pub fn bootstrap_relative_change_ci(
    baseline: &[f64],
    current: &[f64],
    level: f64,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    if baseline.len() < 2 || current.len() < 2 || resamples == 0 {
        return None;
    }
    let (mut baseline_sorted, mut current_sorted) = (baseline.to_vec(), current.to_vec());
    baseline_sorted.sort_by(f64::total_cmp);
    current_sorted.sort_by(f64::total_cmp);
    let (baseline, current) = (&baseline_sorted[..], &current_sorted[..]);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = Vec::with_capacity(baseline.len().max(current.len()));
    let mut replicates = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let base = resample_median(baseline, &mut counts, &mut rng);
        let cur = resample_median(current, &mut counts, &mut rng);
        if base == 0.0 {
            return None;
        }
        replicates.push(cur / base - 1.0);
    }
    Some(interval_from_replicates(replicates, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median of the drawn values, as sorting each resample computes it.
    fn resample_median_by_sorting(sorted: &[f64], rng: &mut ChaCha8Rng) -> f64 {
        let n = sorted.len();
        let mut drawn: Vec<f64> = (0..n).map(|_| sorted[rng.random_range(0..n)]).collect();
        drawn.sort_by(f64::total_cmp);
        if n % 2 == 1 {
            drawn[n / 2]
        } else {
            (drawn[n / 2 - 1] + drawn[n / 2]) / 2.0
        }
    }

    #[test]
    fn counting_draws_gives_the_median_of_the_drawn_values() {
        let mut counts = Vec::new();
        for n in 1..40usize {
            // Ties on purpose: values repeat every 7.
            let mut values: Vec<f64> = (0..n).map(|i| ((i * 5) % 7) as f64 * 1.5).collect();
            values.sort_by(f64::total_cmp);
            let (mut a, mut b) = (
                ChaCha8Rng::seed_from_u64(n as u64),
                ChaCha8Rng::seed_from_u64(n as u64),
            );
            for _ in 0..200 {
                assert_eq!(
                    resample_median(&values, &mut counts, &mut a),
                    resample_median_by_sorting(&values, &mut b),
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn order_of_the_values_does_not_matter() {
        let data: Vec<f64> = (0..40).map(|i| ((i * 13) % 17) as f64).collect();
        let mut reversed = data.clone();
        reversed.reverse();
        assert_eq!(
            bootstrap_median_ci(&data, 0.95, 500, 3),
            bootstrap_median_ci(&reversed, 0.95, 500, 3)
        );
        let (mut a, mut b) = (data[..20].to_vec(), data[20..].to_vec());
        let before = bootstrap_relative_change_ci(&a, &b, 0.95, 500, 3);
        a.reverse();
        b.rotate_left(7);
        assert_eq!(before, bootstrap_relative_change_ci(&a, &b, 0.95, 500, 3));
    }

    #[test]
    fn same_seed_same_interval() {
        let data: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).sin() + 10.0).collect();
        let a = bootstrap_median_ci(&data, 0.95, 1000, 7).unwrap();
        let b = bootstrap_median_ci(&data, 0.95, 1000, 7).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn interval_brackets_the_median_and_stays_in_range() {
        let data: Vec<f64> = (1..=101).map(f64::from).collect();
        let ci = bootstrap_median_ci(&data, 0.95, 2000, 1).unwrap();
        assert!(ci.low <= 51.0 && 51.0 <= ci.high, "{ci:?}");
        assert!(ci.low >= 1.0 && ci.high <= 101.0);
        // The sampling distribution of the median of a uniform 1..101 sample has
        // sd ≈ sqrt(n)/ (2 f(m)) / n = 101/(2 sqrt(101)) ≈ 5.02 (asymptotic formula), so a
        // 95% interval spans about ±1.96 * 5.02 ≈ ±9.8 around 51.
        assert!(
            (ci.high - ci.low) > 10.0 && (ci.high - ci.low) < 30.0,
            "{ci:?}"
        );
    }

    #[test]
    fn relative_change_of_a_ten_percent_shift() {
        let baseline: Vec<f64> = (0..40).map(|i| 100.0 + (i % 5) as f64).collect();
        let current: Vec<f64> = baseline.iter().map(|v| v * 1.1).collect();
        let ci = bootstrap_relative_change_ci(&baseline, &current, 0.95, 2000, 3).unwrap();
        assert!(ci.contains(0.1), "{ci:?}");
        assert!(ci.low > 0.05, "{ci:?}");
    }

    #[test]
    fn too_few_values_give_none() {
        assert!(bootstrap_median_ci(&[1.0], 0.95, 100, 1).is_none());
        assert!(bootstrap_relative_change_ci(&[1.0, 2.0], &[1.0], 0.95, 100, 1).is_none());
    }
}
