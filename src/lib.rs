//! perfwarden — a host-resident performance-regression agent.
//!
//! The code follows the data:
//!
//! ```text
//! config ──► runner ──► workload ──► stats ──► store (redb) ──► detect ──► report
//!  (TOML,     (warm-up,   (one file    (summary,  (the only      (change vs   (text, JSON)
//!   check)     samples,    per probe)   CI,        redb opener)   history,
//!              budget,                  outliers)                 environment)
//!              fingerprint)
//! ```
//!
//! `cli` parses the command line and calls these modules; `main` only prints and exits.
//! Later stages (scheduler/daemon, regression verdicts, OTLP export) plug in along the
//! same flow.

pub mod cli;
pub mod config;
pub mod detect;
pub mod report;
pub mod runner;
pub mod stats;
pub mod store;
pub mod workload;
