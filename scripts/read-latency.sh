#!/usr/bin/env bash
# Measures how fast every read command answers on a long history: RUNS weekly runs (500 by
# default) of BENCHMARKS benchmarks (18, the size of the weekly suite), written by
# examples/demo_history.rs through the real runner, store and verdicts. Each command runs
# ROUNDS times (7); the table gives the median and the fastest wall time, and the database's
# size and bytes per stored sample. Prints a Markdown table with the date, the commit and the
# machine; docs/commands.md quotes it. KEEP=DIR keeps the history for the next call.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-500}
benchmarks=${BENCHMARKS:-18}
rounds=${ROUNDS:-7}
cargo build --release --quiet --bin perfwarden --example demo_history
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release/perfwarden"
# KEEP=DIR keeps the history in DIR and measures it again on the next call.
work=${KEEP:-$(mktemp -d)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
if [ ! -e "$work/state/perfwarden.redb" ]; then
    echo "writing $runs weekly runs of $benchmarks benchmarks (about 2 minutes)..." >&2
    "$target/release/examples/demo_history" "$work/state" --weeks "$runs" --benchmarks "$benchmarks" --until-now >&2
fi
last=$("$bin" --state-dir "$work/state" runs --format json | python3 -c 'import json,sys; print(max(r["id"] for r in json.load(sys.stdin)["runs"]))')
first=$((last - 1))
python3 - "$bin" "$work/state" "$rounds" "$first" "$last" "$runs" "$benchmarks" <<'EOF'
import os, statistics, subprocess, sys, time
bin, state, rounds, first, last, runs, benchmarks = sys.argv[1:]
rounds = int(rounds)
commands = [
    ["runs"],
    ["show", last],
    ["compare", first, last],
    ["history", "memory.alloc"],
    ["changes"],
    ["regressions", "--all"],
    ["baseline", "show"],
    ["report"],
    ["status"],
    ["fingerprint"],
]
db = os.path.join(state, "perfwarden.redb")
size = os.path.getsize(db)
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
print(f"\n{time.strftime('%Y-%m-%d', time.gmtime())}, commit {rev}, {os.cpu_count()} CPUs ({cpu}), "
      f"{runs} weekly runs x {benchmarks} benchmarks, database {size / 2**20:.1f} MiB\n")
print("| command | median | fastest |")
print("|---|---|---|")
for args in commands:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = subprocess.run([bin, "--state-dir", state, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        # status without a daemon exits 4 by design; anything else is a failure.
        if done.returncode not in (0, 4 if args[0] == "status" else 0):
            sys.exit(f"perfwarden {' '.join(args)} exited {done.returncode}")
    print(f"| `{' '.join(args)}` | {statistics.median(times) * 1000:.1f} ms | {min(times) * 1000:.1f} ms |")
EOF
