"""Several processes on one database converge through the change log within 2 seconds."""

from __future__ import annotations

import secrets

from tests.servers import Server, eventually


def _check(server: Server, key: str, pdq: str) -> bool:
    with server.client(key) as c:
        return bool(
            c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": pdq}]}).json()["match"]
        )


def test_case_on_one_process_matches_on_another_then_withdrawal_stops_it(server_factory):
    a: Server = server_factory()
    b: Server = server_factory(database_url=a.database_url)
    key = a.create_client(scopes="check")
    pdq = secrets.token_hex(32)
    assert not _check(b, key, pdq)
    with a.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]}
        ).json()
    assert _check(a, key, pdq)  # the writing process sees it at once
    eventually(lambda: _check(b, key, pdq), timeout=2)
    with b.client() as c:
        r = c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200
    assert not _check(b, key, pdq)
    eventually(lambda: not _check(a, key, pdq), timeout=2)


def test_a_restarted_process_loads_the_bank_from_the_database(server_factory):
    a: Server = server_factory()
    key = a.create_client(scopes="check")
    hashes = [secrets.token_hex(32) for _ in range(50)]
    with a.client() as c:
        for h in hashes[:25]:
            c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": h, "quality": 90}]})
        case = c.post(
            "/v1/cases",
            json={"hashes": [{"type": "pdq", "value": h, "quality": 90} for h in hashes[25:]]},
        ).json()
        c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    a.stop()
    a.start()
    assert all(_check(a, key, h) for h in hashes[:25])
    assert not any(_check(a, key, h) for h in hashes[25:])
