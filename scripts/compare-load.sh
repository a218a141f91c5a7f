#!/usr/bin/env bash
# load.http beside wrk and oha against nginx on loopback, in one run on this machine.
#
# nginx serves a small static body with keep-alive requests raised (one connection per
# user for the whole test). Each tool uses the same number of connections (CONNECTIONS,
# default 50) for the same time, closed model, HTTP/1.1. Runs are interleaved (wrk, oha,
# perfwarden, wrk, …) for ROUNDS rounds; each ratio is the median of the per-round
# ratios. Peak RSS of each tool's process comes from GNU time.
#
# perfwarden's requests/s is the `requests_per_second` measurement of the load test
# (every request over the measured time, ramp-up excluded); wrk's is its Requests/sec,
# oha's its summary requestsPerSec.
#
# Acceptance (issue 6): requests/s >= 0.9x wrk and >= 1.0x oha; peak RSS <= oha's.
#
# Usage: scripts/compare-load.sh   (ROUNDS=3 SECONDS_PER_RUN=10 CONNECTIONS=50)
# Needs nginx, wrk, GNU time (apt) and oha (cargo install oha); installs them as root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=$(nproc)

need_apt=()
command -v nginx >/dev/null || need_apt+=(nginx-light)
command -v wrk >/dev/null || need_apt+=(wrk)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ ${#need_apt[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "install: apt-get install ${need_apt[*]}" >&2; exit 1; }
    policy=/usr/sbin/policy-rc.d
    [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
OHA=${OHA:-$(command -v oha || true)}
if [ -z "$OHA" ]; then
    cargo install --quiet --locked oha --root target/peers
    OHA=target/peers/bin/oha
fi

cargo build --quiet --release
bin=$PWD/target/release/perfwarden
work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as an unprivileged user
nginx_pid=""
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/nginx"
printf 'perfwarden load test body\n' >"$work/www/index.html"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
        index index.html;
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
url="http://127.0.0.1:$port/"

cat >"$work/load.toml" <<TOML
[suites.compare]
schedule = "@weekly"
benchmarks = ["nginx"]

[benchmarks.nginx]
kind = "load.http"
url = "$url"
users = $CONNECTIONS
ramp_up = "1s"
duration = "${SECONDS_PER_RUN}s"
http = "http1"
TOML

# Prints "requests_per_second peak_rss_kib".
run_wrk() {
    /usr/bin/time -f 'RSS %M' -o "$work/time" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" "$url" >"$work/wrk.out"
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
    echo "$rps $(awk '/RSS/ {print $2}' "$work/time")"
}
run_oha() {
    /usr/bin/time -f 'RSS %M' -o "$work/time" \
        "$OHA" --no-tui --output-format json -c "$CONNECTIONS" -z "${SECONDS_PER_RUN}s" "$url" >"$work/oha.json"
    rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' "$work/oha.json")
    echo "$rps $(awk '/RSS/ {print $2}' "$work/time")"
}
run_perfwarden() {
    rm -rf "$work/state"
    /usr/bin/time -f 'RSS %M' -o "$work/time" \
        "$bin" --state-dir "$work/state" --config "$work/load.toml" --format json run compare >"$work/pw.json" || true
    rps=$(python3 -c '
import json, sys
result = json.load(open(sys.argv[1]))["results"][0]
assert result["status"] == "ok", result["error"]
print(next(m["value"] for m in result["details"]["measurements"] if m["name"] == "requests_per_second"))
' "$work/pw.json")
    echo "$rps $(awk '/RSS/ {print $2}' "$work/time")"
}

echo "nginx on $url; $CONNECTIONS connections, ${SECONDS_PER_RUN} s per run, $ROUNDS rounds, $THREADS threads"
"$OHA" --version 2>/dev/null | head -1 || true
printf '%-6s %12s %12s %12s %10s %10s %10s\n' round wrk_rps oha_rps pw_rps wrk_kib oha_kib pw_kib
: >"$work/rounds"
for round in $(seq "$ROUNDS"); do
    read -r wrk_rps wrk_rss < <(run_wrk)
    read -r oha_rps oha_rss < <(run_oha)
    read -r pw_rps pw_rss < <(run_perfwarden)
    printf '%-6s %12.0f %12.0f %12.0f %10s %10s %10s\n' "$round" "$wrk_rps" "$oha_rps" "$pw_rps" "$wrk_rss" "$oha_rss" "$pw_rss"
    echo "$wrk_rps $oha_rps $pw_rps $wrk_rss $oha_rss $pw_rss" >>"$work/rounds"
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
vs_wrk = statistics.median(r[2] / r[0] for r in rows)
vs_oha = statistics.median(r[2] / r[1] for r in rows)
rss_vs_oha = statistics.median(r[5] / r[4] for r in rows)
print(f"requests/s  perfwarden / wrk = {vs_wrk:.3f}   (acceptance >= 0.9)")
print(f"requests/s  perfwarden / oha = {vs_oha:.3f}   (acceptance >= 1.0)")
print(f"peak RSS    perfwarden / oha = {rss_vs_oha:.3f}   (acceptance <= 1.0)")
PY
