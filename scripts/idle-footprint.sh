#!/usr/bin/env bash
# Idle footprint of `perfwarden daemon` beside Debian's prometheus-node-exporter, in one run
# on the same machine: resident memory (VmRSS, and the peak VmHWM) after start-up, and CPU
# time used while idle over a measurement window (default 120 s; MEASURE_SECS to change).
#
# The daemon runs the embedded default config (weekly and monthly suites, so nothing is
# due during the window) with a fresh state directory; node_exporter runs with its Debian
# defaults on 127.0.0.1:9100 and is not scraped (idle, like the agent).
#
# Installs prometheus-node-exporter with apt when missing (root). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
measure=${MEASURE_SECS:-120}
settle=${SETTLE_SECS:-10}

if ! command -v prometheus-node-exporter >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-node-exporter >/dev/null
fi
cargo build --release --locked --quiet --bin perfwarden

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

env -u PERFWARDEN_CONFIG -u NOTIFY_SOCKET target/release/perfwarden \
    --state-dir "$work/state" daemon 2>"$work/perfwarden.log" &
pids+=($!)
perfwarden_pid=$!
prometheus-node-exporter --web.listen-address=127.0.0.1:9100 2>"$work/node_exporter.log" &
pids+=($!)
node_pid=$!

sleep "$settle"
ticks_per_sec=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }

p0=$(cpu_ticks "$perfwarden_pid"); n0=$(cpu_ticks "$node_pid")
sleep "$measure"
p1=$(cpu_ticks "$perfwarden_pid"); n1=$(cpu_ticks "$node_pid")

row() { # name pid ticks_before ticks_after
    local rss hwm cpu
    rss=$(kib "$2" VmRSS); hwm=$(kib "$2" VmHWM)
    cpu=$(awk -v a="$3" -v b="$4" -v hz="$ticks_per_sec" -v s="$measure" \
        'BEGIN { if (b == a) printf "< %.2f s (no clock tick in %d s)", 1 / hz, s;
                 else printf "%.2f s (%.4f%% of one core)", (b - a) / hz, 100 * (b - a) / hz / s }')
    awk -v n="$1" -v r="$rss" -v h="$hwm" -v t="$(threads "$2")" -v c="$cpu" \
        'BEGIN { printf "| %s | %.1f MiB | %.1f MiB | %s | %s |\n", n, r / 1024, h / 1024, t, c }'
    echo "$rss" >"$work/$1.rss"
}
echo "Idle footprint, ${measure} s window after ${settle} s settling, $(nproc) CPUs, $(date -u +%Y-%m-%d):"
echo
echo "| process | RSS | peak RSS | threads | CPU time while idle |"
echo "|---|---|---|---|---|"
row perfwarden "$perfwarden_pid" "$p0" "$p1"
row node_exporter "$node_pid" "$n0" "$n1"
echo
awk -v p="$(cat "$work/perfwarden.rss")" -v n="$(cat "$work/node_exporter.rss")" \
    'BEGIN { printf "perfwarden RSS / node_exporter RSS = %.2f\n", p / n }'
