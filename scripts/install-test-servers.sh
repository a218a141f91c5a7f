#!/usr/bin/env bash
# Installs the servers the end-to-end tests start on loopback, when missing: Debian 12's
# prometheus (2.42, with promtool), prometheus-alertmanager (0.25, with amtool) and
# redis-server (7.0, with redis-cli; tests/redis.rs), libfaketime (package faketime;
# tests/calendar.rs moves the wall clock by weeks and months) and Chromium (tests/reports.rs
# opens the HTML reports in it, headless).
# Needs root for apt-get; says what to install otherwise. Used by scripts/test.sh before
# `cargo test` (tests/stack.rs) and by scripts/check-alerts.sh.
set -euo pipefail

missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server redis-tools)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || missing+=(faketime)
command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
apt-get update -qq
# The packages' own services are not wanted (the tests start their own on free ports):
# a policy-rc.d that refuses service starts while installing, unless one exists already.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
