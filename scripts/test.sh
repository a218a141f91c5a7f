#!/usr/bin/env bash
# Runs every test: unit tests, integration tests (the real binary, the daemon as a process,
# signals, the redb store, bad-config snapshots, JSON schema validation, OTLP export to an
# in-process receiver, Prometheus and Alertmanager end to end), the systemd unit checks
# (scripts/check-systemd.sh; installs Debian's systemd package for systemd-analyze if it
# is missing), the alert rules and routing with promtool and amtool
# (scripts/check-alerts.sh), and the Debian package booted under systemd-nspawn
# (scripts/check-nspawn.sh: builds the release package, debootstraps Debian 12 once into
# the target directory). Debian's prometheus and prometheus-alertmanager are installed
# first when missing (scripts/install-test-servers.sh). Ends with one total line:
# "tests: N passed, N failed". First, the module layering (scripts/check-layering.py) and
# the check's own test.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
./scripts/check-layering.py 2>&1 | tee -a "$log" || status=$?
./scripts/check-layering.py --self-test 2>&1 | tee -a "$log" || status=$?
# The end-to-end tests (tests/stack.rs) start a real Prometheus and Alertmanager.
./scripts/install-test-servers.sh
cargo test --locked --all-targets --no-fail-fast 2>&1 | tee -a "$log" || status=$?
./scripts/check-systemd.sh 2>&1 | tee -a "$log" || status=$?
./scripts/check-alerts.sh 2>&1 | tee -a "$log" || status=$?
# The Debian package under a real systemd (Debian 12 in systemd-nspawn).
./scripts/check-nspawn.sh 2>&1 | tee -a "$log" || status=$?
awk '/^test result:|^systemd:|^alerts:|^nspawn:|^layering:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed[;,]?$/) p += $(i-1); if ($(i) ~ /^failed[;,]?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
