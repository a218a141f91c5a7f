//! The ground floor: the nouns every layer shares, and nothing that does work on its own.
//!
//! The export format and integrity summary of `perfwarden db` ([`archive`]); what a benchmark measures ([`metric`]), the records the store persists ([`records`]),
//! the verdicts and regressions ([`verdict`]) with the history findings they carry
//! ([`history`]), the alert events ([`event`]), per-benchmark options ([`options`]),
//! durations and percentages with units ([`units`]), the SLO language ([`slo`]), secrets
//! ([`secret`]) and the clock ([`clock`]). Keeping them here lets the store, the detector,
//! the reports and the exports agree on one definition each without importing each other:
//! this module imports only `stats` (and the standard library and serde).

pub mod archive;
pub mod clock;
pub(crate) mod event;
pub mod history;
pub mod metric;
pub mod options;
pub mod records;
pub(crate) mod secret;
pub(crate) mod slo;
pub(crate) mod status;
pub(crate) mod units;
pub mod verdict;

/// The build, as `perfwarden --version` prints it after the name: the version, the commit
/// (`-dirty` with uncommitted changes; `unknown` outside a git checkout), the build date,
/// the compiler and the target (see `build.rs`).
pub const BUILD_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PERFWARDEN_COMMIT"),
    ", built ",
    env!("PERFWARDEN_BUILD_DATE"),
    ", ",
    env!("PERFWARDEN_RUSTC"),
    ", ",
    env!("PERFWARDEN_TARGET"),
    ")"
);

/// The commit the binary was built from (`unknown` outside a git checkout).
pub const BUILD_COMMIT: &str = env!("PERFWARDEN_COMMIT");
/// The day it was built (`SOURCE_DATE_EPOCH`'s when set), `YYYY-MM-DD` in UTC.
pub const BUILD_DATE: &str = env!("PERFWARDEN_BUILD_DATE");
/// The compiler that built it, as `rustc --version` says.
pub const BUILD_RUSTC: &str = env!("PERFWARDEN_RUSTC");
