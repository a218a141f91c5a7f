//! The health score: 0-100 per suite and per host, with a grade, explainable line by line.
//!
//! A suite starts at 100 and loses points for what its latest run and its open regressions
//! show:
//!
//! | finding | points |
//! |---|---|
//! | open critical regression | 40 (20 while only suspected) |
//! | open major regression | 20 (10 while suspected) |
//! | open minor regression | 8 (4 while suspected) |
//! | SLO not met in the latest run | 10 each |
//! | worsening drift over 30 days (Mann-Kendall p < 0.01, ≥ tolerance) | 5 |
//!
//! A failed or timed-out benchmark is already an open critical regression, so it is not
//! counted twice. The score is never below 0. Grades: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else
//! F. The host's score is its worst suite's: a host is as healthy as the weakest thing it
//! runs.

use serde::{Deserialize, Serialize};

use super::verdict::{Regression, RegressionState, Severity};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deduction {
    pub benchmark: String,
    pub points: f64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub score: f64,
    pub grade: char,
    pub deductions: Vec<Deduction>,
}

pub fn grade(score: f64) -> char {
    match score {
        s if s >= 90.0 => 'A',
        s if s >= 75.0 => 'B',
        s if s >= 60.0 => 'C',
        s if s >= 40.0 => 'D',
        _ => 'F',
    }
}

/// Points an open regression costs.
pub fn regression_points(r: &Regression) -> f64 {
    let full = match r.severity {
        Severity::Critical => 40.0,
        Severity::Major => 20.0,
        Severity::Minor => 8.0,
    };
    if r.state == RegressionState::Suspected {
        full / 2.0
    } else {
        full
    }
}

pub const SLO_POINTS: f64 = 10.0;
pub const DRIFT_POINTS: f64 = 5.0;

/// Scores a suite from its open regressions, its unmet SLOs (benchmark, expression) and
/// its worsening drifts (benchmark, relative change over the window).
pub fn score(
    regressions: &[Regression],
    unmet_slos: &[(String, String)],
    drifts: &[(String, f64)],
) -> Health {
    let mut deductions = Vec::new();
    for r in regressions {
        deductions.push(Deduction {
            benchmark: r.benchmark.clone(),
            points: regression_points(r),
            reason: format!(
                "{} regression, {}{}",
                r.severity.as_str(),
                match r.state {
                    RegressionState::Suspected => "suspected (counts half)",
                    RegressionState::Confirmed => "confirmed",
                },
                r.worse_change
                    .map(|c| format!(", {:+.1}% worse", c * 100.0))
                    .unwrap_or_else(|| ", benchmark failing".into())
            ),
        });
    }
    for (benchmark, expression) in unmet_slos {
        deductions.push(Deduction {
            benchmark: benchmark.clone(),
            points: SLO_POINTS,
            reason: format!("SLO `{expression}` not met"),
        });
    }
    for (benchmark, change) in drifts {
        deductions.push(Deduction {
            benchmark: benchmark.clone(),
            points: DRIFT_POINTS,
            reason: format!("drifting worse, {:+.1}% over 30 days", change * 100.0),
        });
    }
    let lost: f64 = deductions.iter().map(|d| d.points).sum();
    let score = (100.0 - lost).max(0.0);
    Health {
        score,
        grade: grade(score),
        deductions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regression(severity: Severity, state: RegressionState) -> Regression {
        Regression {
            benchmark: "b".into(),
            suite: "s".into(),
            config_hash: "c".into(),
            fingerprint: "f".into(),
            state,
            severity,
            first_run: 1,
            last_run: 2,
            runs: vec![1, 2],
            worse_change: Some(0.2),
            worse_change_low: Some(0.16),
            baseline_median: Some(1.0),
            current_median: Some(1.2),
            explanation: String::new(),
            ended: None,
            ended_run: None,
        }
    }

    #[test]
    fn the_formula_line_by_line() {
        let h = score(
            &[
                regression(Severity::Major, RegressionState::Confirmed),
                regression(Severity::Critical, RegressionState::Suspected),
            ],
            &[("b".into(), "median > 5/s".into())],
            &[("c".into(), -0.07)],
        );
        // 100 − 20 − 20 − 10 − 5 = 45 (by hand).
        assert_eq!(h.score, 45.0);
        assert_eq!(h.grade, 'D');
        assert_eq!(h.deductions.len(), 4);
        assert_eq!(score(&[], &[], &[]).grade, 'A');
        let many: Vec<Regression> = (0..5)
            .map(|_| regression(Severity::Critical, RegressionState::Confirmed))
            .collect();
        assert_eq!(score(&many, &[], &[]).score, 0.0);
    }

    #[test]
    fn grade_boundaries() {
        assert_eq!(grade(90.0), 'A');
        assert_eq!(grade(89.9), 'B');
        assert_eq!(grade(75.0), 'B');
        assert_eq!(grade(60.0), 'C');
        assert_eq!(grade(40.0), 'D');
        assert_eq!(grade(39.0), 'F');
    }
}
