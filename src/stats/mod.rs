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
pub use changepoint::{ChangePoint, change_points};
pub use hypothesis::{
    benjamini_hochberg, mann_whitney_greater, prediction_bound, t_quantile, welch_t_test,
};
pub use outliers::{OutlierReport, modified_z_outliers};
pub use summary::{
    Interval, Summary, mad, mean, median, median_standard_error, percentile, std_dev, summarize,
};
pub use trend::{mann_kendall, theil_sen};
