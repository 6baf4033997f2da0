"""Admin pages in Chromium: API clients (key shown once, revoked key gets 401), users,
banks and thresholds; moderators are kept out; the audit log records each action."""

from __future__ import annotations

import csv
import io
import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import (
    Http,
    Staffer,
    Watch,
    audit_has,
    create_staffer,
    flash,
    login,
    rand_pdq,
    shot,
    unique,
)
from tests.servers import Server

# the fixtures the dashboard's tests share
admin = common.admin
dpage = common.dpage

ADMIN_PAGES = (
    "/dashboard/banks",
    "/dashboard/clients",
    "/dashboard/records",
    "/dashboard/users",
    "/dashboard/settings",
)


def test_create_a_client_key_shown_once_then_revoke_it(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    name = unique("platform")
    login(page, live_server, admin)
    page.get_by_role("link", name="API clients").click()
    page.get_by_label("Name (the platform)").fill(name)
    page.get_by_role("checkbox", name="report").check()
    page.get_by_label("Rate limit, requests per second").fill("50")
    with page.expect_navigation():
        page.get_by_role("button", name="Create client and show its key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert re.fullmatch(r"hbk_[A-Za-z0-9_-]{43}", key)
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("check, report")
    expect(row).to_contain_text("50")
    expect(row).to_contain_text(key[:10])
    shot(page, "clients-new-key")

    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": rand_pdq()}]})
        assert r.status_code == 200, r.text

        page.goto(live_server.url + "/dashboard/clients")
        assert key not in page.content()  # shown once: never again
        with page.expect_navigation():
            page.get_by_role("button", name=f"Revoke the key of {name}").click()
        assert f"Client {name} revoked" in flash(page)
        expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("revoked")

        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": rand_pdq()}]})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"

    http = Http(live_server, admin)
    try:
        assert audit_has(http, "client.created", f"user:{admin.username}", name)
        assert audit_has(http, "client.revoked", f"user:{admin.username}", name)
    finally:
        http.close()


def test_moderator_cannot_open_admin_pages(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    moderator = create_staffer(live_server, admin, "moderator")
    login(page, live_server, moderator)
    nav = page.get_by_role("navigation", name="Dashboard")
    expect(nav.get_by_role("link")).to_have_text(
        ["Overview", "Review", "Cases", "Matches", "Search", "Audit log"]
    )
    for path in ADMIN_PAGES:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        expect(page.get_by_role("alert")).to_have_text("this page is for admins")
    shot(page, "forbidden")
    # nor post to them, even with a valid token of their own
    http = Http(live_server, moderator)
    try:
        r = http.post("/dashboard/clients", {"name": unique("sneaky"), "scopes": "admin"})
        assert r.status_code == 403
        r = http.post(
            "/dashboard/users", {"username": unique("x"), "password": "p" * 12, "role": "admin"}
        )
        assert r.status_code == 403
        r = http.post("/dashboard/settings/banks/reports", {"pdq_threshold": "48"})
        assert r.status_code == 403
        r = http.post("/dashboard/clients/1/revoke")
        assert r.status_code == 403
    finally:
        http.close()


def test_admin_creates_a_moderator_who_can_sign_in(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    username = unique("mod")
    login(page, live_server, admin)
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password (at least 10 characters)").fill("a-long-password")
    page.get_by_label("Role").select_option("moderator")
    with page.expect_navigation():
        page.get_by_role("button", name="Create user").click()
    assert f"User {username} created (moderator)" in flash(page)
    expect(page.get_by_role("row").filter(has_text=username)).to_contain_text("never")
    page.context.clear_cookies()
    login(page, live_server, Staffer(username, "a-long-password", "moderator"))
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    http = Http(live_server, admin)
    try:
        assert audit_has(http, "user.created", f"user:{admin.username}", username)
    finally:
        http.close()


def test_banks_and_thresholds(dpage: tuple[Page, Watch], live_server: Server, admin: Staffer):
    page, _ = dpage
    name = unique("partner").lower()
    login(page, live_server, admin)
    page.get_by_role("link", name="Banks").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Policy").select_option("review")
    page.get_by_label("Description").fill("hashes shared by a partner hotline")
    with page.expect_navigation():
        page.get_by_role("button", name="Create bank").click()
    assert f"Bank {name} created" in flash(page)
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("review")

    page.get_by_role("link", name="Settings", exact=True).click()
    form = page.locator("form", has=page.get_by_text(f"Bank {name}"))
    form.get_by_label("PDQ threshold").fill("20")
    form.get_by_label("pHash threshold").fill("")
    with page.expect_navigation():
        form.get_by_role("button", name=f"Save the thresholds of bank {name}").click()
    assert f"Thresholds of bank {name} saved" in flash(page)
    form = page.locator("form", has=page.get_by_text(f"Bank {name}"))
    expect(form.get_by_label("PDQ threshold")).to_have_value("20")

    http = Http(live_server, admin)
    try:
        assert audit_has(http, "bank.created", f"user:{admin.username}", name)
        assert audit_has(http, "bank.thresholds", f"user:{admin.username}", name)
        r = http.post(f"/dashboard/settings/banks/{name}", {"pdq_threshold": "49"})
        assert r.status_code == 422 and "between 0 and 48" in r.text
        r = http.post(f"/dashboard/settings/banks/{name}", {"pdq_threshold": "ten"})
        assert r.status_code == 422 and "whole number" in r.text
        assert 'value="20"' in http.get("/dashboard/settings").text  # unchanged by refusals
    finally:
        http.close()


def test_audit_log_filters_pages_and_exports(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    moderator = create_staffer(live_server, admin, "moderator")
    login(page, live_server, moderator)
    page.goto(live_server.url + "/dashboard")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Actor contains").fill(moderator.username)
    page.get_by_label("Action").select_option("user.login")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"user:{moderator.username}")
    today = page.evaluate("new Date().toISOString().slice(0, 10)")
    page.get_by_label("From (UTC)").fill(today)
    page.get_by_label("To (UTC, inclusive)").fill(today)
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    page.get_by_label("From (UTC)").fill("2001-01-01")
    page.get_by_label("To (UTC, inclusive)").fill("2001-01-02")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No event matches these filters.")).to_be_visible()

    # pages of 10, newest first, and the other order
    page.goto(live_server.url + "/dashboard/audit?per=10")
    expect(rows).to_have_count(10)
    ids = rows.locator("td:first-child")
    first_page = [int(i) for i in ids.all_inner_texts()]
    assert first_page == sorted(first_page, reverse=True)  # newest first
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of")).to_be_visible()
    second_page = [int(i) for i in ids.all_inner_texts()]
    assert len(second_page) == 10 and max(second_page) < min(first_page)
    page.get_by_role("link", name="When").click()  # oldest first
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("When ▲")
    oldest = [int(i) for i in ids.all_inner_texts()]
    assert oldest == sorted(oldest) and oldest[0] == 1

    page.goto(live_server.url + f"/dashboard/audit?actor={moderator.username}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    lines = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert lines[0] == ["id", "at", "actor", "action", "object_type", "object_id", "detail"]
    assert "user.login" in {row[3] for row in lines[1:]}
    assert all(moderator.username in row[2] for row in lines[1:])
