#!/usr/bin/env bash
# Quick start 2: install everything the tests need (Python packages, Chromium, PostgreSQL)
# and run the whole suite: lint, types, tests on SQLite, then the database-backed tests
# again on a throwaway PostgreSQL cluster. Exit status 0 only if everything passed and
# tests actually ran (pytest's "no tests collected", exit 5, is a failure here).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# FFmpeg's headers and a compiler: pip builds Meta's vpdq (test extra) from its sdist
bash scripts/install-video-build.sh
# the pinned set (constraints.txt, written by scripts/constraints.py)
.venv/bin/python -m pip install -q -c constraints.txt --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
# the ThreatExchange extension, installed as a platform installs it (docs/integrations.md)
.venv/bin/python -m pip install -q -c constraints.txt ./tx-extension-hashbank
if [ -f scripts/install-browser.sh ]; then bash scripts/install-browser.sh; fi

echo "== dependencies: pinned set and known vulnerabilities (report only; see scripts/audit.sh)"
.venv/bin/python scripts/constraints.py --check
bash scripts/audit.sh

echo "== lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy hashes app
.venv/bin/mypy tx-extension-hashbank/tx_extension_hashbank

run_pytest() {
  set +e
  .venv/bin/pytest "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
  return "$rc"
}

# Two streams run side by side, each mostly one process waiting on its servers (~1 core;
# the machine has 2), output prefixed [sqlite] / [postgresql], each with its own pytest
# temp dir:
#   [sqlite]      tests/app and tests/browser on SQLite;
#   [postgresql]  the same on a throwaway PostgreSQL cluster, except the modules that
#                 never touch a database (tests/conftest.py ENGINE_AGNOSTIC),
#                 then the library, fuzzing and architecture tests (no database).
echo "== tests: SQLite and PostgreSQL side by side"
.venv/bin/python -c 'import hashes; hashes.warm_up(); hashes.HashIndex.compile()'  # numba cache
PG_DIR_FILE=$(mktemp)
export PG_DIR_FILE
PG_URL=$(bash scripts/postgres.sh start)
BASE=$(mktemp -d)
trap 'bash scripts/postgres.sh stop "$(cat "$PG_DIR_FILE")"; rm -rf "$PG_DIR_FILE" "$BASE"' EXIT
SERVER_TESTS="tests/app $( [ -d tests/browser ] && echo tests/browser )"
# shellcheck disable=SC2086  # SERVER_TESTS is a list of paths
(run_pytest -q --durations=15 --basetemp="$BASE/sqlite" $SERVER_TESTS 2>&1 |
  sed -u 's/^/[sqlite] /') &
SQLITE_PID=$!
# shellcheck disable=SC2086
(HASHBANK_TEST_DATABASE_URL="$PG_URL" run_pytest -q --durations=15 \
  --basetemp="$BASE/postgresql" -m "not engine_agnostic" $SERVER_TESTS &&
  run_pytest -q --durations=10 --basetemp="$BASE/library" \
    --ignore=tests/app --ignore=tests/browser tests) 2>&1 | sed -u 's/^/[postgresql] /' &
PG_PID=$!
STATUS=0
wait "$SQLITE_PID" || { echo "the SQLite stream failed" >&2; STATUS=1; }
wait "$PG_PID" || { echo "the PostgreSQL stream failed" >&2; STATUS=1; }
[ "$STATUS" -eq 0 ] || exit 1
echo "all checks passed"
