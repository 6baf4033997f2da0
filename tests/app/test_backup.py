"""`hashbank backup` / `hashbank restore` round-trip the whole state losslessly (across
SQLite and PostgreSQL when the suite runs on PostgreSQL), refuse a database in use, and
restore nothing from a damaged file."""

from __future__ import annotations

import gzip
import json
import secrets
from pathlib import Path

from tests.servers import Server


def _rows(path: Path) -> list[str]:
    """Every row line of a backup (the header's creation time differs between backups)."""
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    assert json.loads(lines[0])["format"] == "hashbank-backup"
    assert json.loads(lines[-1])["end"] is True
    return lines[1:]


def _state(server: Server) -> dict:
    """Cases in each state, a bank import, matches with feedback, clients, a user."""
    platform = server.create_client("platform", "check,report,feed")
    revoked = server.create_client("old-platform", "check")
    server.cli("clients", "revoke", "old-platform")
    server.create_user("moderator", "correct horse battery", role="moderator")
    pending, withdrawn, keyed = (secrets.token_hex(32) for _ in range(3))
    with server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": pending, "quality": 90}]}
        ).json()
        gone = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": withdrawn, "quality": 90}]}
        ).json()
        assert c.delete(f"/v1/cases/{gone['case_id']}", headers={"X-Case-Pin": gone["pin"]})
    with server.client(platform) as c:
        body = {"hashes": [{"type": "pdq", "value": keyed}, {"type": "md5", "value": "ab" * 16}]}
        assert c.post("/v1/cases", json=body).status_code == 201
        hit = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": pending}]}).json()
        fb = {"feedback": "blocked"}
        assert c.post(f"/v1/matches/{hit['matches'][0]['match_id']}/feedback", json=fb).is_success
    return {"platform": platform, "revoked": revoked, "case": case, "pending": pending,
            "withdrawn": withdrawn}  # fmt: skip


def test_backup_restore_round_trip_is_lossless(server_factory, tmp_path) -> None:
    a: Server = server_factory()
    st = _state(a)
    first = tmp_path / "a.jsonl.gz"
    out = json.loads(a.cli("backup", str(first), "--json").stdout)
    assert out["rows"]["case_report"] == 3 and out["rows"]["match"] == 1

    b: Server = server_factory(start=False)
    b.cli("db", "upgrade")
    restored = json.loads(b.cli("restore", str(first), "--json").stdout)
    assert restored["rows"] == {k: v for k, v in out["rows"].items() if v}
    second = tmp_path / "b.jsonl.gz"
    b.cli("backup", str(second))
    assert _rows(first) == _rows(second)  # row for row, value for value

    b.start()
    with b.client() as c:  # the victim's case number and PIN still work
        r = c.get(f"/v1/cases/{st['case']['case_id']}", headers={"X-Case-Pin": st["case"]["pin"]})
        assert r.status_code == 200 and r.json()["status"] == "pending"
    with b.client(st["platform"]) as c:  # the platform's key still works; matching holds
        check = lambda v: c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": v}]})  # noqa: E731
        assert check(st["pending"]).json()["action"] == "review"
        assert check(st["withdrawn"]).json()["match"] is False
        with a.client(st["platform"]) as old:
            assert c.get("/v1/feed?limit=1000").json() == old.get("/v1/feed?limit=1000").json()
    with b.client(st["revoked"]) as c:
        assert (
            c.post("/v1/check", json={"hashes": [{"type": "md5", "value": "00" * 16}]}).status_code
            == 401
        )
    # new rows get new ids after the restored ones (sequences moved on PostgreSQL)
    with b.client() as c:
        new = c.post(
            "/v1/cases",
            json={"hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90}]},
        )
        assert new.status_code == 201


def test_restore_refuses_a_database_in_use_and_damaged_files(server_factory, tmp_path) -> None:
    a: Server = server_factory()
    _state(a)
    good = tmp_path / "good.jsonl.gz"
    a.cli("backup", str(good))
    refused = a.cli("restore", str(good), check=False)
    assert refused.returncode != 0 and "restore into a new one" in refused.stderr

    b: Server = server_factory(start=False)
    b.cli("db", "upgrade")
    with gzip.open(good, "rt") as f:
        lines = f.read().splitlines()
    truncated = tmp_path / "truncated.jsonl.gz"
    with gzip.open(truncated, "wt") as f:
        f.write("\n".join(lines[: len(lines) // 2]) + "\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(good.read_bytes()[:-40])
    text = tmp_path / "notes.txt"
    text.write_text("not a backup")
    for bad, why in ((truncated, "truncated"), (cut, "damaged"), (text, "damaged")):
        r = b.cli("restore", str(bad), check=False)
        assert r.returncode != 0 and why in r.stderr, r.stderr
    # nothing was restored by the failures: the good file still goes in
    assert b.cli("restore", str(good), check=False).returncode == 0
