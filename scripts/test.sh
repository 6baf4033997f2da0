#!/usr/bin/env bash
# Quick start 2: install everything the tests need (Python packages, Chromium, PostgreSQL)
# and run the whole suite: lint, types, tests on SQLite, then the database-backed tests
# again on a throwaway PostgreSQL cluster. Exit status 0 only if everything passed and
# tests actually ran (pytest's "no tests collected", exit 5, is a failure here).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# the pinned set (constraints.txt, written by scripts/constraints.py)
.venv/bin/python -m pip install -q -c constraints.txt --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
if [ -f scripts/install-browser.sh ]; then bash scripts/install-browser.sh; fi

echo "== dependencies: pinned set and known vulnerabilities (report only; see scripts/audit.sh)"
.venv/bin/python scripts/constraints.py --check
bash scripts/audit.sh

echo "== lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy hashes app

run_pytest() {
  set +e
  .venv/bin/pytest "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
  return "$rc"
}

# The two passes run side by side: each is mostly one process waiting on its servers
# (~1 core: 97 % of one core measured over a whole SQLite pass), and the machine has 2.
# Their output is prefixed [sqlite] / [postgresql]; each has its own pytest temp dir.
echo "== tests on SQLite and, side by side, the database tests on PostgreSQL"
.venv/bin/python -c 'import hashes; hashes.warm_up(); hashes.HashIndex.compile()'  # numba cache
PG_DIR_FILE=$(mktemp)
export PG_DIR_FILE
PG_URL=$(bash scripts/postgres.sh start)
BASE=$(mktemp -d)
trap 'bash scripts/postgres.sh stop "$(cat "$PG_DIR_FILE")"; rm -rf "$PG_DIR_FILE" "$BASE"' EXIT
(run_pytest -q --durations=15 --basetemp="$BASE/sqlite" 2>&1 | sed -u 's/^/[sqlite] /') &
SQLITE_PID=$!
(HASHBANK_TEST_DATABASE_URL="$PG_URL" run_pytest -q --durations=15 --basetemp="$BASE/postgresql" \
  tests/app $( [ -d tests/browser ] && echo tests/browser ) 2>&1 | sed -u 's/^/[postgresql] /') &
PG_PID=$!
STATUS=0
wait "$SQLITE_PID" || { echo "the SQLite pass failed" >&2; STATUS=1; }
wait "$PG_PID" || { echo "the PostgreSQL pass failed" >&2; STATUS=1; }
[ "$STATUS" -eq 0 ] || exit 1
echo "all checks passed"
