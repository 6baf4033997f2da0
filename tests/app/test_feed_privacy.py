"""The feed and the quarantine list say no more than platforms need: a case is an opaque
per-deployment group token (not its sequential number), times are to the second,
allow-list entries stay out unless HASHBANK_FEED_ALLOW_LIST, and /v1/quarantine shows no
case id; the tokens are the same on every process and after a backup is restored."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import Settings
from app.services.backup import BackupService
from app.services.container import Services
from app.storage.db import Database
from app.storage.models import Case
from tests.servers import Server, fresh_database_url

TOKEN = re.compile(r"^[0-9a-f]{32}$")
SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|\+00:00)$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("feed")
    # two distinct clients quarantine a hash (whatever one client's matches count for)
    env = {"HASHBANK_QUARANTINE_CLIENTS": "2", "HASHBANK_QUARANTINE_MATCHES": "0"}
    server = Server(workdir, fresh_database_url(workdir), extra_env=env).start()
    yield server
    server.stop()


def _report(server: Server, *values: str) -> dict[str, str]:
    body = {"hashes": [{"type": "pdq", "value": v, "quality": 90} for v in values]}
    with server.client() as c:
        r = c.post("/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _key(server: Server, scopes: str) -> str:
    """A new API key, made in this process (quicker than the command line)."""
    svc = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        name = f"c-{secrets.token_hex(4)}"
        return svc.clients.create(name, scopes.split(","), actor="test").key
    finally:
        svc.close()


def _case_number(server: Server, public_id: str) -> int:
    svc = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        with svc.db.read() as session:
            return int(session.scalar(select(Case.id).where(Case.public_id == public_id)))
    finally:
        svc.close()


def test_groups_are_opaque_tokens_stable_across_processes_and_restores(
    server: Server, tmp_path: Path
) -> None:
    key = _key(server, "feed")
    a, b = [secrets.token_hex(32) for _ in range(2)], [secrets.token_hex(32)]
    case_a, case_b = _report(server, *a), _report(server, *b)
    items = {i["value"]: i for i in server.feed(key) if i["op"] == "add"}
    groups_a = {items[v]["group"] for v in a}
    (group_a,), (group_b,) = groups_a, {items[v]["group"] for v in b}
    assert group_a != group_b and TOKEN.match(group_a) and TOKEN.match(group_b)
    numbers = {_case_number(server, case_a["case_id"]), _case_number(server, case_b["case_id"])}
    assert {group_a, group_b}.isdisjoint({str(n) for n in numbers})
    # another process on the same database (a replica) derives the same tokens ...
    replica = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        page = replica.feed.page(0, 100_000)
        assert {i.group for i in page.items if i.value in a} == {group_a}
    finally:
        replica.close()
    # ... and so does a database restored from a backup
    backup = tmp_path / "state.jsonl.gz"
    source = Database(server.database_url)
    try:
        BackupService(source).backup(backup)
    finally:
        source.dispose()
    svc = Services.build(Settings(database_url=fresh_database_url(tmp_path / "restored")))
    try:  # a new database (with a secret of its own, replaced by the backup's)
        BackupService(svc.db).restore(backup)
        page = svc.feed.page(0, 100_000)
        assert {i.group for i in page.items if i.value in a} == {group_a}
        assert {i.group for i in page.items if i.value in b} == {group_b}
    finally:
        svc.close()


def test_feed_times_are_whole_seconds(server: Server) -> None:
    key = _key(server, "feed")
    for _ in range(3):
        _report(server, secrets.token_hex(32))
    times = [i["at"] for i in server.feed(key)]
    assert len(times) >= 3 and all(SECOND.match(t) for t in times), times


def test_allow_list_entries_stay_out_of_the_feed_by_default(server: Server, tmp_path: Path) -> None:
    key = _key(server, "feed")
    allowed = secrets.token_hex(32)  # a SHA-256: a hash list entry needs no quality
    csv = tmp_path / "allow.csv"
    csv.write_text(f"type,value\nsha256,{allowed}\n")
    server.cli("import", str(csv), "--bank", "allowlist")
    blocked = secrets.token_hex(32)
    _report(server, blocked)
    values = {i["value"] for i in server.feed(key)}
    assert blocked in values and allowed not in values
    settings = Settings(database_url=server.database_url, feed_allow_list=True)
    svc = Services.build(settings, migrate=False)
    try:  # with the setting on, they are sent
        sent = {(i.value, i.bank) for i in svc.feed.page(0, 100_000).items}
        assert (allowed, "allowlist") in sent
    finally:
        svc.close()


def test_the_quarantine_list_shows_no_case_id(server: Server) -> None:
    admin = _key(server, "admin")
    feed = _key(server, "feed")
    value = secrets.token_hex(32)
    case = _report(server, value)
    for _ in range(2):  # two platforms match it: quarantined
        with server.client(_key(server, "check")) as c:
            c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]})
    with server.client(admin) as c:
        r = c.get("/v1/quarantine")
    assert r.status_code == 200
    (signal,) = [i for i in server.feed(feed) if i["value"] == value and i["op"] == "add"]
    (entry,) = [q for q in r.json() if q["signal_id"] == signal["signal_id"]]
    assert "case_id" not in entry and entry["group"] == signal["group"]
    number = _case_number(server, case["case_id"])
    assert case["case_id"] not in r.text and f'"case_id":{number}' not in r.text
