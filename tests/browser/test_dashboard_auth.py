"""Signing in and out of the dashboard in Chromium: the form, cookies, wrong passwords,
lockout, coming back to the page asked for, sessions that end."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from app.dashboard.pages import CSP
from app.services.users import LoginPolicy
from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import (
    PASSWORD,
    Http,
    Staffer,
    Watch,
    audit_has,
    create_staffer,
    login,
    logout,
    shot,
    user_id,
)
from tests.servers import Server

MESSAGE = LoginPolicy().message  # every refused sign-in (the live server's defaults)

# the fixtures the dashboard's tests share
admin = common.admin
dpage = common.dpage


def test_signed_out_dashboard_is_the_login_form(dpage: tuple[Page, Watch], live_server: Server):
    page, _ = dpage
    response = page.goto(live_server.url + "/dashboard")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP
    assert response.headers["cache-control"] == "no-store"
    form = page.locator("form[action='/dashboard/login']")
    expect(form.locator("input[name=username]")).to_be_visible()
    expect(form.locator("input[name=password][type=password]")).to_be_visible()
    expect(page.get_by_role("navigation", name="Dashboard")).to_have_count(0)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert set(cookies) == {"hashbank_login"}  # the login form's CSRF secret, nothing else
    login_cookie = cookies["hashbank_login"]
    assert login_cookie["httpOnly"] and login_cookie["sameSite"] == "Strict"
    assert login_cookie["path"] == "/dashboard" and not login_cookie["secure"]  # plain HTTP
    shot(page, "login")


def test_login_then_logout_ends_the_session(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer, browser: Browser
):
    page, _ = dpage
    login(page, live_server, admin)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["hashbank_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "hashbank_login" not in cookies  # the pre-login secret is gone
    assert page.evaluate("document.cookie") == ""  # nothing readable by scripts

    logout(page)
    assert "hashbank_session" not in {c["name"] for c in page.context.cookies()}
    # the old cookie, replayed by someone who copied it, signs nobody in any more
    other = browser.new_context()
    try:
        other.add_cookies(
            [
                {
                    "name": session["name"],
                    "value": session["value"],
                    "domain": "127.0.0.1",
                    "path": "/dashboard",
                }
            ]
        )
        stale = other.new_page()
        stale.goto(live_server.url + "/dashboard/audit")
        expect(stale.get_by_label("Username")).to_be_visible()
    finally:
        other.close()
    http = Http(live_server, admin)
    try:
        assert audit_has(http, "user.login", f"user:{admin.username}")
        assert audit_has(http, "user.logout", f"user:{admin.username}")
    finally:
        http.close()


def test_wrong_password_is_refused(dpage: tuple[Page, Watch], live_server: Server, admin: Staffer):
    page, _ = dpage
    page.goto(live_server.url + "/dashboard")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill("not-the-password")
    with page.expect_response("**/dashboard/login") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text(MESSAGE)
    expect(page.get_by_label("Username")).to_have_value(admin.username)
    expect(page.get_by_label("Password")).to_have_value("")
    assert "hashbank_session" not in {c["name"] for c in page.context.cookies()}
    shot(page, "login-failed")
    # an unknown user gets the very same answer
    page.get_by_label("Username").fill("nobody-at-all")
    page.get_by_label("Password").fill("whatever-it-is")
    with page.expect_response("**/dashboard/login") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text(MESSAGE)  # the very same words


def test_five_wrong_passwords_pause_this_address_only(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    victim = create_staffer(live_server, admin)
    page.goto(live_server.url + "/dashboard")
    for _ in range(5):
        page.get_by_label("Username").fill(victim.username)
        page.get_by_label("Password").fill("guess-" + victim.username)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
    # now even the right password is refused from this address, with the same answer
    page.get_by_label("Username").fill(victim.username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response("**/dashboard/login") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text(MESSAGE)
    assert "hashbank_session" not in {c["name"] for c in page.context.cookies()}
    http = Http(live_server, admin)
    try:
        assert audit_has(http, "user.login_failed", f"user:{victim.username}")
        # the account itself is not locked: an outsider cannot lock staff out
        # (tests/app/test_dashboard_login.py signs the owner in from another address)
        assert not audit_has(http, "user.locked", "system", victim.username)
    finally:
        http.close()


def test_signed_out_visit_signs_in_then_returns(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    page.goto(live_server.url + "/dashboard/audit?action=user.login")
    expect(page.get_by_label("Username")).to_be_visible()
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(admin.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == live_server.url + "/dashboard/audit?action=user.login"
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()


def test_disabling_a_user_signs_them_out(
    browser: Browser, dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
):
    page, _ = dpage
    moderator = create_staffer(live_server, admin)
    login(page, live_server, moderator)
    http = Http(live_server, admin)
    try:
        target = user_id(http, moderator.username)
        assert http.post(f"/dashboard/users/{target}/disable").status_code == 303
        assert audit_has(http, "user.disabled", f"user:{admin.username}", moderator.username)
    finally:
        http.close()
    page.goto(live_server.url + "/dashboard/queue")
    expect(page.get_by_label("Username")).to_be_visible()
    page.get_by_label("Username").fill(moderator.username)
    page.get_by_label("Password").fill(moderator.password)
    with page.expect_response("**/dashboard/login") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
