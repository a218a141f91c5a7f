#!/usr/bin/env bash
# The `command` probe beside hyperfine on the same command, in one run on this machine.
#
# The command is `gzip -6 -c` of a 4 MiB file of mixed text (about 100 ms here), spawned
# without a shell by both (`hyperfine -N`), output discarded, after warm-up runs. Runs
# are interleaved (hyperfine, perfwarden, …) for ROUNDS rounds; the ratio of the mean
# wall times is the median of the per-round ratios. perfwarden's mean is its
# `wall_time_mean` measurement (every measured run), hyperfine's its JSON `mean`.
#
# Acceptance (issue 6): perfwarden's mean within ±2% of hyperfine's.
#
# Usage: scripts/compare-hyperfine.sh   (ROUNDS=3 RUNS=40)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-40}

if ! command -v hyperfine >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "install: apt-get install hyperfine" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
fi
cargo build --quiet --release
bin=$PWD/target/release/perfwarden
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/input.txt" <<'PY'
import random, sys
random.seed(6)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(2, 9))) for _ in range(5000)]
with open(sys.argv[1], 'w') as f:
    size = 0
    while size < 4 * 1024 * 1024:
        line = ' '.join(random.choice(words) for _ in range(12)) + '\n'
        f.write(line)
        size += len(line)
PY
gzip_bin=$(command -v gzip)

cat >"$work/command.toml" <<TOML
[suites.compare]
schedule = "@weekly"
benchmarks = ["gzip"]

[benchmarks.gzip]
kind = "command"
command = ["$gzip_bin", "-6", "-c", "$work/input.txt"]
warmup = "300ms"
samples = $RUNS
min_time = "1s"
time_budget = "10m"
timeout = "20m"
TOML

hyperfine_mean() {
    hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$work/hf.json" \
        "$gzip_bin -6 -c $work/input.txt" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/hf.json"
}
perfwarden_mean() {
    rm -rf "$work/state"
    "$bin" --state-dir "$work/state" --config "$work/command.toml" --format json run compare >"$work/pw.json" || true
    python3 -c '
import json, sys
result = json.load(open(sys.argv[1]))["results"][0]
assert result["status"] == "ok", result["error"]
m = {m["name"]: m["value"] for m in result["details"]["measurements"]}
print(m["wall_time_mean"], int(m["runs"]))
' "$work/pw.json"
}

echo "command: gzip -6 -c (4 MiB text); $ROUNDS rounds; hyperfine $(hyperfine --version | awk '{print $2}')"
printf '%-6s %14s %14s %8s %8s\n' round hyperfine_ms perfwarden_ms runs ratio
: >"$work/rounds"
for round in $(seq "$ROUNDS"); do
    hf=$(hyperfine_mean)
    read -r pw runs < <(perfwarden_mean)
    ratio=$(python3 -c "print(f'{$pw / $hf:.4f}')")
    printf '%-6s %14.3f %14.3f %8s %8s\n' "$round" "$(python3 -c "print($hf*1000)")" "$(python3 -c "print($pw*1000)")" "$runs" "$ratio"
    echo "$ratio" >>"$work/rounds"
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
ratios = [float(line) for line in open(sys.argv[1])]
print(f"mean wall time  perfwarden / hyperfine = {statistics.median(ratios):.4f}   (acceptance 0.98 - 1.02)")
PY
