//! How good are the verdicts? Seeded synthetic benchmark histories with known truth.
//!
//! Each simulated benchmark is a throughput (higher is better) at level 1000. A run draws
//! its level with run-to-run noise, then `samples_per_run` samples (40, what the default
//! sampling options produce) with within-run noise:
//! - `normal`: Gaussian noise;
//! - `bimodal`: 30% of samples in a second mode 8% higher (two CPU frequency states);
//! - `heavy_tails`: Student-t noise with 3 degrees of freedom (scaled to the same sigma);
//! - `slow_drift`: normal noise plus a real 0.1% decline per run.
//!
//! False alarms: 50 benchmarks run 10 warm-up runs then `false_alarm_runs` more with no
//! change; an alarm is a regression that becomes *confirmed* (what pages). Recall: after 10
//! runs at the old level, every benchmark steps down by 2/5/10/25% and stays there; recall
//! within k runs is the share confirmed by the k-th run after the step.
//!
//! The judging, Benjamini-Hochberg across the suite's benchmarks, baseline selection
//! (last 10 runs outside the open regression) and the state machine are the production
//! functions of [`super::verdict`]; only the store is replaced by vectors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::detect::verdict::{self, BASELINE_RUNS, BaselineRun, Subject, Thresholds};
use crate::model::metric::Direction;
use crate::model::verdict::{Regression, Transition};
use crate::stats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Normal,
    Bimodal,
    HeavyTails,
    SlowDrift,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct NoiseModel {
    pub shape: Shape,
    pub within_sigma: f64,
    pub run_sigma: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub suite_size: usize,
    pub warmup_runs: usize,
    pub false_alarm_runs: usize,
    pub recall_suites: usize,
    pub samples_per_run: usize,
    pub seed: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            suite_size: 50,
            warmup_runs: 10,
            false_alarm_runs: 100,
            recall_suites: 2,
            samples_per_run: 40,
            seed: 2026,
        }
    }
}

pub(crate) const STEPS: [f64; 4] = [0.02, 0.05, 0.10, 0.25];

#[derive(Debug, Clone, Serialize)]
pub struct Recall {
    pub step: f64,
    /// Share of benchmarks confirmed within 1, 2 and 3 runs of the step.
    pub within: [f64; 3],
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub model: NoiseModel,
    /// Confirmed false regressions per 100 runs of one benchmark.
    pub false_alarms_per_100_runs: f64,
    /// Confirmed false regressions per 100 runs of the whole suite.
    pub suite_false_alarms_per_100_runs: f64,
    pub recall: Vec<Recall>,
}

