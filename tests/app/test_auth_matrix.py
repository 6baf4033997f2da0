"""Every /v1 route x every scope: missing/invalid/revoked keys get 401, wrong scope 403."""

from __future__ import annotations

import secrets

import pytest

from tests.servers import Server

PDQ = {"hashes": [{"type": "pdq", "value": "ab" * 32}]}
# (method, path, json body, scope the route needs)
KEY_ROUTES = [
    ("POST", "/v1/check", PDQ, "check"),
    ("POST", "/v1/check/batch", {"items": [PDQ]}, "check"),
    ("GET", "/v1/feed", None, "feed"),
    ("POST", "/v1/matches/999999999/feedback", {"feedback": "blocked"}, "check"),
    ("GET", "/v1/banks", None, "admin"),
    ("POST", "/v1/banks", {"name": "x", "policy": "block"}, "admin"),
]
SCOPES = ["check", "report", "feed", "admin"]


@pytest.fixture(scope="module")
def keys(live_server: Server) -> dict[str, str]:
    return {
        scope: live_server.create_client(f"only-{scope}-{secrets.token_hex(3)}", scope)
        for scope in SCOPES
    }


@pytest.mark.parametrize(("method", "path", "body", "needs"), KEY_ROUTES)
@pytest.mark.parametrize("scope", SCOPES)
def test_route_scope(live_server: Server, keys: dict[str, str], method, path, body, needs, scope):
    with live_server.client(keys[scope]) as c:
        r = c.request(method, path, json=body)
    if scope == needs:
        assert r.status_code not in (401, 403), r.text
    else:
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "body", "needs"), KEY_ROUTES)
def test_route_without_or_with_bad_key(live_server: Server, method, path, body, needs):
    for headers in ({}, {"Authorization": "Bearer hbk_not-a-key"}, {"Authorization": "Basic abc"}):
        with live_server.client() as c:
            r = c.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["type"].endswith("/unauthorized")


def test_auth_is_checked_before_the_body(live_server: Server):
    with live_server.client() as c:
        r = c.post("/v1/check", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401


def test_revoked_key_gets_401(live_server: Server):
    name = f"revoke-me-{secrets.token_hex(3)}"
    key = live_server.create_client(name, "check")
    with live_server.client(key) as c:
        assert c.post("/v1/check", json=PDQ).status_code == 200
    live_server.cli("clients", "revoke", name)
    from tests.servers import eventually

    def refused() -> bool:
        with live_server.client(key) as c:
            return c.post("/v1/check", json=PDQ).status_code == 401

    eventually(refused, timeout=5)


def test_case_creation_with_a_key_needs_report_scope(live_server: Server, keys: dict[str, str]):
    for scope in SCOPES:
        with live_server.client(keys[scope]) as c:
            r = c.post(
                "/v1/cases", json={"hashes": [{"type": "pdq", "value": secrets.token_hex(32)}]}
            )
        assert r.status_code == (201 if scope == "report" else 403), r.text
