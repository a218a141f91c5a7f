#!/usr/bin/env bash
# Evaluates the regression verdicts on seeded synthetic histories (noise models × steps)
# and prints the table of docs/verdicts.md: false alarms per 100 runs and recall within 1-3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release --example evaluate
