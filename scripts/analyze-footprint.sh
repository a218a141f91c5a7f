#!/usr/bin/env bash
# Time and peak memory of `perfwarden analyze` on long series: 10,000, 100,000 and
# 1,000,000 points (POINTS="…" to change), each a noisy level with one +5% step at 60% of
# the series (seeded, so every run analyses the same values). Measured with GNU time
# (`/usr/bin/time -f "%e %M"`: wall seconds and peak resident KB) on the release build,
# one run per size. Prints a Markdown table; docs/verdicts.md shows its output.
set -euo pipefail
cd "$(dirname "$0")/.."
points=${POINTS:-"10000 100000 1000000"}
if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked --quiet --bin perfwarden
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "| points | wall time | peak RSS | step found |"
echo "|---:|---:|---:|---|"
for n in $points; do
    python3 - "$n" "$work/series.csv" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261202)
with open(path, "w") as out:
    for i in range(n):
        out.write("%.6f\n" % (100.0 * (1.05 if i >= int(n * 0.6) else 1.0) + rng.gauss(0, 1)))
PY
    /usr/bin/time -f "%e %M" -o "$work/time" target/release/perfwarden analyze \
        --input "$work/series.csv" --format json >"$work/out.json"
    read -r secs kb <"$work/time"
    found=$(python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
cps = d.get('change_points', [])
print(', '.join('index %d (%+.1f%%)' % (c['index'], c['relative_change'] * 100) for c in cps) or 'none')
" "$work/out.json")
    printf "| %s | %s s | %s MB | %s |\n" "$n" "$secs" "$((kb / 1024))" "$found"
done
echo
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
