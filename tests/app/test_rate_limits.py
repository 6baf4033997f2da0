"""Anonymous case creation and per-client limits answer 429 with Retry-After."""

from __future__ import annotations

import secrets

from tests.servers import Server


def _report(c):
    return c.post(
        "/v1/cases",
        json={"hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90}]},
    )


def test_anonymous_case_creation_is_limited_per_address(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_ANONYMOUS_CASES_PER_HOUR": "3"})
    with server.client() as c:
        assert [_report(c).status_code for _ in range(3)] == [201, 201, 201]
        r = _report(c)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"] == "application/problem+json"
    key = server.create_client(scopes="report")
    with server.client(key) as c:  # NGOs with a report key are not limited per address
        assert _report(c).status_code == 201


def test_client_rate_limit(server_factory):
    server: Server = server_factory()
    key = server.create_client(scopes="check", rate_limit=2)
    body = {"hashes": [{"type": "pdq", "value": "ab" * 32}]}
    with server.client(key) as c:
        codes = [c.post("/v1/check", json=body).status_code for _ in range(12)]
    assert codes[:4] == [200] * 4 and 429 in codes
