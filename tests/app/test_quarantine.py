"""Hot-hash quarantine: a stored hash that matches far more often, or for far more clients,
than a victim's image would answers review instead of block until a moderator releases it."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import Settings
from app.services.checks import QuarantinePolicy
from app.services.container import Services
from app.storage.models import Signal
from tests.servers import Server

ENV = {
    "HASHBANK_QUARANTINE_MATCHES": "5",
    "HASHBANK_QUARANTINE_CLIENTS": "3",
    "HASHBANK_QUARANTINE_MATCHES_PER_CLIENT": "3",
}


def _pdq() -> str:
    return secrets.token_hex(32)


def _near(value: str, bit: int) -> str:
    """``value`` with one bit flipped: another upload of the same image, 1 bit away."""
    return f"{int(value, 16) ^ (1 << bit):064x}"


def _check(server: Server, key: str, value: str) -> dict:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]})
    assert r.status_code == 200, r.text
    return r.json()


def _import(server: Server, tmp_path: Path, *values: str) -> None:
    path = tmp_path / f"bank-{secrets.token_hex(3)}.csv"
    path.write_text("type,value\n" + "".join(f"pdq,{v}\n" for v in values))
    server.cli("import", str(path))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from tests.servers import fresh_database_url

    workdir = tmp_path_factory.mktemp("quarantine")
    srv = Server(workdir, fresh_database_url(workdir), extra_env=ENV).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    return {
        "admin": server.create_client("q-admin", "admin"),
        "feed": server.create_client("q-feed", "feed"),
        **{f"p{i}": server.create_client(f"q-platform-{i}", "check") for i in range(4)},
    }


def test_policy_reasons():
    policy = QuarantinePolicy(matches=5, clients=3, window_seconds=3600)
    assert policy.reason(4, 2) is None
    assert "5 matches in 1 h" in (policy.reason(5, 1) or "")
    assert "3 clients" in (policy.reason(1, 3) or "")
    assert QuarantinePolicy(matches=0, clients=0).enabled is False
    # each client's distinct uploads, capped per client; and the number of clients
    assert QuarantinePolicy(per_client=100).counts([1000, 1, 7]) == (108, 3)
    assert QuarantinePolicy(per_client=0).counts([1000, 1]) == (1001, 2)


def test_many_matches_quarantine_then_release(server: Server, keys, tmp_path: Path):
    hot, other = _pdq(), _pdq()
    _import(server, tmp_path, hot, other)
    uploads = [_near(hot, bit) for bit in range(7)]  # distinct uploads (query hashes)
    # one client alone cannot quarantine it: it counts for at most 3 uploads
    assert [_check(server, keys["p0"], v)["action"] for v in uploads] == ["block"] * 7
    # re-checks of the same upload count once however often they come
    assert [_check(server, keys["p0"], hot)["action"] for _ in range(5)] == ["block"] * 5
    # a second client's uploads bring the count to 5: the 5th upload reaches the limit
    actions = [_check(server, keys["p1"], v)["action"] for v in uploads[:3]]
    assert actions == ["block", "review", "review"]
    assert _check(server, keys["p0"], other)["action"] == "block"  # others are untouched

    with server.client(keys["admin"]) as c:
        listed = c.get("/v1/quarantine").json()
    entry = next(q for q in listed if q["matches"] == 5 and q["state"] == "quarantined")
    assert entry["signal_type"] == "pdq" and entry["bank"] == "reports"
    assert "5 matches" in entry["reason"]
    assert hot not in str(listed)  # staff see the entry, never the hash value

    with server.client(keys["feed"]) as c:
        feed = c.get("/v1/feed", params={"limit": 10_000}).json()["items"]
    states = [i for i in feed if i["signal_id"] == entry["signal_id"]]
    assert states[-1]["op"] == "update" and states[-1]["status"] == "quarantined"

    with server.client(keys["admin"]) as c:
        r = c.post(f"/v1/quarantine/{entry['signal_id']}/release")
        assert r.status_code == 200 and r.json()["state"] == "released", r.text
        assert c.post(f"/v1/quarantine/{entry['signal_id']}/release").status_code == 409
        assert c.post("/v1/quarantine/999999/release").status_code == 404
    # released: it blocks again, and stays exempt however often it matches
    assert [_check(server, keys["p0"], hot)["action"] for _ in range(6)] == ["block"] * 6


def test_many_clients_quarantine_and_it_survives_a_restart(server: Server, keys, tmp_path):
    hot = _pdq()
    _import(server, tmp_path, hot)
    assert _check(server, keys["p1"], hot)["action"] == "block"
    assert _check(server, keys["p2"], hot)["action"] == "block"
    assert _check(server, keys["p3"], hot)["action"] == "review"  # a third platform
    server.stop()
    server.start()
    assert _check(server, keys["p1"], hot)["action"] == "review"  # loaded as quarantined


def test_a_case_status_change_keeps_the_quarantine(server: Server, keys):
    value = _pdq()
    with server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]}
        ).json()
    for k in ("p0", "p1", "p2"):  # pending cases answer review anyway; 3 clients quarantine it
        assert _check(server, keys[k], value)["action"] == "review"
    services = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        services.cases.review(case["case_id"], confirm=True, actor="moderator")
        with services.db.read() as session:  # the API shows no case id: find it by signal
            signal_id = session.scalar(select(Signal.id).where(Signal.value == value))
    finally:
        services.close()
    # active now, but still quarantined: review, not block (after the server has
    # followed the change log: it syncs every 0.2 s here)
    time.sleep(1.5)
    assert [_check(server, keys["p0"], value)["action"] for _ in range(2)] == ["review"] * 2
    with server.client(keys["admin"]) as c:
        entry = next(q for q in c.get("/v1/quarantine").json() if q["signal_id"] == signal_id)
        assert c.post(f"/v1/quarantine/{entry['signal_id']}/release").status_code == 200
    assert _check(server, keys["p0"], value)["action"] == "block"


def test_quarantine_routes_need_the_admin_scope(server: Server, keys):
    with server.client(keys["p0"]) as c:
        assert c.get("/v1/quarantine").status_code == 403
        assert c.post("/v1/quarantine/1/release").status_code == 403
    with server.client() as c:
        assert c.get("/v1/quarantine").status_code == 401
