#!/usr/bin/env bash
# Measures what the report costs on a large history: two years of weekly runs of 200
# benchmarks (examples/demo_history.rs writes them through the real runner, store and
# verdicts), then the wall time (best of 5) and the size of `report` in HTML, Markdown and
# JSON and of `history --format svg` (the JSON carries every run of every benchmark). Prints a Markdown table with the date, the commit and
# the machine; the README quotes its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
weeks=${WEEKS:-104}
benchmarks=${BENCHMARKS:-200}
cargo build --release --quiet --bin perfwarden --example demo_history
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release/perfwarden"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "writing $weeks weekly runs of $benchmarks benchmarks (about 2 minutes)..." >&2
"$target/release/examples/demo_history" "$work/state" --weeks "$weeks" --benchmarks "$benchmarks" --until-now
measure() { # label, output file, command...
    local label=$1 out=$2
    shift 2
    local best=999999
    for _ in 1 2 3 4 5; do
        local start end ms
        start=$(date +%s%N)
        "$@" --output "$out"
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        (( ms < best )) && best=$ms
    done
    printf '| %s | %d ms | %s |\n' "$label" "$best" "$(numfmt --to=iec-i --suffix=B "$(stat -c %s "$out")")"
}
echo
echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $weeks weekly runs × $benchmarks benchmarks, database $(numfmt --to=iec-i --suffix=B "$(stat -c %s "$work/state/perfwarden.redb")")"
echo
echo "| output | time (best of 5) | size |"
echo "|---|---|---|"
measure "report --format html" "$work/report.html" "$bin" --state-dir "$work/state" report --format html
measure "report --since 30d --format html" "$work/review.html" "$bin" --state-dir "$work/state" report --since 30d --format html
measure "report --format markdown" "$work/report.md" "$bin" --state-dir "$work/state" report --format markdown
measure "report --format json" "$work/report.json" "$bin" --state-dir "$work/state" report --format json
measure "history memory.alloc --format svg" "$work/history.svg" "$bin" --state-dir "$work/state" history memory.alloc --format svg
