"""The dashboard over plain HTTP against a real server, for every route of its router:
signed out, pages send to the sign-in form and forms get 403; a moderator gets 403 on every
admin route; headers; cookies (Secure when set); no open redirect after sign-in."""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from typing import Any

import httpx
import pytest

from app.dashboard.deps import current_admin
from app.dashboard.pages import CSP
from app.dashboard.routes import router
from tests.servers import Server

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
VALUES = {
    "case_id": "1",
    "match_id": "1",
    "client_id": "1",
    "user_id": "1",
    "name": "reports",
    "signal_id": "1",
    "endpoint_id": "1",
    "delivery_id": "1",
}


def routes(method: str) -> list[tuple[str, bool]]:
    """(path with sample values, admin only) of every route of the dashboard for ``method``."""

    def calls(dependant: Any) -> set[Any]:
        found = {dependant.call}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    out = []
    for route in router.routes:
        if method not in getattr(route, "methods", ()):
            continue
        path = route.path  # type: ignore[attr-defined]
        if "{name}" in path and "static" in path:
            path = path.replace("{name}", "dashboard.css")
        path = re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], path)
        out.append((path, current_admin in calls(route.dependant)))  # type: ignore[attr-defined]
    return out


def sign_in(server: Server, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.url, timeout=60)
    token = CSRF.search(client.get("/dashboard").text)
    assert token is not None
    r = client.post(
        "/dashboard/login",
        data={"csrf": token.group(1), "username": username, "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    token = CSRF.search(client.get("/dashboard").text)
    assert token is not None
    return client, token.group(1)


@pytest.fixture(scope="module")
def staff(live_server: Server) -> dict[str, str]:
    names = {role: f"http-{role[:3]}-{uuid.uuid4().hex[:6]}" for role in ("admin", "moderator")}
    for role, name in names.items():
        live_server.create_user(name, PASSWORD, role)
    return names


def test_the_router_has_the_pages_and_actions_of_the_issue():
    gets = {p for p, _ in routes("GET")}
    assert {
        "/dashboard",
        "/dashboard/queue",
        "/dashboard/queue/matches",
        "/dashboard/cases",
        "/dashboard/cases/1",
        "/dashboard/matches",
        "/dashboard/search",
        "/dashboard/audit",
        "/dashboard/audit.csv",
        "/dashboard/banks",
        "/dashboard/clients",
        "/dashboard/users",
        "/dashboard/settings",
        "/dashboard/webhooks",
    } <= gets
    admin_only = {p for p, admin in routes("GET") + routes("POST") if admin}
    admin_pages = (
        "/dashboard/banks",
        "/dashboard/clients",
        "/dashboard/users",
        "/dashboard/settings",
        "/dashboard/signals",
        "/dashboard/webhooks",
    )
    assert {p for p in admin_only if not p.startswith(admin_pages)} == set()
    assert len(admin_only) >= 8


def test_signed_out_pages_lead_to_sign_in_and_forms_are_refused(live_server: Server):
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        for path, _ in routes("GET"):
            r = c.get(path)
            if path in ("/dashboard", "/dashboard/login") or "/static/" in path:
                assert r.status_code == 200, path
                continue
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/dashboard?next=")
        for path, _ in routes("POST"):
            r = c.post(path, data={"csrf": "x", "username": "u", "password": "p"})
            assert r.status_code == 403, path
            assert r.headers["content-type"].startswith("text/html")


def test_a_moderator_gets_403_on_every_admin_route(live_server: Server, staff: dict[str, str]):
    client, csrf = sign_in(live_server, staff["moderator"])
    with contextlib.closing(client):
        for path, admin in routes("GET"):
            r = client.get(path)
            if admin:
                assert r.status_code == 403, path
            elif path == "/dashboard/login":
                assert r.status_code == 303  # signed in already
            else:
                assert r.status_code in (200, 404), path  # 404: no case or match of that id
        for path, admin in routes("POST"):
            if not admin:
                continue
            r = client.post(path, data={"csrf": csrf, "name": "x", "username": "y"})
            assert r.status_code == 403, path
            assert "this page is for admins" in r.text


def test_removing_an_unknown_hash_or_a_cases_hash_is_refused(
    live_server: Server, staff: dict[str, str], api_key: str
):
    value = secrets.token_hex(32)
    with live_server.client(api_key) as c:
        r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]})
        assert r.status_code == 201, r.text
    feed = live_server.feed(api_key)
    signal_id = next(i["signal_id"] for i in feed if i["op"] == "add" and i["value"] == value)
    client, csrf = sign_in(live_server, staff["admin"])
    with contextlib.closing(client):
        r = client.post("/dashboard/signals/999999999/remove", data={"csrf": csrf})
        assert r.status_code == 404 and "no stored hash 999999999" in r.text
        r = client.post(f"/dashboard/signals/{signal_id}/remove", data={"csrf": csrf})
        assert r.status_code == 409 and "belongs to a case" in r.text
    with live_server.client(api_key) as c:  # the case's hash still blocks
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]})
        assert r.status_code == 200 and r.json()["match"], r.text


