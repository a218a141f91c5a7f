//! Prints the verdict evaluation table of `docs/verdicts.md` (see `src/detect/evaluation.rs`).
//! Run: `scripts/evaluate.sh` (about 25 minutes on 2 cores).

use perfwarden::detect::evaluation::{Plan, evaluate_all, markdown};

fn main() {
    let plan = Plan::default();
    let rows = evaluate_all(&plan);
    print!("{}", markdown(&rows, &plan));
}
