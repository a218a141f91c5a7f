#!/usr/bin/env bash
# How the daemon's resident memory grows with use, in one run on this machine: a fresh
# daemon (the embedded default config plus one small suite of multi-threaded and
# allocating probes) is asked for RUNS runs of that suite through its socket (--quick),
# and its VmRSS (with its anonymous and file parts) is read when idle, SETTLE seconds
# after each run, and before the first. A daemon that keeps memory its finished runs no
# longer use grows run after run; one that returns it stays level. Prints a Markdown
# table and the growth.
#
# Usage: scripts/daemon-growth.sh   (RUNS=20, SETTLE=2; PERFWARDEN_BIN for another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
if [ -z "${PERFWARDEN_BIN:-}" ]; then
    cargo build --release --locked --quiet --bin perfwarden
    target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    PERFWARDEN_BIN="$target_dir/release/perfwarden"
fi
bin=$PERFWARDEN_BIN
work=$(mktemp -d)
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/config.toml" <<'TOML'
[daemon]
splay = "0s"
[daemon.quiet]
enabled = false
[suites.growth]
schedule = "@yearly"
benchmarks = ["cpu-primes-all", "cpu-parallel", "memory-alloc-large", "parse-json", "async-tasks", "sync-lockfree"]
TOML
cli() { env -u PERFWARDEN_CONFIG -u NOTIFY_SOCKET "$bin" --config "$work/config.toml" --state-dir "$work/state" "$@"; }
# Started directly (not through the function), so $! is the daemon's own pid.
env -u PERFWARDEN_CONFIG -u NOTIFY_SOCKET "$bin" --config "$work/config.toml" --state-dir "$work/state" daemon 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do cli status >/dev/null 2>&1 && break; sleep 0.1; done
# VmRSS and its parts: anonymous memory (the heap, stacks) and file pages (the binary's
# own code and data as it is paged in).
rss() { sleep "${SETTLE:-2}"; awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s%.1f", sep, $2 / 1024; sep = " | " }' "/proc/$daemon_pid/status"; }

echo "| after run | idle VmRSS (MiB) | anonymous | file |"
echo "|---|---|---|---|"
first=$(rss)
echo "| 0 (fresh) | $first |"
last=$first
for run in $(seq "$runs"); do
    cli run growth --quick >/dev/null 2>&1 || { echo "run $run failed:"; tail -n 5 "$work/daemon.log"; exit 1; }
    last=$(rss)
    echo "| $run | $last |"
done
first=${first%% *}
last=${last%% *}
awk -v a="$first" -v b="$last" 'BEGIN { printf "\ngrowth over the runs: %+.1f MiB (%+.0f%%)\n", b - a, (b / a - 1) * 100 }'