def test_pages_carry_strict_headers(live_server: Server, staff: dict[str, str]):
    client, _ = sign_in(live_server, staff["admin"])
    with contextlib.closing(client):
        for path, _ in routes("GET"):
            r = client.get(path)
            if r.status_code != 200:
                continue
            assert r.headers["content-security-policy"] == CSP, path
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
            if "/static/" not in path:
                assert r.headers["cache-control"] == "no-store", path
            if r.headers["content-type"].startswith("text/html"):
                # no inline script or style: every script and sheet comes from /dashboard/static
                assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), path
                assert "<style" not in r.text and " style=" not in r.text, path
                # and nothing from another site
                assert not re.search(r'(?:src|href|action)="(?:https?:)?//', r.text), path


def test_sign_in_never_redirects_off_the_dashboard(live_server: Server, staff: dict[str, str]):
    for target, expected in (
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("/dashboard/../v1/feed", "/dashboard/../v1/feed"),  # stays a path on this site
        ("/v1/feed", "/dashboard"),
        ("/dashboard/audit?action=user.login", "/dashboard/audit?action=user.login"),
        ("/\\evil.example", "/dashboard"),
    ):
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            token = CSRF.search(c.get("/dashboard").text)
            assert token is not None
            r = c.post(
                "/dashboard/login",
                data={
                    "csrf": token.group(1),
                    "username": staff["admin"],
                    "password": PASSWORD,
                    "next": target,
                },
            )
            assert r.status_code == 303
            assert r.headers["location"] == expected, target


def test_cookies_are_secure_when_asked(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_SECURE_COOKIES": "true"})
    server.create_user("secure-admin", PASSWORD, "admin")
    with httpx.Client(base_url=server.url, timeout=60) as c:
        form = c.get("/dashboard")
        login_cookie = form.headers["set-cookie"]
        assert "secure" in login_cookie.lower() and "httponly" in login_cookie.lower()
        assert "samesite=strict" in login_cookie.lower() and "Path=/dashboard" in login_cookie
        token = CSRF.search(form.text)
        assert token is not None
        r = c.post(
            "/dashboard/login",
            # httpx keeps Secure cookies to https only: hand the login secret over by hand
            headers={"cookie": login_cookie.split(";", 1)[0]},
            data={"csrf": token.group(1), "username": "secure-admin", "password": PASSWORD},
        )
        assert r.status_code == 303, r.text
        session = next(v for v in r.headers.get_list("set-cookie") if "hashbank_session" in v)
        assert all(flag in session.lower() for flag in ("secure", "httponly", "samesite=strict"))


def test_cookies_are_secure_behind_a_tls_proxy(live_server: Server):
    cookies = []
    for headers in ({}, {"X-Forwarded-Proto": "https"}):
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            cookies.append(c.get("/dashboard", headers=headers).headers["set-cookie"].lower())
    plain, proxied = cookies
    assert "secure" not in plain  # plain HTTP on loopback without the setting
    assert "secure" in proxied


def test_audit_csv_is_a_download_that_spreadsheets_cannot_run(
    live_server: Server, staff: dict[str, str]
):
    client, csrf = sign_in(live_server, staff["admin"])
    with contextlib.closing(client):
        # a client name that a spreadsheet would take for a formula
        name = f"=HYPERLINK({uuid.uuid4().int % 10**9})"
        r = client.post("/dashboard/clients", data={"csrf": csrf, "name": name, "scopes": "check"})
        assert r.status_code == 200
        r = client.get("/dashboard/audit.csv", params={"action": "client.created"})
        assert r.status_code == 200
        assert r.headers["content-disposition"] == 'attachment; filename="hashbank-audit.csv"'
        assert r.headers["content-type"].startswith("text/csv")
        assert f",'{name}," in r.text
        assert f",{name}" not in r.text
