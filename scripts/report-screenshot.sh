#!/usr/bin/env bash
# Makes the report screenshot the README shows (docs/report-screenshot.png) and the page it
# is taken from (docs/report-example.html): a made-up but fully judged history of 16 weekly
# runs (examples/demo_history.rs: a kernel upgrade that slows memory.alloc by 18% and a
# load test by 9%, a regression that came and went, a slow drift), rendered by
# `perfwarden report --format html` and photographed by headless Chromium.
# Needs chromium (scripts/install-test-servers.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin perfwarden --example demo_history
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$target/release/examples/demo_history" "$work/state"
"$target/release/perfwarden" --state-dir "$work/state" report --format html --output docs/report-example.html
echo "perfwarden --state-dir $work/state report --format html --output docs/report-example.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1900 \
    --user-data-dir="$work/chromium" --screenshot="$PWD/docs/report-screenshot.png" \
    "file://$PWD/docs/report-example.html" 2>/dev/null
ls -l docs/report-screenshot.png docs/report-example.html
