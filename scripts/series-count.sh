#!/usr/bin/env bash
# How many Prometheus series one agent exports, measured, so a fleet's Prometheus, Mimir or
# Thanos can be sized: the daemon's /metrics is counted (samples, metric names) for
#   1. the embedded default config after one --quick run of each of its suites (daily,
#      weekly, monthly), on a fresh state directory;
#   2. a large config: 200 benchmarks with two years of weekly history
#      (examples/demo_history.rs --benchmarks 200).
# With each: the series the shipped fleet recording rules add per host (4 per benchmark
# whose median is a duration, a rate or a bandwidth) and the total for 10,000 hosts.
# Uses the dev build the tests share. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet --bin perfwarden --example demo_history
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/debug/perfwarden"
work=$(mktemp -d)
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The daemon's exposition of a state directory: "samples names peer_inputs".
exposition() { # state_dir
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '[daemon]\nsplay = "0s"\n[export.prometheus]\nlisten = "127.0.0.1:%s"\n' "$port" >"$work/listen.toml"
    env -u PERFWARDEN_CONFIG -u NOTIFY_SOCKET "$bin" --config "$work/listen.toml" --state-dir "$1" daemon 2>"$work/daemon.log" &
    daemon_pid=$!
    python3 - "$port" <<'PY'
import sys, time, urllib.request
port = sys.argv[1]
# Until the daemon has rendered the store once (it answers, empty, before that).
deadline = time.time() + 300
while True:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        if "target_info" in body:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("the daemon's /metrics did not answer with its series")
    time.sleep(0.2)
samples = [l for l in body.splitlines() if l and not l.startswith("#")]
names = {l.split("{")[0].split(" ")[0] for l in samples}
primaries = ("perfwarden_benchmark_duration_seconds", "perfwarden_benchmark_throughput_per_second",
             "perfwarden_benchmark_bandwidth_bytes_per_second")
peer_inputs = sum(1 for l in samples if l.startswith(primaries) and 'statistic="median"' in l)
print(len(samples), len(names), peer_inputs)
PY
    kill "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=
}

default_state="$work/default"
for suite in daily weekly monthly; do
    env -u PERFWARDEN_CONFIG "$bin" --state-dir "$default_state" run "$suite" --quick >/dev/null 2>&1 || true
done
read -r default_samples default_names default_peer < <(exposition "$default_state")

large_state="$work/large"
"$target_dir/debug/examples/demo_history" "$large_state" --weeks 104 --benchmarks 200 --until-now >/dev/null
read -r large_samples large_names large_peer < <(exposition "$large_state")

row() { # what, samples, names, peer inputs
    local per_host=$(($2 + 4 * $4))
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$((4 * $4))" "$per_host" \
        "$(awk -v n="$per_host" 'BEGIN { printf "%.1f M", n * 10000 / 1e6 }')"
}
echo "| config | series on /metrics | metric names | fleet recording rules, per host | per host in all | 10,000 hosts |"
echo "|---|---|---|---|---|---|"
row "embedded default (daily, weekly and monthly suites run once)" "$default_samples" "$default_names" "$default_peer"
row "200 benchmarks, two years of weekly history" "$large_samples" "$large_names" "$large_peer"
echo
echo "The recording rules also write 3 series per hardware class and benchmark (median, host"
echo "count, spread), shared by the class's hosts."
