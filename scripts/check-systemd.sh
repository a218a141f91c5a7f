#!/usr/bin/env bash
# Checks systemd/perfwarden.service offline:
#   - `systemd-analyze verify` prints nothing on stderr, on a copy of the unit whose
#     /usr/bin/perfwarden is the freshly built binary (nothing is installed: a test
#     writes no system path; the build honours CARGO_TARGET_DIR);
#   - `systemd-analyze security --offline=true` reports an exposure of 2.0 or lower, also
#     with the shipped process-memory drop-in (systemd/process-memory.conf) applied.
# Installs Debian's systemd package (for systemd-analyze) when it is missing.
# Prints "systemd: 2 passed, 0 failed" style totals for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "systemd-analyze is missing; install Debian's systemd package" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

cargo build --locked --quiet --bin perfwarden
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
built="$target_dir/debug/perfwarden"
[ -x "$built" ] || { echo "the built binary is not at $built" >&2; exit 1; }
unit=systemd/perfwarden.service
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s#/usr/bin/perfwarden#$built#g" "$unit" >"$work/perfwarden.service"

passed=0
failed=0
if systemd-analyze verify "$work/perfwarden.service" 2>"$work/verify.err" && [ ! -s "$work/verify.err" ]; then
    echo "systemd-analyze verify: clean"
    passed=$((passed + 1))
else
    echo "systemd-analyze verify: FAILED" >&2
    cat "$work/verify.err" >&2
    failed=$((failed + 1))
fi

exposure_check() { # label, unit file
    local security exposure
    security=$(systemd-analyze security --offline=true "$2" 2>&1 || true)
    exposure=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
        echo "$1: exposure $exposure (<= 2.0)"
        passed=$((passed + 1))
    else
        printf '%s\n' "$security" | grep -E '^✗' >&2 || true
        echo "$1: exposure ${exposure:-unknown} > 2.0: FAILED" >&2
        failed=$((failed + 1))
    fi
}
exposure_check "systemd-analyze security" "$work/perfwarden.service"
# The shipped drop-in that lets process.memory watch other services keeps the score low.
grep -qx 'ProtectProc=default' systemd/process-memory.conf || { echo "systemd/process-memory.conf no longer sets ProtectProc=default" >&2; exit 1; }
sed 's/^ProtectProc=invisible$/ProtectProc=default/' "$work/perfwarden.service" >"$work/with-drop-in.service"
cmp -s "$work/perfwarden.service" "$work/with-drop-in.service" && { echo "the unit has no ProtectProc=invisible line" >&2; exit 1; }
exposure_check "systemd-analyze security with the process-memory drop-in" "$work/with-drop-in.service"
echo "systemd: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
