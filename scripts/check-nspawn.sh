#!/usr/bin/env bash
# The Debian package under a real systemd: builds the .deb (scripts/build-deb.sh), boots
# Debian 12 in a systemd-nspawn container (--boot --register=no --keep-unit), installs the
# package inside with dpkg -i and checks what an SRE does with it:
#   - the unit is enabled and not started by the install; the config is a conffile;
#   - man perfwarden-run, and bash completion of `perfwarden ru<TAB>`;
#   - systemctl enable --now reaches active (running) through Type=notify, with a STATUS;
#   - perfwarden status and `run weekly --quick` through the socket, every probe succeeding
#     under the unit's hardening;
#   - process.memory watching another service: refused with the fix under
#     ProtectProc=invisible, working once the shipped drop-in is installed;
#   - an OTLP header from LoadCredential= reaches an OTLP receiver (on loopback, outside the
#     container) and appears nowhere in the journal;
#   - systemctl reload with a broken config keeps the old one, and journalctl -p warning
#     shows each problem readably (no colour codes);
#   - systemctl stop in the middle of a run marks the run interrupted;
#   - apt purge leaves nothing but the state directory.
# The debootstrapped tree is cached in the target directory (target/nspawn/) and copied
# for each run; the container and its copy live in a temporary directory. Needs root;
# installs systemd-container and debootstrap when missing. Never skips: anything missing
# is a failure. Prints "nspawn: N passed, M failed" for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "check-nspawn: needs root (systemd-nspawn, debootstrap)" >&2
    echo "nspawn: 0 passed, 1 failed"
    exit 1
fi
missing=()
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
deb=$(./scripts/build-deb.sh | tail -n 1)

# The cached tree: named by what it holds, rebuilt when that list changes.
packages=systemd,systemd-sysv,dbus,man-db,bash-completion,procps
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
cache="$target_dir/nspawn/bookworm-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
if [ ! -f "$cache/.complete" ]; then
    rm -rf "$cache.partial"
    mkdir -p "$(dirname "$cache")"
    echo "check-nspawn: debootstrap Debian 12 into $cache (cached for later runs)" >&2
    debootstrap --variant=minbase --include="$packages" bookworm "$cache.partial" "$mirror" >"$target_dir/nspawn/debootstrap.log" 2>&1 ||
        { tail -n 20 "$target_dir/nspawn/debootstrap.log" >&2; echo "nspawn: 0 passed, 1 failed"; exit 1; }
    rm -rf "$cache"
    mv "$cache.partial" "$cache"
    touch "$cache/.complete"
fi

