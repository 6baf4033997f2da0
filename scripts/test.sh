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

echo "== tests on SQLite"
run_pytest -q --durations=15

echo "== database tests on PostgreSQL"
PG_DIR_FILE=$(mktemp)
export PG_DIR_FILE
PG_URL=$(bash scripts/postgres.sh start)
trap 'bash scripts/postgres.sh stop "$(cat "$PG_DIR_FILE")"; rm -f "$PG_DIR_FILE"' EXIT
HASHBANK_TEST_DATABASE_URL="$PG_URL" run_pytest -q --durations=15 tests/app $( [ -d tests/browser ] && echo tests/browser )
echo "all checks passed"
