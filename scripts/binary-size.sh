#!/usr/bin/env bash
# The installed size of perfwarden's binary beside node_exporter's, in one run on this
# machine: the /usr/bin/perfwarden of the Debian package scripts/build-deb.sh builds
# (stripped, release profile), and the binary of Debian 12's prometheus-node-exporter
# package (downloaded with apt-get download, unpacked in a temporary directory, never
# installed). Also the binary as cargo builds it (with line tables) and the split debug
# file. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(./scripts/build-deb.sh | tail -n 1)
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dpkg-deb -x "$deb" "$work/perfwarden"
(cd "$work" && apt-get download -qq prometheus-node-exporter >/dev/null 2>&1) ||
    { apt-get update -qq && (cd "$work" && apt-get download -qq prometheus-node-exporter >/dev/null); }
node_deb=$(ls "$work"/prometheus-node-exporter_*.deb)
dpkg-deb -x "$node_deb" "$work/node"
node_version=$(dpkg-deb -f "$node_deb" Version)

size() { stat -c %s "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
ours=$(size "$work/perfwarden/usr/bin/perfwarden")
theirs=$(size "$work/node/usr/bin/prometheus-node-exporter")
built=$(size "$target_dir/release/perfwarden")
debug=$(size "$(ls "$work"/perfwarden/usr/lib/debug/.build-id/*/*.debug)")

echo "| binary | size |"
echo "|---|---|"
echo "| perfwarden $(dpkg-deb -f "$deb" Version), packaged (/usr/bin, stripped) | $(mb "$ours") |"
echo "| prometheus-node-exporter $node_version (Debian 12), /usr/bin | $(mb "$theirs") |"
echo "| perfwarden as cargo builds it (target/release, line tables) | $(mb "$built") |"
echo "| perfwarden's split debug info (/usr/lib/debug/.build-id, compressed) | $(mb "$debug") |"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "\nperfwarden / node_exporter: %.2f×\n", a / b }'