work=$(mktemp -d)
root="$work/root"
nspawn_pid=
leader=
receiver_pid=
cleanup() {
    if [ -n "$leader" ]; then
        nsenter -t "$leader" -a -- systemctl poweroff >/dev/null 2>&1 || true
        for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    fi
    [ -n "$nspawn_pid" ] && kill -9 "$nspawn_pid" 2>/dev/null || true
    [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cp -a --reflink=auto "$cache" "$root"
echo perfwarden-test >"$root/etc/hostname"
cp "$deb" "$root/root/perfwarden.deb"

passed=0
failed=0
check() { # description, command... (run on the host; `inside` runs in the container)
    local what=$1
    shift
    if output=$("$@" 2>&1); then
        # A check's own summary (its last line, when short) goes with it.
        local detail
        detail=$(printf '%s\n' "$output" | tail -n 1)
        if [ -n "$detail" ] && [ ${#detail} -le 120 ]; then echo "ok: $what: $detail"; else echo "ok: $what"; fi
        passed=$((passed + 1))
    else
        echo "FAILED: $what" >&2
        printf '%s\n' "$output" | tail -n 40 >&2
        failed=$((failed + 1))
    fi
}
inside() { nsenter -t "$leader" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
wait_for() { # seconds, command...
    local seconds=$1
    shift
    for _ in $(seq $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    "$@"
}

# An OTLP/HTTP receiver on loopback outside the container (which shares the host's
# network): it records each request's path and authorization header.
receiver_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$receiver_port" "$work/otlp-requests" <<'EOF' &
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(log, "a") as out:
            out.write(f"{self.path} {self.headers.get('authorization')}\n")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
EOF
receiver_pid=$!

systemd-nspawn --boot --register=no --keep-unit --quiet -D "$root" >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 100); do
    leader=$(pgrep -P "$nspawn_pid" | head -n 1 || true)
    [ -n "$leader" ] && break
    sleep 0.1
done
booted() { state=$(inside systemctl is-system-running 2>/dev/null || true); [ "$state" = running ] || [ "$state" = degraded ]; }
if [ -z "$leader" ] || ! wait_for 60 booted; then
    echo "FAILED: the container did not boot" >&2
    tail -n 40 "$work/console.log" >&2
    echo "nspawn: $passed passed, $((failed + 1)) failed"
    exit 1
fi
echo "ok: Debian 12 booted under systemd-nspawn ($(inside systemctl --version | head -n 1))"
passed=$((passed + 1))

# --- The package ----------------------------------------------------------------------
unpacked="$work/unpacked"
dpkg-deb -x "$deb" "$unpacked"
binary_stripped() {
    if readelf -S "$unpacked/usr/bin/perfwarden" | grep -q '\.debug_info'; then
        echo "/usr/bin/perfwarden carries debug info"
        return 1
    fi
    ls "$unpacked"/usr/lib/debug/.build-id/*/*.debug >/dev/null
}
check "the packaged binary is stripped, its debug info in /usr/lib/debug/.build-id" binary_stripped
check "dpkg -i installs the package" inside dpkg -i /root/perfwarden.deb
unit_enabled_not_started() {
    [ "$(inside systemctl is-enabled perfwarden)" = enabled ] || { echo "not enabled"; return 1; }
    if inside systemctl is-active --quiet perfwarden; then echo "started by the install"; return 1; fi
}
check "the install enables the unit and does not start it" unit_enabled_not_started
conffile() { inside dpkg-query -W -f='${Conffiles}' perfwarden | grep " /etc/perfwarden/perfwarden.toml "; }
check "the config is a conffile" conffile
check "--version names the commit" sh -c "nsenter -t $leader -a perfwarden --version | grep commit"
man_page() { inside env MANPAGER=cat MANWIDTH=80 man perfwarden-run | grep -q "perfwarden-run"; }
check "man perfwarden-run" man_page
complete_ru() {
    local words
    words=$(inside bash -c 'source /usr/share/bash-completion/bash_completion
        source /usr/share/bash-completion/completions/perfwarden
        COMP_WORDS=(perfwarden ru); COMP_CWORD=1; COMP_LINE="perfwarden ru"; COMP_POINT=${#COMP_LINE}
        _perfwarden perfwarden ru perfwarden
        printf "%s\n" "${COMPREPLY[@]}"' | sort | tr '\n' ' ')
    [ "$words" = "run runs " ] || { echo "completions: '$words'"; return 1; }
}
check "bash completes perfwarden ru<TAB> to run and runs" complete_ru

# --- The service ----------------------------------------------------------------------
# A service for process.memory to watch (another user's processes), the OTLP token as a
# credential, and a config exporting to the receiver with a suite that watches it.
inside sh -c 'cat >/etc/systemd/system/pw-watched.service <<UNIT
[Service]
DynamicUser=yes
ExecStart=/bin/sleep infinity
UNIT
systemctl daemon-reload && systemctl start pw-watched'
inside sh -c 'install -d -m 0700 /etc/perfwarden/credentials &&
    printf "Bearer nspawn-secret-4f2a" >/etc/perfwarden/credentials/otlp-token &&
    install -d /etc/systemd/system/perfwarden.service.d &&
    printf "[Service]\nLoadCredential=otlp-token:/etc/perfwarden/credentials/otlp-token\n" >/etc/systemd/system/perfwarden.service.d/credential.conf'
inside sh -c "cat >/etc/perfwarden/perfwarden.toml <<TOML
# Laid over the embedded default: its suites stay, with these additions.
[export.otlp]
endpoint = \"http://127.0.0.1:$receiver_port\"
interval = \"5s\"
[export.otlp.headers]
authorization = { credential = \"otlp-token\" }

[suites.watch]
schedule = \"@yearly\"
benchmarks = [\"watched\"]
[benchmarks.watched]
kind = \"process.memory\"
unit = \"pw-watched.service\"
min_time = \"200ms\"
TOML"
inside cp /etc/perfwarden/perfwarden.toml /root/good.toml

started() {
    inside systemctl enable --now perfwarden
    local state
    state=$(inside systemctl show -p ActiveState,SubState --value perfwarden | tr '\n' ' ')
    [ "$state" = "active running " ] || { echo "state: $state"; inside journalctl -u perfwarden --no-pager | tail -n 20; return 1; }
}
check "systemctl enable --now reaches active (running) through Type=notify" started
status_text() { inside systemctl show -p StatusText --value perfwarden | grep -i "next"; }
check "systemd shows the daemon's STATUS line" status_text
check "perfwarden status through the socket" inside perfwarden status
run_weekly() {
    local json
    json=$(inside perfwarden --format json run weekly --quick) || { echo "$json" | head -c 4000; return 1; }
    printf '%s' "$json" | python3 -c '
import json, sys
run = json.load(sys.stdin)
bad = [(r["benchmark"], r.get("status"), r.get("error")) for r in run["results"] if r.get("status") != "ok"]
print(len(run["results"]), "benchmarks;", "failed:", bad)
sys.exit(1 if bad or not run["results"] else 0)'
}
check "run weekly --quick through the socket: every probe succeeds under the hardening" run_weekly
watch_refused() {
    local out
    out=$(inside perfwarden run watch 2>&1) && { echo "succeeded without the drop-in: $out"; return 1; }
    printf '%s\n' "$out" | grep -q "process-memory.conf" || { echo "$out"; return 1; }
}
check "process.memory of another service under ProtectProc=invisible: refused with the drop-in to install" watch_refused
inside sh -c 'install -D -m 0644 /usr/share/perfwarden/systemd/process-memory.conf /etc/systemd/system/perfwarden.service.d/process-memory.conf && systemctl daemon-reload && systemctl restart perfwarden'
check "process.memory of another service with the shipped drop-in" inside perfwarden run watch
credential_delivered() {
    wait_for 30 grep -q "^/v1/metrics Bearer nspawn-secret-4f2a$" "$work/otlp-requests" || { cat "$work/otlp-requests" 2>/dev/null; return 1; }
    if inside journalctl -u perfwarden --no-pager | grep -q "nspawn-secret-4f2a"; then
        echo "the token is in the journal"
        return 1
    fi
    echo "$(grep -c . "$work/otlp-requests") requests received with the header"
}
check "a LoadCredential= OTLP header reaches the receiver and never the journal" credential_delivered

# --- Reload, journal, stop ------------------------------------------------------------
inside sh -c 'printf "[daemon]\nsplay = \"soon\"\n[suites.weekly]\nschedule = \"61 * * * *\"\n" >/etc/perfwarden/perfwarden.toml'
reload_kept() {
    inside systemctl reload perfwarden
    wait_for 10 sh -c "nsenter -t $leader -a journalctl -u perfwarden --no-pager | grep -q 'config reload rejected'"
    inside systemctl is-active --quiet perfwarden
    inside perfwarden --format json status | python3 -c '
import json, sys
status = json.load(sys.stdin)
reload = status["daemon"]["last_reload"]
assert reload["ok"] is False, reload
assert any(s["suite"] == "watch" for s in status["suites"]), "the old config (with its watch suite) is gone"'
}
check "systemctl reload with a broken config keeps the old one running" reload_kept
journal_readable() {
    local warnings
    warnings=$(inside journalctl -u perfwarden -p warning --no-pager -o cat)
    printf '%s\n' "$warnings" | grep -q "daemon.splay" || { echo "no daemon.splay problem in:"; echo "$warnings"; return 1; }
    printf '%s\n' "$warnings" | grep -q "suites.weekly.schedule" || { echo "no schedule problem in:"; echo "$warnings"; return 1; }
    if printf '%s' "$warnings" | grep -q $'\e'; then echo "colour codes in the journal"; return 1; fi
}
check "journalctl -p warning shows each problem readably" journal_readable
inside cp /root/good.toml /etc/perfwarden/perfwarden.toml
inside systemctl reload perfwarden
stop_mid_run() {
    inside sh -c 'perfwarden run weekly >/dev/null 2>&1 &'
    running() {
        inside perfwarden --format json status | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["daemon"].get("current") else 1)'
    }
    wait_for 30 running || { echo "no run started"; return 1; }
    sleep 2
    inside systemctl stop perfwarden
    inside perfwarden --format json runs | python3 -c '
import json, sys
newest = json.load(sys.stdin)["runs"][0]
assert newest["suite"] == "weekly" and newest["status"] == "interrupted", newest
print("run", newest["id"], newest["status"])'
}
check "systemctl stop in the middle of a run marks it interrupted" stop_mid_run

# --- Purge ----------------------------------------------------------------------------
inside sh -c 'systemctl stop pw-watched; rm -f /etc/systemd/system/pw-watched.service; rm -rf /etc/systemd/system/perfwarden.service.d /etc/perfwarden/credentials /root/good.toml'
purged_clean() {
    inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq perfwarden >/dev/null
    local left
    # man-db's own page cache (/var/cache/man, made by `man` above) is man-db's to expire.
    left=$(inside find / -xdev \( -path /proc -o -path /sys -o -path /var/log/journal -o -path /var/cache/man -o -path /root/perfwarden.deb \) -prune -o -name '*perfwarden*' -print |
        grep -v -e '^/var/lib/private/perfwarden' -e '^/var/lib/perfwarden$' -e '^/root/perfwarden.deb$' || true)
    [ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
    inside test -e /var/lib/private/perfwarden/perfwarden.redb || { echo "the state directory is gone"; return 1; }
    echo "kept: $(inside ls /var/lib/private/perfwarden | tr '\n' ' ')"
}
check "apt purge leaves only the state directory" purged_clean

echo "nspawn: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
