#!/usr/bin/env bash
# Scores perfwarden's change points against Apache Otava and ruptures on the seeded corpus
# of scripts/changepoints/corpus.py, in one run on this machine, and prints the table of
# docs/verdicts.md ("Change points against Otava and ruptures"). Needs python3-venv and
# access to PyPI; the tools are installed in target/changepoints-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/changepoints-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet apache-otava==0.8.0 ruptures==1.1.10
fi
cargo build --quiet --release --bin perfwarden
corpus=target/changepoints-corpus.json
python3 scripts/changepoints/corpus.py "$corpus"
"$venv/bin/python" scripts/changepoints/score.py "$corpus" \
    --perfwarden target/release/perfwarden --markdown target/changepoints-table.md
echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
