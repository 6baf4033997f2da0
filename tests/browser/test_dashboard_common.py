"""Helpers shared by the dashboard's browser tests (this module holds no test of its own).

The tests share the session's ``live_server`` (so they never assume an empty bank): each
creates its own cases, clients and users with unique names. One admin is created through
the CLI, like an operator would; everything else goes through the dashboard or the API.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect

from tests.browser.conftest import screenshot
from tests.servers import Server

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Staffer:
    username: str
    password: str
    role: str


@dataclass
class Watch:
    """What went wrong while a page was open: script errors, console errors (CSP
    violations are console errors), failed requests and error responses of assets."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Watch:
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on(
            "response",
            lambda res: (
                self.problems.append(f"{res.status}: {res.url}")
                if res.status >= 400 and res.request.resource_type != "document"
                else None
            ),
        )
        return self

    def _failed(self, request: Request) -> None:
        # ERR_ABORTED: the test navigated on while the browser still fetched something
        # lazily (the favicon); a missing or refused asset shows as a 4xx/5xx response
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _console(self, msg: ConsoleMessage) -> None:
        # an error *page* (403, 404) is logged as a failed load too: those are tested by
        # status; failed assets are caught by the response and requestfailed events
        if msg.type in ("error", "warning") and not msg.text.startswith(
            "Failed to load resource: the server responded with a status of"
        ):
            self.problems.append(f"console {msg.type}: {msg.text}")

    def assert_clean(self) -> None:
        assert self.problems == [], self.problems


@pytest.fixture(scope="session")
def admin(live_server: Server) -> Staffer:
    """An admin created with ``hashbank users create`` (once per session)."""
    name = f"admin-{uuid.uuid4().hex[:6]}"
    live_server.create_user(name, PASSWORD, "admin")
    return Staffer(name, PASSWORD, "admin")


@pytest.fixture
def dpage(browser: Browser) -> Iterator[tuple[Page, Watch]]:
    """A fresh browser context with a watch on errors; fails the test on any of them."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = Watch().attach(page)
    yield page, watch
    context.close()
    watch.assert_clean()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def login(page: Page, server: Server, who: Staffer, *, path: str = "/dashboard") -> None:
    """Sign in through the form and wait for the page it leads to."""
    page.goto(server.url + path)
    page.get_by_label("Username").fill(who.username)
    page.get_by_label("Password").fill(who.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def logout(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()


def flash(page: Page) -> str:
    return page.locator("p.flash").inner_text()


# -- the same over plain HTTP, for fast setup and for what a browser cannot send ----------
class Http:
    """A signed-in dashboard user over httpx: GETs pages, POSTs forms with the CSRF token."""

    def __init__(self, server: Server, who: Staffer) -> None:
        self.client = httpx.Client(base_url=server.url, timeout=60, follow_redirects=False)
        form = self.client.get("/dashboard")
        token = CSRF.search(form.text)
        assert token is not None
        r = self.client.post(
            "/dashboard/login",
            data={"csrf": token.group(1), "username": who.username, "password": who.password},
        )
        assert r.status_code == 303, r.text
        page = self.client.get("/dashboard")
        token = CSRF.search(page.text)
        assert token is not None
        self.csrf = token.group(1)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})})

    def close(self) -> None:
        self.client.close()


def create_staffer(server: Server, admin: Staffer, role: str = "moderator") -> Staffer:
    """A new dashboard user, created by ``admin`` through the users page's form."""
    who = Staffer(unique(role[:3]), PASSWORD, role)
    http = Http(server, admin)
    try:
        r = http.post(
            "/dashboard/users", {"username": who.username, "password": who.password, "role": role}
        )
        assert r.status_code == 303, r.text
    finally:
        http.close()
    return who


# -- the API, as platforms and reporters use it ----------------------------------------
def rand_pdq() -> str:
    return secrets.token_hex(32)


def flip(value: str, n: int) -> str:
    """``value`` with its first ``n`` bits flipped: at distance ``n``."""
    as_int = int(value, 16)
    for bit in range(n):
        as_int ^= 1 << (255 - bit)
    return f"{as_int:064x}"


def report(server: Server, pdq: str) -> str:
    """Report a case with one PDQ hash; returns its case id."""
    with server.client() as c:
        r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]})
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def check(server: Server, key: str, pdq: str) -> dict[str, Any]:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": pdq}]})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def user_id(http: Http, username: str) -> int:
    """The id of a user, from the users page's disable/enable forms."""
    page = http.get("/dashboard/users", params={"per": 100}).text
    found = re.search(
        r'action="/dashboard/users/(\d+)/(?:disable|enable)">[^<]*<input[^>]*>'
        rf'<button[^>]*aria-label="(?:Disable|Enable) {re.escape(username)}"',
        page,
    )
    assert found is not None, username
    return int(found.group(1))


def case_path(http: Http, case_id: str) -> str:
    """The dashboard path of a case, found through the search (a case id redirects)."""
    r = http.get("/dashboard/search", params={"q": case_id})
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def audit_has(http: Http, action: str, actor: str, object_id: str | None = None) -> bool:
    """Whether the audit log page lists ``action`` by ``actor`` (on ``object_id``)."""
    r = http.get("/dashboard/audit", params={"action": action, "actor": actor, "per": 100})
    assert r.status_code == 200
    if f"<code>{action}</code>" not in r.text:
        return False
    return object_id is None or object_id in r.text


def shot(page: Page, name: str) -> None:
    """A documentation screenshot ``docs/screenshots/dashboard-<name>.png``."""
    screenshot(page, f"dashboard-{name}")
