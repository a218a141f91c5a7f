//! perfwarden — a host-resident performance-regression agent.
//!
//! The code follows the data:
//!
//! ```text
//! config ──► scheduler ──► pipeline ──► runner ──► workload ──► stats ──► store (redb) ──► detect ──► export / report
//!  (TOML,     (cron in a    (purge, plan,  (warm-up,   (one file    (summary,  (the only      (baselines,  (OTLP, /metrics;
//!   check)     time zone,    fingerprint,   samples,    per probe,   CI, tests, redb opener)   verdicts,    text, JSON)
//!              splay,        run, judge,    budget,     one table    change                    change
//!              catch-up,     health,        fingerprint) of kinds)   points)                   points, SLOs,
//!              quiet gate)   events, export)                                                  health score)
//!                  ▲
//!               daemon ◄── control socket ◄── cli (status, run, read commands)
//! ```
//!
//! `cli` parses the command line and calls these modules; `main` only prints and exits.
//! `pipeline` (`plan`, `purge`, `execute`) is the one way a suite runs — `perfwarden run`
//! calls it once, the daemon whenever the `scheduler::Agenda` says a suite is due: the
//! runner measures (each result committed as it is measured), `detect` judges (verdicts,
//! regression states and alert events committed in one transaction), and the health and
//! the exports follow.
//! While the daemon runs it owns the database, so the CLI's read commands reach it over the
//! control socket and it answers them with the command handler the CLI hands it. `model`
//! holds the nouns every layer shares; `resilience` the backoff, circuit breaker and retry
//! that the exporter and the load tests use and the `resilience.*` probes measure.
//!
//! Layers, top to bottom: a module imports only modules on lower lines, and modules on one
//! line do not import each other (`scripts/check-layering.py` checks this in CI):
//!
//! ```text
//! cli
//! daemon
//! pipeline
//! exit
//! report | export
//! detect
//! runner
//! scheduler
//! config
//! workload
//! store
//! model
//! stats | resilience | logging | tls
//! ```

#![warn(unreachable_pub)]

pub mod cli;
pub mod config;
pub(crate) mod daemon;
pub mod detect;
pub mod exit;
pub mod export;
pub mod logging;
pub mod model;
pub(crate) mod pipeline;
pub mod report;
pub(crate) mod resilience;
pub mod runner;
pub(crate) mod scheduler;
pub mod stats;
pub mod store;
pub(crate) mod tls;
pub mod workload;
