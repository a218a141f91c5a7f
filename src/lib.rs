//! perfwarden — a host-resident performance-regression agent.
//!
//! The code follows the data:
//!
//! ```text
//! config ──► runner ──► workload ──► stats ──► store (redb) ──► detect ──► report
//!  (TOML,     (warm-up,   (one file    (summary,  (the only      (baselines,  (text, JSON,
//!   check,     samples,    per probe)   CI, tests, redb opener)   verdicts,    health
//!   SLOs)      budget,                  change                    change       report)
//!              fingerprint)             points)                   points, SLOs,
//!                                                                 health score)
//! ```
//!
//! `cli` parses the command line and calls these modules; `main` only prints and exits.
//! A run is measured by `runner::run_suite` (each result committed as it is measured),
//! then judged by `detect::evaluate_run` (verdicts and regression states committed in
//! one transaction), then rendered by `report`. The scheduling daemon and the OTLP
//! export will plug into the same flow.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod logging;
pub mod report;
pub mod runner;
pub mod scheduler;
pub mod stats;
pub mod store;
pub mod workload;
