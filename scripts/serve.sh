#!/usr/bin/env bash
# Quick start 1: install hashbank in .venv and serve it on an embedded SQLite database.
# Prints how to create an admin login and an API key on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip's and setuptools' chatter goes to a log, shown only when the install fails
LOG=.venv/install.log
echo "installing hashbank into .venv (log: $LOG)..." >&2
if ! { .venv/bin/python -m pip install -q -c constraints.txt --upgrade pip &&
  .venv/bin/python -m pip install -q -c constraints.txt -e .; } >"$LOG" 2>&1; then
  cat "$LOG" >&2
  echo "the install failed (log above, also in $LOG)" >&2
  exit 1
fi
exec .venv/bin/hashbank serve "$@"
