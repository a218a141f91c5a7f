//! perfwarden — a host-resident performance-regression agent.
//!
//! The code follows the data:
//!
//! ```text
//! config ──► scheduler ──► runner ──► workload ──► stats ──► store (redb) ──► detect ──► report
//!  (TOML,     (cron in a    (warm-up,   (one file    (summary,  (the only      (baselines,  (text, JSON,
//!   check,     time zone,    samples,    per probe)   CI, tests, redb opener)   verdicts,    health
//!   SLOs)      splay,        budget,                  change                    change       report)
//!              catch-up,     fingerprint)             points)                   points, SLOs,
//!              run queue,                                                       health score)
//!              quiet gate)
//!                  ▲
//!               daemon ◄── control socket ◄── cli (status, run, read commands)
//! ```
//!
//! `cli` parses the command line and calls these modules; `main` only prints and exits.
//! A run is measured by `runner::run_suite` (each result committed as it is measured),
//! then judged by `detect::evaluate_run` (verdicts and regression states committed in
//! one transaction), then rendered by `report`. `perfwarden run` does this once;
//! `daemon` does it whenever the `scheduler::Agenda` says a suite is due, and while it
//! runs it owns the database, so the CLI's commands reach it over the control socket and
//! it answers them with the same `cli` code. `export` turns the stored state and alert
//! events into OTLP and a Prometheus endpoint. `resilience` holds the backoff, circuit
//! breaker and retry that the exporter and the load tests use and the `resilience.*`
//! probes measure.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod export;
pub mod logging;
pub mod model;
pub mod report;
pub mod resilience;
pub mod runner;
pub mod scheduler;
pub mod stats;
pub mod store;
pub mod workload;
