#!/usr/bin/env bash
# Evaluates the regression verdicts on seeded synthetic histories (noise models × steps)
# on a shipped calendar (weekly by default, `daily` or `monthly`) with confirmation runs,
# and prints the tables of docs/verdicts.md: false alarms, recall within 1-3 runs,
# latency, persistence, re-regression, blips and a software change. `trend` prints
# instead what the history analysis finds within 30 days on the default config's
# schedules.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release --example evaluate -- "$@"
