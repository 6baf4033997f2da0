"""Removing hashes a bank holds itself (imported lists, allow-list entries) with
``hashbank remove``: every server stops matching them, the feed tombstones them, the
audit log says who and why, and a case's hashes are out of its reach."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from app.config import Settings
from app.services.container import Services
from app.services.views import AuditFilter
from tests.servers import Server, eventually


def _matches(server: Server, key: str, kind: str, value: str) -> bool:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": kind, "value": value}]})
    assert r.status_code == 200, r.text
    return bool(r.json()["match"])


def test_remove_bank_entries_stops_matches_everywhere(server_factory, tmp_path: Path):
    server: Server = server_factory()
    pdqs = [secrets.token_hex(32) for _ in range(3)]
    md5 = secrets.token_hex(16)
    listing = tmp_path / "list.csv"
    listing.write_text(
        "type,value,quality\n" + "".join(f"pdq,{h},90\n" for h in pdqs) + f"md5,{md5},\n"
    )
    server.cli("import", str(listing), "--bank", "reports")
    key = server.create_client(scopes="check,report,feed")
    with server.client(key) as c:
        victim = secrets.token_hex(32)
        r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": victim, "quality": 90}]})
        assert r.status_code == 201, r.text
    for kind, value in [("pdq", h) for h in pdqs] + [("md5", md5)]:
        assert eventually(lambda k=kind, v=value: _matches(server, key, k, v), timeout=2.0)

    # the arguments are validated before anything is touched
    bad = server.cli("remove", "--bank", "reports", "xyz", check=False)
    assert bad.returncode != 0 and "hex" in bad.stderr.lower()
    unknown = server.cli("remove", "--bank", "nope", pdqs[0], check=False)
    assert unknown.returncode != 0 and "no bank 'nope'" in unknown.stderr
    assert server.cli("remove", "--bank", "reports", check=False).returncode != 0

    # the server running meanwhile follows the change log: both stop matching within 2 s
    out = server.cli(
        "remove", "--bank", "reports", pdqs[0], pdqs[1].upper(), "--reason", "wrong list"
    )
    assert "removed 2 of 2 hashes from bank 'reports'" in out.stderr
    for value in pdqs[:2]:
        assert eventually(lambda v=value: not _matches(server, key, "pdq", v), timeout=2.0)
    assert _matches(server, key, "pdq", pdqs[2])  # the rest of the list stays

    jsonl = tmp_path / "gone.jsonl"
    jsonl.write_text(json.dumps({"type": "md5", "value": md5}) + "\n")
    assert (
        "removed 1 of 1" in server.cli("remove", "--bank", "reports", "--file", str(jsonl)).stderr
    )
    assert eventually(lambda: not _matches(server, key, "md5", md5), timeout=2.0)

    # idempotent, and a case's hash is not a bank entry: it stays until the case closes
    assert "removed 0 of 1" in server.cli("remove", "--bank", "reports", pdqs[0]).stderr
    assert "removed 0 of 1" in server.cli("remove", "--bank", "reports", victim).stderr
    assert _matches(server, key, "pdq", victim)

    # platforms matching on their side get a tombstone for each removed hash
    feed = server.feed(key)
    added = {i["signal_id"]: i["value"] for i in feed if i["op"] == "add"}
    removed = {i["signal_id"] for i in feed if i["op"] == "remove"}
    assert {added[s] for s in removed} == {pdqs[0], pdqs[1], md5}

    # a restart loads the bank without them
    server.stop()
    server.start()
    assert not _matches(server, key, "pdq", pdqs[0])
    assert _matches(server, key, "pdq", pdqs[2])

    services = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        page = services.views.audit.page(
            AuditFilter(action="bank.entries_removed"), newest_first=False, page=1, per_page=10
        )
    finally:
        services.close()
    events = [(e.actor, e.object_id, e.detail) for e in page.items]
    assert [(a, o) for a, o, _ in events] == [("cli", "reports"), ("cli", "reports")]
    assert events[0][2] == {"hashes": 2, "reason": "wrong list"}
    md5_id = next(s for s, v in added.items() if v == md5)
    assert events[1][2] == {"hashes": 1, "signal": md5_id}
