//! Prints the verdict evaluation tables of `docs/verdicts.md` (see `src/detect/evaluation.rs`
//! and `src/detect/trend_evaluation.rs`).
//! Run: `scripts/evaluate.sh` (the weekly calendar, about 25 minutes on 2 cores),
//! `scripts/evaluate.sh daily` or `monthly` (the daily or the monthly one) or `scripts/evaluate.sh trend` (what the
//! history analysis finds within 30 days on the default config's schedules).

use perfwarden::config::Config;
use perfwarden::detect::evaluation::{Calendar, Plan, evaluate_all, markdown};
use perfwarden::detect::trend_evaluation::{self, TrendPlan};

fn main() {
    let calendar = match std::env::args().nth(1).as_deref() {
        None | Some("weekly") => Calendar::Weekly,
        Some("daily") => Calendar::Daily,
        Some("monthly") => Calendar::Monthly,
        Some("trend") => {
            let plan = TrendPlan::default();
            let results = trend_evaluation::evaluate_trends(&Config::embedded(), &plan);
            print!("{}", trend_evaluation::markdown(&results, &plan));
            return;
        }
        Some(other) => {
            eprintln!("unknown evaluation {other:?}: weekly, daily, monthly or trend");
            std::process::exit(1);
        }
    };
    let plan = Plan {
        calendar,
        ..Plan::default()
    };
    let rows = evaluate_all(&plan);
    print!("{}", markdown(&rows, &plan));
}