/// The noise models of the evaluation table in `docs/verdicts.md`.
pub(crate) fn models() -> Vec<NoiseModel> {
    let mut models = Vec::new();
    for run_sigma in [0.0, 0.01, 0.02] {
        for within_sigma in [0.01, 0.03, 0.05] {
            models.push(NoiseModel {
                shape: Shape::Normal,
                within_sigma,
                run_sigma,
            });
        }
    }
    for shape in [Shape::Bimodal, Shape::HeavyTails, Shape::SlowDrift] {
        models.push(NoiseModel {
            shape,
            within_sigma: 0.03,
            run_sigma: 0.01,
        });
    }
    models
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn noise(model: &NoiseModel, rng: &mut ChaCha8Rng) -> f64 {
    match model.shape {
        Shape::HeavyTails => {
            let chi2: f64 = (0..3).map(|_| gaussian(rng).powi(2)).sum();
            // t(3) has variance 3; scale to unit variance.
            gaussian(rng) / (chi2 / 3.0).sqrt() / 3f64.sqrt()
        }
        _ => gaussian(rng),
    }
}

fn run_samples(model: &NoiseModel, level: f64, n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let run_level = level * (1.0 + model.run_sigma * gaussian(rng));
    (0..n)
        .map(|_| {
            let mode = if model.shape == Shape::Bimodal && rng.random::<f64>() < 0.3 {
                1.08
            } else {
                1.0
            };
            (run_level * mode * (1.0 + model.within_sigma * noise(model, rng))).max(1e-9)
        })
        .collect()
}

struct Bench {
    history: Vec<BaselineRun>,
    open: Option<Regression>,
}

/// Simulates a suite; `level(run)` gives the true level of every benchmark at a run.
/// Returns, per benchmark, the runs at which a regression was newly confirmed.
fn simulate(
    model: &NoiseModel,
    plan: &Plan,
    runs: usize,
    level: &dyn Fn(usize) -> f64,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let thresholds = Thresholds {
        tolerance: 0.05,
        major: 0.15,
        critical: 0.30,
    };
    let mut benches: Vec<Bench> = (0..plan.suite_size)
        .map(|_| Bench {
            history: Vec::new(),
            open: None,
        })
        .collect();
    let mut confirmations = vec![Vec::new(); plan.suite_size];
    for run in 0..runs {
        let run_id = run as u64 + 1;
        let true_level = level(run);
        let currents: Vec<Vec<f64>> = (0..plan.suite_size)
            .map(|_| run_samples(model, true_level, plan.samples_per_run, rng))
            .collect();
        let baselines: Vec<Vec<BaselineRun>> = benches
            .iter()
            .map(|b| {
                let excluded = b.open.as_ref().map(|r| r.runs.clone()).unwrap_or_default();
                let mut eligible: Vec<BaselineRun> = b
                    .history
                    .iter()
                    .filter(|h| !excluded.contains(&h.run_id))
                    .cloned()
                    .collect();
                let drop = eligible.len().saturating_sub(BASELINE_RUNS);
                eligible.drain(..drop);
                eligible
            })
            .collect();
        let raw: Vec<Option<f64>> = baselines
            .iter()
            .zip(&currents)
            .map(|(base, cur)| {
                (!base.is_empty())
                    .then(|| verdict::u_test_p(base, cur, Direction::HigherIsBetter))
                    .flatten()
            })
            .collect();
        let present: Vec<f64> = raw.iter().filter_map(|p| *p).collect();
        let mut adjusted = stats::benjamini_hochberg(&present).into_iter();
        for (index, bench) in benches.iter_mut().enumerate() {
            let adjusted_p = raw[index].map(|_| adjusted.next().unwrap_or(1.0));
            let judgement = verdict::judge(verdict::JudgeInput {
                baseline: &baselines[index],
                current: &currents[index],
                direction: Direction::HigherIsBetter,
                thresholds,
                raw_p: raw[index],
                adjusted_p,
                agreeing: bench.open.is_some(),
                seed: rng.random(),
            });
            let name = format!("b{index}");
            let (open, transition, _) = verdict::advance(
                bench.open.take(),
                &judgement,
                Subject {
                    benchmark: &name,
                    suite: "eval",
                    config_hash: "eval",
                    fingerprint: "eval",
                    run_id,
                    ok: true,
                },
            );
            if transition == Some(Transition::Confirmed) {
                confirmations[index].push(run);
            }
            bench.open = open;
            bench.history.push(BaselineRun {
                run_id,
                median: stats::median(&currents[index]),
                samples: currents[index].clone(),
            });
        }
    }
    confirmations
}

/// Evaluates one noise model.
pub fn evaluate(model: NoiseModel, plan: &Plan, model_index: u64) -> Row {
    let drift = model.shape == Shape::SlowDrift;
    let base_level = move |run: usize| {
        if drift {
            1000.0 * (1.0 - 0.001 * run as f64)
        } else {
            1000.0
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ (model_index << 32));
    let total_runs = plan.warmup_runs + plan.false_alarm_runs;
    let confirmations = simulate(&model, plan, total_runs, &base_level, &mut rng);
    let alarms: usize = confirmations
        .iter()
        .map(|c| c.iter().filter(|&&r| r >= plan.warmup_runs).count())
        .sum();
    let per_bench = alarms as f64 / (plan.suite_size * plan.false_alarm_runs) as f64 * 100.0;
    let per_suite = alarms as f64 / plan.false_alarm_runs as f64 * 100.0;

    let mut recall = Vec::new();
    for (step_index, &step) in STEPS.iter().enumerate() {
        let mut within = [0usize; 3];
        let mut trials = 0usize;
        for suite in 0..plan.recall_suites {
            let mut rng = ChaCha8Rng::seed_from_u64(
                plan.seed
                    ^ (model_index << 32)
                    ^ ((step_index as u64 + 1) << 16)
                    ^ (suite as u64 + 1),
            );
            let warmup = plan.warmup_runs;
            let level = move |run: usize| {
                let base = base_level(run);
                if run >= warmup {
                    base * (1.0 - step)
                } else {
                    base
                }
            };
            let confirmations = simulate(&model, plan, warmup + 3, &level, &mut rng);
            for c in confirmations {
                trials += 1;
                if let Some(&first) = c.iter().find(|&&r| r >= warmup) {
                    for (k, slot) in within.iter_mut().enumerate() {
                        if first < warmup + k + 1 {
                            *slot += 1;
                        }
                    }
                }
            }
        }
        recall.push(Recall {
            step,
            within: within.map(|w| w as f64 / trials.max(1) as f64),
        });
    }
    Row {
        model,
        false_alarms_per_100_runs: per_bench,
        suite_false_alarms_per_100_runs: per_suite,
        recall,
    }
}

/// Evaluates every model on the available cores.
pub fn evaluate_all(plan: &Plan) -> Vec<Row> {
    let models = models();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(models.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let rows = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(model) = models.get(i) else { break };
                    let row = evaluate(*model, plan, i as u64);
                    rows.lock().expect("rows lock").push((i, row));
                }
            });
        }
    });
    let mut rows = rows.into_inner().expect("rows lock");
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The evaluation table of `docs/verdicts.md`.
pub fn markdown(rows: &[Row], plan: &Plan) -> String {
    let mut out = format!(
        "{} benchmarks per suite, {} samples per run, {} runs for false alarms, {} trials per step; alarms = confirmed regressions\n\n",
        plan.suite_size,
        plan.samples_per_run,
        plan.false_alarm_runs,
        plan.suite_size * plan.recall_suites
    );
    out.push_str("| noise | within-run σ | run-to-run σ | false alarms /100 runs (1 benchmark) | false alarms /100 runs (50-benchmark suite) |");
    for step in STEPS {
        out.push_str(&format!(
            " recall {:.0}% step (≤1/≤2/≤3 runs) |",
            step * 100.0
        ));
    }
    out.push_str("\n|---|---|---|---|---|");
    for _ in STEPS {
        out.push_str("---|");
    }
    out.push('\n');
    for row in rows {
        let shape = serde_json::to_value(row.model.shape)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "| {shape} | {:.0}% | {:.0}% | {:.3} | {:.2} |",
            row.model.within_sigma * 100.0,
            row.model.run_sigma * 100.0,
            row.false_alarms_per_100_runs,
            row.suite_false_alarms_per_100_runs
        ));
        for r in &row.recall {
            out.push_str(&format!(
                " {:.0}% / {:.0}% / {:.0}% |",
                r.within[0] * 100.0,
                r.within[1] * 100.0,
                r.within[2] * 100.0
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reduced, deterministic version of the acceptance checks (the full evaluation is
    /// `scripts/evaluate.sh`).
    #[test]
    fn small_evaluation_meets_the_acceptance_shape() {
        let plan = Plan {
            suite_size: 10,
            warmup_runs: 10,
            false_alarm_runs: 20,
            recall_suites: 1,
            samples_per_run: 40,
            seed: 7,
        };
        let calm = evaluate(
            NoiseModel {
                shape: Shape::Normal,
                within_sigma: 0.01,
                run_sigma: 0.01,
            },
            &plan,
            0,
        );
        assert_eq!(calm.false_alarms_per_100_runs, 0.0);
        let by_step = |step: f64| calm.recall.iter().find(|r| r.step == step).unwrap().within;
        assert!(by_step(0.25)[1] >= 0.9, "{:?}", calm.recall);
        assert!(by_step(0.10)[1] >= 0.8, "{:?}", calm.recall);
        assert_eq!(by_step(0.02)[2], 0.0, "a 2% step never alerts");
        let noisy = evaluate(
            NoiseModel {
                shape: Shape::Normal,
                within_sigma: 0.03,
                run_sigma: 0.02,
            },
            &plan,
            1,
        );
        assert_eq!(noisy.false_alarms_per_100_runs, 0.0);
    }
}
