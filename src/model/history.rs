//! What the history analysis of a series finds: change points, drift and outliers, each labelled
//! `worse` or `better` in the series' declared direction. `detect::history` computes them;
//! verdicts store them; `analyze` and reports print them.

use serde::{Deserialize, Serialize};

use super::metric::Direction;
use crate::stats::ChangePoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    Worse,
    Better,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Worse => "worse",
            Movement::Better => "better",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledChangePoint {
    #[serde(flatten)]
    pub point: ChangePoint,
    pub movement: Movement,
    /// The series drifts only because of its level shifts: with them taken out, no drift.
    #[serde(default)]
    pub explains_drift: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Mann-Kendall S, z and two-sided p.
    pub mann_kendall_s: f64,
    pub mann_kendall_z: f64,
    pub p_value: f64,
    /// Theil–Sen slope per step (per point, or per second when times are given).
    pub slope: f64,
    /// Slope × span, relative to the median level.
    pub relative_change_over_window: f64,
    /// p < 0.01 and |relative change over the window| ≥ tolerance.
    pub drift: bool,
    pub movement: Movement,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeriesAnalysis {
    pub points: usize,
    pub direction: Direction,
    pub change_points: Vec<LabelledChangePoint>,
    /// Over the series with its level shifts taken out; `null` with fewer than 3 points.
    pub trend: Option<Trend>,
    /// Robust sd of one point's noise the shifts were judged against (0 when not searched).
    pub noise_scale: f64,
    /// Lag-1 autocorrelation of the noise allowed for (0: independent).
    pub autocorrelation: f64,
    /// Lone outliers set aside, by index.
    pub outliers: Vec<usize>,
}
