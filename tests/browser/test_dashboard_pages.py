"""Every dashboard page in Chromium: every link answers 200 with no console error, CSP
violation or failed load; forms without a valid CSRF token get 403 and change nothing;
GET changes nothing; accessibility (names, contrast, keyboard, one h1, laptop widths)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from app.dashboard.routes import router
from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import (
    Http,
    Staffer,
    Watch,
    case_path,
    check,
    create_staffer,
    flip,
    login,
    rand_pdq,
    report,
    unique,
)
from tests.browser.test_portal_pages import CONTRAST_JS
from tests.servers import Server

# the fixtures the dashboard's tests share
admin = common.admin
dpage = common.dpage

CRAWL_LIMIT = 100
# Every visible control and link has an accessible name; ids are unique (WCAG 4.1.2, 1.3.1).
NAMES_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll(
    "input:not([type=hidden]), button, select, textarea, a[href]"
  )) {
    const named = el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim()
      || el.querySelector("img[alt]:not([alt=''])");
    if (!named) bad.push(el.outerHTML.slice(0, 80));
  }
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  return { bad, dupes };
}"""
LAPTOPS: tuple[ViewportSize, ...] = (
    {"width": 1280, "height": 800},
    {"width": 1366, "height": 768},
)
PAGES = {
    "overview": "/dashboard",
    "queue": "/dashboard/queue",
    "queue-matches": "/dashboard/queue/matches",
    "cases": "/dashboard/cases",
    "matches": "/dashboard/matches",
    "search": "/dashboard/search",
    "audit": "/dashboard/audit",
    "banks": "/dashboard/banks",
    "clients": "/dashboard/clients",
    "records": "/dashboard/records",
    "users": "/dashboard/users",
    "settings": "/dashboard/settings",
}


@pytest.fixture(scope="module")
def seeded(live_server: Server, admin: Staffer) -> dict[str, str]:
    """Something on every page: pending and active cases, matches (one flagged by its
    platform), a client. Returns the paths of an active and a pending case."""
    key = live_server.create_client(unique("crawl-platform"), "check,report")
    http = Http(live_server, admin)
    try:
        victim = rand_pdq()
        active = case_path(http, report(live_server, victim))
        assert http.post(active + "/confirm").status_code == 303
        pending = case_path(http, report(live_server, rand_pdq()))
        for n in (2, 7, 15):
            match = check(live_server, key, flip(victim, n))["matches"][0]["match_id"]
        with live_server.client(key) as c:
            r = c.post(f"/v1/matches/{match}/feedback", json={"feedback": "false_positive"})
            assert r.status_code == 200
    finally:
        http.close()
    return {"active": active, "pending": pending}


def _links(page: Page) -> list[tuple[str, bool]]:
    found: list[list[str | bool]] = page.eval_on_selector_all(
        "a[href]", "els => els.map(e => [e.getAttribute('href'), e.hasAttribute('download')])"
    )
    return [(str(href), bool(download)) for href, download in found]


def _crawl(
    page: Page, server: Server, who: Staffer, start: list[str], limit: int
) -> tuple[set[str], set[str]]:
    """Follow every /dashboard link from ``start`` as ``who``: each answers 200 itself
    (no redirect), as a page signed in; returns the pages seen and the export links."""
    login(page, server, who)
    queue = list(start)
    seen: set[str] = set()
    downloads: set[str] = set()
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(server.url + url)
        assert response is not None and response.status == 200, url
        assert response.request.redirected_from is None, f"{url} redirects"
        assert page.locator("h1").count() == 1, url
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("button", name="Sign out").count() == 1, url  # still signed in
        for href, download in _links(page):
            target = urljoin(server.url + url, href)
            parts = urlsplit(target)
            if parts.netloc != urlsplit(server.url).netloc:
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if not parts.path.startswith("/dashboard"):
                continue
            if download:
                downloads.add(path)
            elif path not in seen:
                queue.append(path)
    return seen, downloads


def test_every_link_is_a_clean_page(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, seeded: dict[str, str]
):
    page, watch = dpage
    start = ["/dashboard", seeded["active"], seeded["pending"]]
    seen, downloads = _crawl(page, live_server, admin, start, CRAWL_LIMIT)
    watch.assert_clean()
    paths = {urlsplit(u).path for u in seen}
    assert set(PAGES.values()) <= paths  # every page of an admin was reached by links
    assert any(re.fullmatch(r"/dashboard/cases/\d+", p) for p in paths)
    assert len(seen) >= 60, len(seen)  # sort orders, filters, pages too
    # exports are marked as downloads, and download
    assert downloads, "no export link"
    for path in downloads:
        r = page.request.get(live_server.url + path)
        assert r.status == 200 and r.headers["content-disposition"].startswith("attachment")


ADMIN_PAGES = {
    "/dashboard/banks",
    "/dashboard/clients",
    "/dashboard/records",
    "/dashboard/users",
    "/dashboard/settings",
}


def test_a_moderator_follows_only_links_they_may_open(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, seeded: dict[str, str]
):
    page, watch = dpage
    moderator = create_staffer(live_server, admin, "moderator")
    start = ["/dashboard", seeded["active"], seeded["pending"]]
    seen, _ = _crawl(page, live_server, moderator, start, 60)
    watch.assert_clean()
    paths = {urlsplit(u).path for u in seen}
    assert set(PAGES.values()) - ADMIN_PAGES <= paths and not paths & ADMIN_PAGES


