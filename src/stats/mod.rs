//! Descriptive statistics, confidence intervals and outlier detection over the samples of
//! one benchmark run.
//!
//! Why a module of its own: every number perfwarden prints or exports about a run comes
//! from here, so each function cites the method it implements and is tested against values
//! computed independently (numpy/scipy, R, or by hand — each test says which).
//!
//! Values carry no unit here; the caller keeps the unit next to them (see
//! [`crate::model::metric::MetricDef`], which travels with every stored result).

pub(crate) mod bootstrap;
pub(crate) mod changepoint;
pub(crate) mod hypothesis;
pub(crate) mod outliers;
pub(crate) mod summary;
pub(crate) mod trend;

pub use bootstrap::{bootstrap_median_ci, bootstrap_relative_change_ci};
pub use changepoint::{ChangePoint, Segmentation, segment};
pub use hypothesis::{
    benjamini_hochberg, mann_whitney_greater, prediction_bound, t_quantile, welch_t_test,
};
pub use outliers::{OutlierReport, modified_z_outliers};
pub use summary::{
    Interval, Summary, mad, mean, median, median_standard_error, percentile, std_dev, summarize,
};
pub use trend::{mann_kendall, theil_sen};

/// `n` standard normal values (Box–Muller), seeded: test noise.
#[cfg(test)]
pub(crate) fn gaussian(n: usize, seed: u64) -> Vec<f64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u: f64 = 1.0 - rng.random::<f64>();
            let v: f64 = rng.random();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect()
}
