"""What is left behind on disk and in logs: files holding hashes are the owner's only,
erased hashes do not survive in SQLite's free pages, and a failed statement's log entry
carries no hash (the engine hides bound parameters)."""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from app.storage.models import Case, utcnow
from tests.servers import PG_ADMIN_URL, Server


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backups_exports_and_log_files_are_mode_0600(server_factory, tmp_path: Path) -> None:
    log_file = tmp_path / "hashbank.log"
    server: Server = server_factory(extra_env={"HASHBANK_LOG_FILE": str(log_file)})
    with server.client() as c:
        value = secrets.token_hex(32)
        assert c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]}
        ).is_success
    old = os.umask(0o022)  # the usual umask: files would be created 0644
    try:
        backup, export = tmp_path / "state.jsonl.gz", tmp_path / "hashes.csv"
        server.cli("backup", str(backup))
        server.cli("export", "--output", str(export))
        stale = tmp_path / "stale.csv"  # an existing world-readable file is narrowed
        stale.write_text("old")
        stale.chmod(0o644)
        server.cli("export", "--output", str(stale))
    finally:
        os.umask(old)
    assert value in export.read_text() and value in stale.read_text()
    assert {p.name: _mode(p) for p in (backup, export, stale, log_file)} == {
        "state.jsonl.gz": 0o600,
        "hashes.csv": 0o600,
        "stale.csv": 0o600,
        "hashbank.log": 0o600,
    }


def test_erased_hashes_do_not_survive_in_the_sqlite_file(server_factory, tmp_path: Path) -> None:
    if PG_ADMIN_URL:
        pytest.skip("SQLite's free pages; runs in the SQLite pass of the suite")
    db_file = tmp_path / "erase.db"
    server: Server = server_factory(database_url=f"sqlite:///{db_file}")
    values = [secrets.token_hex(32) for _ in range(3)]
    with server.client() as c:
        case = c.post(
            "/v1/cases",
            json={"hashes": [{"type": "pdq", "value": v, "quality": 90} for v in values]},
        ).json()
        assert c.delete(
            f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}
        ).is_success
    engine = create_engine(server.database_url)
    with engine.begin() as conn:  # withdrawn long enough ago to be erased
        conn.execute(
            update(Case)
            .where(Case.public_id == case["case_id"])
            .values(withdrawn_at=utcnow() - timedelta(days=31))
        )
    engine.dispose()
    server.stop()  # the server's own purge must not race the command's
    assert '"erased_hashes": 3' in server.cli("purge", "--json").stdout
    with sqlite3.connect(db_file) as conn:  # the WAL's pages into the file, and the WAL gone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("erase.db*"))
    assert [v for v in values if v.encode() in raw] == []


def test_a_failed_statement_logs_no_hash(server_factory) -> None:
    server: Server = server_factory()
    key = server.create_client("platform", "check")
    stored = secrets.token_hex(32)
    with server.client() as c:
        assert c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": stored, "quality": 90}]}
        ).is_success
    # every insert into the match log now fails inside the database
    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        if server.database_url.startswith("sqlite"):
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_matches BEFORE INSERT ON match "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_matches BEFORE INSERT ON match "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    engine.dispose()
    query = stored[:-1] + ("0" if stored[-1] != "0" else "1")  # a near match, 1-4 bits off
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": query}]})
    assert r.status_code == 200 and r.json()["match"]  # answered from memory, not logged
    log = server.log_path.read_text()
    assert "refused by the test" in log  # the failure was logged ...
    assert stored not in log and query not in log  # ... without the hashes
