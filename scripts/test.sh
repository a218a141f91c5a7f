#!/usr/bin/env bash
# Runs every test: unit tests, integration tests (the real binary, signals, the redb
# store, bad-config snapshots, JSON schema validation) and doc tests. No system packages
# or network are needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets
cargo test --locked --doc
