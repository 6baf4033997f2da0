#!/usr/bin/env bash
# Quick start 1: install hashbank in .venv and serve it on an embedded SQLite database.
# Prints how to create an admin login and an API key on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e .
exec .venv/bin/hashbank serve "$@"
