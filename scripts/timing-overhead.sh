#!/usr/bin/env bash
# Measures the runner's per-sample timing overhead (goal: under 100 ns). See
# examples/timing_overhead.rs for what is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release --example timing_overhead
