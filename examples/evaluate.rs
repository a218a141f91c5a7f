//! Prints the verdict evaluation tables of `docs/verdicts.md` (see `src/detect/evaluation.rs`).
//! Run: `scripts/evaluate.sh` (the weekly calendar, about 25 minutes on 2 cores) or
//! `scripts/evaluate.sh monthly` (the monthly one).

use perfwarden::detect::evaluation::{Calendar, Plan, evaluate_all, markdown};

fn main() {
    let calendar = match std::env::args().nth(1).as_deref() {
        None | Some("weekly") => Calendar::Weekly,
        Some("monthly") => Calendar::Monthly,
        Some(other) => {
            eprintln!("unknown calendar {other:?}: weekly or monthly");
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
