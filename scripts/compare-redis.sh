#!/usr/bin/env bash
# cache.redis beside redis-benchmark against one redis-server on loopback, in one run.
#
# Same clients (CLIENTS, default 50), same value size (256 bytes), same key space (10 000
# keys): redis-benchmark `-t set,get -d 256 -r 10000` (its GETs read the keys its SETs
# wrote), perfwarden with two cache.redis benchmarks, all SET (write_percent = 100) and
# all GET (read_percent = 100, its keys written before the load). Runs are interleaved
# for ROUNDS rounds; each ratio is the median of the per-round ratios. perfwarden's ops/s
# is its `operations_per_second` measurement (every operation over the measured time).
#
# Acceptance (issue 6): ops/s >= 0.95x redis-benchmark's.
#
# Usage: scripts/compare-redis.sh   (ROUNDS=3 REQUESTS=600000 SECONDS_PER_RUN=8 CLIENTS=50)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-600000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
CLIENTS=${CLIENTS:-50}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "install: apt-get install redis-server redis-tools" >&2; exit 1; }
    policy=/usr/sbin/policy-rc.d
    [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi
cargo build --quiet --release
bin=$PWD/target/release/perfwarden
work=$(mktemp -d)
redis_pid=""
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$work/redis.toml" <<TOML
[suites.set]
schedule = "@weekly"
benchmarks = ["set"]

[suites.get]
schedule = "@weekly"
benchmarks = ["get"]

[benchmarks.set]
kind = "cache.redis"
url = "redis://127.0.0.1:$port/0"
clients = $CLIENTS
value_bytes = 256
keys = 10000
read_percent = 0
write_percent = 100
duration = "${SECONDS_PER_RUN}s"

[benchmarks.get]
kind = "cache.redis"
url = "redis://127.0.0.1:$port/0"
clients = $CLIENTS
value_bytes = 256
keys = 10000
read_percent = 100
write_percent = 0
duration = "${SECONDS_PER_RUN}s"
TOML

perfwarden_ops() {
    rm -rf "$work/state"
    "$bin" --state-dir "$work/state" --config "$work/redis.toml" --format json run "$1" >"$work/pw.json" || true
    python3 -c '
import json, sys
result = json.load(open(sys.argv[1]))["results"][0]
assert result["status"] == "ok", result["error"]
print(next(m["value"] for m in result["details"]["measurements"] if m["name"] == "operations_per_second"))
' "$work/pw.json"
}

echo "redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port; $CLIENTS clients, 256-byte values, 10000 keys, $ROUNDS rounds"
printf '%-6s %12s %12s %12s %12s\n' round rb_set pw_set rb_get pw_get
: >"$work/rounds"
for round in $(seq "$ROUNDS"); do
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -d 256 -r 10000 -n "$REQUESTS" -t set,get --csv >"$work/rb.csv" 2>/dev/null
    rb_set=$(awk -F'"' '$2 == "SET" {print $4}' "$work/rb.csv")
    rb_get=$(awk -F'"' '$2 == "GET" {print $4}' "$work/rb.csv")
    pw_set=$(perfwarden_ops set)
    pw_get=$(perfwarden_ops get)
    printf '%-6s %12.0f %12.0f %12.0f %12.0f\n' "$round" "$rb_set" "$pw_set" "$rb_get" "$pw_get"
    echo "$rb_set $pw_set $rb_get $pw_get" >>"$work/rounds"
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
print(f"SET ops/s  perfwarden / redis-benchmark = {statistics.median(r[1] / r[0] for r in rows):.3f}   (acceptance >= 0.95)")
print(f"GET ops/s  perfwarden / redis-benchmark = {statistics.median(r[3] / r[2] for r in rows):.3f}   (acceptance >= 0.95)")
PY