def _post_routes() -> list[str]:
    out = []
    for route in router.routes:
        methods: set[str] = getattr(route, "methods", set())
        if "POST" in methods:
            out.append(route.path)  # type: ignore[attr-defined]
    return out


def test_a_form_post_without_a_valid_csrf_token_is_refused_first(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, seeded: dict[str, str]
):
    page, _ = dpage
    login(page, live_server, admin)
    case_id = seeded["pending"].rsplit("/", 1)[1]
    values = {
        "{case_id}": case_id,
        "{match_id}": "1",
        "{client_id}": "1",
        "{user_id}": "1",
        "{name}": "reports",
    }
    http = Http(live_server, admin)
    try:
        before = http.get("/dashboard/audit", params={"per": 10}).text
        count = re.search(r"of ([\d,]+)", before)
        assert count is not None
        routes = _post_routes()
        assert len(routes) >= 13, routes
        for template in routes:
            path = template
            for name, value in values.items():
                path = path.replace(name, value)
            form: dict[str, str | float | bool] = {
                "reason": "x",
                "name": unique("csrf"),
                "username": unique("csrf"),
                "password": "p" * 12,
                "role": "admin",
                "scopes": "admin",
                "policy": "block",
            }
            # the browser's session; tokens: none, a made-up one, another session's
            for token in (None, "0" * 64, http.csrf):
                data: dict[str, str | float | bool] = (
                    form if token is None else {**form, "csrf": token}
                )
                answer = page.request.post(live_server.url + path, form=data, max_redirects=0)
                assert answer.status == 403, (path, token, answer.status)
                assert "text/html" in answer.headers["content-type"]
        # nothing happened: the case is pending, no event was logged (signing in is one)
        assert "pending" in http.get(seeded["pending"]).text
        after = http.get("/dashboard/audit", params={"per": 10}).text
        assert re.search(r"of ([\d,]+)", after).group(1) == count.group(1)  # type: ignore[union-attr]
        # a body that is not the dashboard's form is refused the same way
        r = http.client.post(seeded["pending"] + "/confirm", json={"csrf": http.csrf})
        assert r.status_code == 403
        r = http.client.post(
            seeded["pending"] + "/confirm",
            data={"csrf": http.csrf},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert r.status_code == 403
        assert "pending" in http.get(seeded["pending"]).text
    finally:
        http.close()


def test_a_cross_site_form_cannot_act(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, seeded: dict[str, str]
):
    page, _ = dpage
    login(page, live_server, admin)
    target = live_server.url + seeded["pending"] + "/confirm"
    evil = (
        "<!doctype html><html lang=en><title>win a prize</title>"
        f"<form method=post action='{target}'><input name=csrf value=guess>"
        "<button>claim</button></form>"
    )
    page.route(
        "http://evil.test/**", lambda route: route.fulfill(body=evil, content_type="text/html")
    )
    page.goto("http://evil.test/prize")
    with page.expect_response(target) as answer:
        page.get_by_role("button", name="claim").click()
    assert answer.value.status == 403
    page.wait_for_load_state()
    page.goto(live_server.url + seeded["pending"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("pending")


def test_get_never_acts(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, seeded: dict[str, str]
):
    page, _ = dpage
    login(page, live_server, admin)
    for path in (
        seeded["pending"] + "/confirm",
        "/dashboard/logout",
        "/dashboard/clients/1/revoke",
    ):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status in (404, 405), path
    page.goto(live_server.url + seeded["pending"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("pending")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in


@pytest.mark.parametrize("name", list(PAGES))
def test_pages_are_accessible(
    dpage: tuple[Page, Watch],
    live_server: Server,
    admin: Staffer,
    seeded: dict[str, str],
    name: str,
):
    page, _ = dpage
    login(page, live_server, admin)
    page.goto(live_server.url + PAGES[name])
    if name == "search":
        page.goto(live_server.url + "/dashboard/search?q=" + rand_pdq() + "&distance=10")
    names = page.evaluate(NAMES_JS)
    assert names == {"bad": [], "dupes": []}
    assert page.evaluate(CONTRAST_JS) == []
    for viewport in LAPTOPS:
        page.set_viewport_size(viewport)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, viewport, overflow)
    page.set_viewport_size(LAPTOPS[0])
    # keyboard: the first Tab reaches "skip to content", which lands in the main region
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    nav = page.get_by_role("navigation", name="Dashboard")
    expect(nav.locator("[aria-current=page]")).to_have_count(1)


def test_case_page_is_accessible(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, seeded: dict[str, str]
):
    page, _ = dpage
    login(page, live_server, admin)
    for path in (seeded["active"], seeded["pending"]):
        page.goto(live_server.url + path)
        assert page.evaluate(NAMES_JS) == {"bad": [], "dupes": []}
        assert page.evaluate(CONTRAST_JS) == []


def test_error_pages_are_pages(dpage: tuple[Page, Watch], live_server: Server, admin: Staffer):
    page, _ = dpage
    login(page, live_server, admin)
    for path, status in (("/dashboard/nowhere", 404), ("/dashboard/cases/999999999", 404)):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == status
        assert response.headers["content-type"].startswith("text/html")
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        expect(page.get_by_role("link", name="Back")).to_be_visible()
