#!/usr/bin/env bash
# cpu.primes beside `sysbench cpu --cpu-max-prime=10000` on this machine, in one run.
#
# Both count the same event (trial division of every number below 10000), so their
# events/s should agree. Runs are interleaved (sysbench, perfwarden, sysbench, …) for
# ROUNDS rounds so that drift of the host hits both alike; the ratio is the median of the
# per-round ratios. Then five back-to-back `--quick` runs of cpu-primes-1t give the
# coefficient of variation of the run medians (acceptance: at most 2% on an idle host).
#
# Usage: scripts/compare-sysbench.sh        (ROUNDS=3 SECONDS_PER_RUN=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

if ! command -v sysbench >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq sysbench >/dev/null
    else
        echo "sysbench is not installed: apt-get install sysbench" >&2
        exit 1
    fi
fi
cargo build --quiet --release
bin=target/release/perfwarden
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
threads_all=$(nproc)

# A config whose cpu.primes benchmarks sample for as long as sysbench runs.
cat >"$state/compare.toml" <<TOML
[benchmarks.cpu-primes-1t]
kind = "cpu.primes"
max_prime = 10000
threads = 1
warmup = "1s"
min_time = "${SECONDS_PER_RUN}s"
time_budget = "$((SECONDS_PER_RUN + 30))s"

[benchmarks.cpu-primes-all]
kind = "cpu.primes"
max_prime = 10000
threads = "all"
warmup = "1s"
min_time = "${SECONDS_PER_RUN}s"
time_budget = "$((SECONDS_PER_RUN + 30))s"
TOML

sysbench_eps() {
    sysbench cpu --cpu-max-prime=10000 --threads="$1" --time="$SECONDS_PER_RUN" run |
        awk '/events per second/ {print $4}'
}
perfwarden_eps() {
    "$bin" run weekly --config "$state/compare.toml" --state-dir "$state/db" --bench "$1" --format json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["summary"]["median"])'
}

results=()
for round in $(seq 1 "$ROUNDS"); do
    for variant in 1t all; do
        n=1
        [ "$variant" = all ] && n=$threads_all
        s=$(sysbench_eps "$n")
        p=$(perfwarden_eps "cpu-primes-$variant")
        echo "round $round, threads=$n: sysbench $s events/s, perfwarden $p events/s" >&2
        results+=("$variant $n $s $p")
    done
done

quick=()
for i in 1 2 3 4 5; do
    quick+=("$("$bin" run weekly --quick --state-dir "$state/quick" --bench cpu-primes-1t --format json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["summary"]["median"])')")
done

python3 - "$threads_all" "${quick[*]}" "${results[@]}" <<'PY'
import statistics, sys
threads_all = sys.argv[1]
quick = [float(v) for v in sys.argv[2].split()]
rows = {}
for line in sys.argv[3:]:
    variant, n, s, p = line.split()
    rows.setdefault((variant, n), []).append((float(s), float(p)))
print("| threads | sysbench events/s | perfwarden events/s | ratio (perfwarden / sysbench) |")
print("|---|---|---|---|")
for (variant, n), pairs in rows.items():
    ratios = [p / s for s, p in pairs]
    print(f"| {n} | {statistics.median(s for s, _ in pairs):.1f} | "
          f"{statistics.median(p for _, p in pairs):.1f} | {statistics.median(ratios):.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)}) |")
cv = statistics.stdev(quick) / statistics.mean(quick)
print()
print(f"five back-to-back quick runs of cpu-primes-1t: medians "
      f"{', '.join(f'{q:.1f}' for q in quick)} events/s; CV of the run medians {cv*100:.2f}%")
PY
