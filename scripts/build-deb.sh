#!/usr/bin/env bash
# Builds the Debian package, target/debian/perfwarden_<version>-1_<arch>.deb (under
# CARGO_TARGET_DIR when set), and prints its path on the last line:
#   1. the release binary (Cargo.toml's release profile: thin LTO, line tables only);
#   2. the man pages and shell completions, generated from the clap definitions by
#      examples/package_assets.rs (built in the dev profile, which the tests share);
#   3. cargo deb --no-build: the binary stripped, its debug info split into
#      /usr/lib/debug/.build-id (compressed), the assets of [package.metadata.deb].
# cargo-deb (pinned) is installed into the target directory when missing, never into a
# system path. Needs objcopy and dpkg-shlibdeps (Debian's binutils and dpkg-dev).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_deb_version=3.8.0
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

missing=()
command -v objcopy >/dev/null || missing+=(binutils)
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "build-deb: install ${missing[*]} (Debian packages)" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo_deb="$target_dir/cargo-deb/bin/cargo-deb"
if ! [ -x "$cargo_deb" ] || [ "$("$cargo_deb" --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]; then
    cargo install --quiet --locked --version "$cargo_deb_version" cargo-deb --root "$target_dir/cargo-deb"
fi

cargo build --locked --release --bin perfwarden
assets="$target_dir/release/package-assets"
rm -rf "$assets"
cargo run --locked --quiet --example package_assets -- "$assets" >&2
gzip -9n "$assets"/man/*.1 # Debian policy: man pages compressed (cargo deb leaves built files be)
"$cargo_deb" --no-build --locked --output "$target_dir/debian/" >&2
deb=$(ls -t "$target_dir"/debian/perfwarden_*.deb | head -n 1)
[ -f "$deb" ] || { echo "build-deb: no package was written" >&2; exit 1; }
echo "$deb"
