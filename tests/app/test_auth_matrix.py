"""The authorization matrix: every route of the app's route table, called anonymously and
with a key of each scope, is allowed or denied exactly as the table in docs/security.md
says. A route missing from the table (or a row for a route that does not exist) fails.

Cells: ``yes`` allowed; ``no`` denied (401 without a key, 403 with a key lacking the
scope); ``PIN`` allowed with the case's PIN and 401 with a wrong one, whatever the key.
Dashboard pages (``/dashboard...``) are the dashboard's own tests' business.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx
import pytest

from tests import images
from tests.servers import Server, eventually

REPO = Path(__file__).resolve().parents[2]
ROLES = ["anonymous", "check", "report", "feed", "admin"]
SKIP_PREFIXES = ("/dashboard",)


def documented_matrix() -> dict[tuple[str, str], dict[str, str]]:
    """``(METHOD, path) -> {role: cell}`` from the table in docs/security.md."""
    text = (REPO / "docs" / "security.md").read_text()
    section = text.split("## Authorization", 1)[1].split("\n## ", 1)[0]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`(GET|POST|DELETE|PUT|PATCH) ([^`]+)`\s*\|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split("|")][: len(ROLES)]
        rows[(m.group(1), m.group(2))] = dict(zip(ROLES, cells, strict=True))
    return rows


def route_table() -> set[tuple[str, str]]:
    """(METHOD, path) of every route the app serves, from its router (HEAD left out)."""
    import tempfile

    from app.config import Settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/routes.db"))
        found: set[tuple[str, str]] = set()

        def walk(routes) -> None:
            for route in routes:
                inner = getattr(route, "original_router", None)
                if inner is not None:
                    walk(inner.routes)
                    continue
                path = getattr(route, "path", None)
                for method in getattr(route, "methods", None) or ():
                    if path and method != "HEAD":
                        found.add((method, path))

        walk(app.routes)
        app.state.services.close()
    return {r for r in found if not r[1].startswith(SKIP_PREFIXES)}


MATRIX = documented_matrix()
PNG = images.png("coffee")


def test_the_table_covers_the_route_table_exactly():
    routes = route_table()
    assert routes, "no routes found: the route walker needs updating"
    assert sorted(routes - set(MATRIX)) == [], "routes missing from docs/security.md"
    assert sorted(set(MATRIX) - routes) == [], "docs/security.md lists routes that do not exist"
    for route, cells in MATRIX.items():
        assert set(cells.values()) <= {"yes", "no", "PIN"}, (route, cells)


@pytest.fixture(scope="module")
def world(live_server: Server) -> dict:
    keys = {
        scope: live_server.create_client(f"matrix-{scope}-{secrets.token_hex(3)}", scope)
        for scope in ROLES[1:]
    }
    pdq = secrets.token_hex(32)
    with live_server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]}
        ).json()
    with live_server.client(keys["check"]) as c:
        match = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": pdq}]}).json()
    return {"keys": keys, "case": case, "match_id": match["matches"][0]["match_id"], "pdq": pdq}


def _request(world: dict, method: str, path: str) -> dict:
    """Arguments for one call of a route: its path filled in, a valid body."""
    case = world["case"]
    url = path.replace("{case_id}", case["case_id"]).replace("{match_id}", str(world["match_id"]))
    asset = "docs.js" if path.startswith("/docs/") else "portal.css"
    url = url.replace("{name}", asset).replace("{signal_id}", "1").replace("{client_id}", "1")
    url = url.replace("{endpoint_id}", "1").replace("{delivery_id}", "1")
    hashes = {"hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90}]}
    bodies = {
        ("POST", "/v1/cases"): hashes,
        ("POST", "/v1/cases/{case_id}/hashes"): hashes,
        ("POST", "/v1/check"): hashes,
        ("POST", "/v1/check/batch"): {"items": [hashes]},
        ("POST", "/v1/matches/{match_id}/feedback"): {"feedback": "not_blocked"},
        ("POST", "/v1/feed/feedback"): {"type": "pdq", "value": world["pdq"], "feedback": "seen"},
        ("POST", "/v1/banks"): {"name": f"m-{secrets.token_hex(4)}", "policy": "review"},
        ("POST", "/v1/quarantine/{signal_id}/release"): None,  # no body (admin: 404 here)
        # a public address: no DNS needed; the platform is the admin's own client
        ("POST", "/v1/webhooks"): {"client": 1, "url": "https://93.184.215.14/hook"},
        ("POST", "/v1/webhooks/{endpoint_id}/rotate"): None,
        ("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): None,
        ("POST", "/compat/stopncii/v1/SubmitFeedback"): {
            "hashFeedbacks": [{"hashValue": secrets.token_hex(32), "feedbackValue": "Blocked"}]
        },
        ("POST", "/compat/stopncii/v1/SubmitHashes"): {
            "hashRecords": [{"signalType": "ImagePDQ", "hashValue": secrets.token_hex(32)}]
        },
    }
    forms = {
        ("POST", "/follow"): {"case_id": case["case_id"], "pin": case["pin"], "action": "show"},
    }
    photo = {"photo": ("a.png", PNG, "image/png")}
    uploads = {("POST", "/compat/hma/m/lookup"): photo, ("POST", "/compat/hma/h/hash"): photo}
    query = {"signal_type": "pdq", "signal": secrets.token_hex(32)}
    params = {("GET", "/compat/hma/m/raw_lookup"): query, ("GET", "/compat/hma/m/lookup"): query}
    if method in ("POST", "PUT", "PATCH"):
        assert (method, path) in {**bodies, **forms, **uploads}, (
            f"add a sample body for {method} {path}"
        )
    if (method, path) in forms:
        return {"method": method, "url": url, "data": forms[(method, path)]}
    if (method, path) in uploads:
        return {"method": method, "url": url, "files": uploads[(method, path)]}
    if (method, path) in params:
        return {"method": method, "url": url, "params": params[(method, path)]}
    return {"method": method, "url": url, "json": bodies.get((method, path))}


def _refused_in_its_shape(path: str, r: httpx.Response, kind: str) -> None:
    """A refusal in the error shape of the API the route belongs to: HMA's ``{"message"}``
    under /compat/hma (docs/integrations.md), RFC 9457 problem+json everywhere else."""
    if path.startswith("/compat/hma/"):
        assert list(r.json()) == ["message"], r.text
        return
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(kind)


CALLS = [(route, role) for route in sorted(MATRIX) for role in ROLES]


@pytest.mark.parametrize(
    ("route", "role"), CALLS, ids=[f"{r[0]} {r[1]} as {who}" for r, who in CALLS]
)
def test_route_as_role(live_server: Server, world: dict, route, role):
    method, path = route
    cell = MATRIX[route][role]
    key = None if role == "anonymous" else world["keys"][role]
    args = _request(world, method, path)
    with live_server.client(key) as c:
        if cell == "PIN":
            wrong = c.request(**args, headers={"X-Case-Pin": "0000-0000-0000"})
            assert wrong.status_code == 401, wrong.text
            r = c.request(**args, headers={"X-Case-Pin": world["case"]["pin"]})  # resets the count
        else:
            r = c.request(**args)
    if cell in ("yes", "PIN"):
        assert r.status_code not in (401, 403), r.text
        assert r.status_code < 500, r.text
    else:
        assert r.status_code == (401 if key is None else 403), r.text
        _refused_in_its_shape(path, r, "/unauthorized" if key is None else "/forbidden")


@pytest.mark.parametrize("route", [r for r in sorted(MATRIX) if "no" in MATRIX[r].values()])
def test_bad_keys_are_401(live_server: Server, world: dict, route):
    method, path = route
    args = _request(world, method, path)
    for headers in ({"Authorization": "Bearer hbk_not-a-key"}, {"Authorization": "Basic abc"}):
        with live_server.client() as c:
            r = c.request(**args, headers=headers)
        if MATRIX[route]["anonymous"] == "yes":  # optional key: a bad one is still refused
            assert r.status_code == 401, (headers, r.text)
        else:
            assert r.status_code == 401, (headers, r.text)
            _refused_in_its_shape(path, r, "/unauthorized")


def test_auth_is_checked_before_the_body(live_server: Server):
    with live_server.client() as c:
        r = c.post("/v1/check", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401


def test_revoked_key_gets_401(live_server: Server):
    name = f"revoke-me-{secrets.token_hex(3)}"
    key = live_server.create_client(name, "check")
    body = {"hashes": [{"type": "pdq", "value": "ab" * 32}]}
    with live_server.client(key) as c:
        assert c.post("/v1/check", json=body).status_code == 200
    live_server.cli("clients", "revoke", name)

    def refused() -> bool:
        with live_server.client(key) as c:
            return c.post("/v1/check", json=body).status_code == 401

    eventually(refused, timeout=5)


HEADER_CALLS = [(route, role) for route in sorted(MATRIX) for role in ("anonymous", "admin")]


@pytest.mark.parametrize(
    ("route", "role"), HEADER_CALLS, ids=[f"{r[0]} {r[1]} as {who}" for r, who in HEADER_CALLS]
)
def test_security_headers_on_every_route(live_server: Server, world: dict, route, role):
    """Every answer, allowed or refused, page or JSON: nosniff, no referrer, no framing
    (both X-Frame-Options and the CSP's frame-ancestors), a CSP."""
    method, path = route
    key = None if role == "anonymous" else world["keys"][role]
    with live_server.client(key) as c:
        r = c.request(**_request(world, method, path))
    h = r.headers
    assert h["x-content-type-options"] == "nosniff", route
    assert h["referrer-policy"] == "no-referrer", route
    assert h["x-frame-options"] == "DENY", route
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp, (route, csp)
    if h.get("content-type", "").startswith("text/html"):  # /docs too: no CDN, no inline
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp, (route, csp)
        assert "https:" not in csp and "script-src 'self';" in csp, (route, csp)
    if path.startswith("/v1/"):
        assert h["cache-control"] == "no-store", route


def test_security_headers_on_errors_and_unknown_paths(live_server: Server):
    with live_server.client() as c:
        for r in (c.get("/no-such-page"), c.request("PUT", "/v1/check"), c.get("/v1/feed")):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
