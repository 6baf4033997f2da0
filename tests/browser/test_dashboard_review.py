"""Reviewing in Chromium: confirm and reject from the queue with the keyboard, then see a
platform's check follow; false positives go to the allow-list; the case page; search."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import (
    Http,
    Staffer,
    Watch,
    audit_has,
    case_path,
    check,
    create_staffer,
    flash,
    flip,
    login,
    rand_pdq,
    report,
)
from tests.servers import Server

# the fixtures the dashboard's tests share
admin = common.admin
dpage = common.dpage


@pytest.fixture(scope="module")
def moderator(live_server: Server, admin: Staffer) -> Staffer:
    return create_staffer(live_server, admin, "moderator")


@pytest.fixture(scope="module")
def platform_key(live_server: Server) -> str:
    # these tests follow distances: a platform an admin gave exact distances
    return live_server.create_client("review-platform", "check,report", exact_distances=True)


def select_row(page: Page, case_id: str) -> None:
    """Walk the queue with "j" until the row of ``case_id`` is the selected one."""
    row = page.locator("tr[data-row]", has_text=case_id)
    for _ in range(60):
        if "is-selected" in (row.get_attribute("class") or ""):
            return
        page.keyboard.press("j")
    raise AssertionError(f"{case_id} never got selected")


def test_confirm_from_the_queue_by_keyboard_makes_checks_block(
    dpage: tuple[Page, Watch], live_server: Server, moderator: Staffer, platform_key: str
):
    page, _ = dpage
    pdq = rand_pdq()
    case_id = report(live_server, pdq)
    assert check(live_server, platform_key, flip(pdq, 6))["action"] == "review"  # pending

    login(page, live_server, moderator, path="/dashboard/queue?sort=created_at&order=desc")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_role("row", name=case_id)).to_be_visible()
    # a stray "c" with no case selected only selects the first case: it confirms nothing
    page.keyboard.press("c")
    expect(page.locator("tr[data-row]").first).to_have_class(re.compile("is-selected"))
    expect(page.locator("p.flash")).to_have_count(0)
    select_row(page, case_id)
    expect(page.locator("tr[data-row].is-selected")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("c")
    assert f"Case {case_id} confirmed" in flash(page)
    expect(page.get_by_role("row", name=case_id)).to_have_count(0)  # left the queue

    answer = check(live_server, platform_key, flip(pdq, 6))
    assert answer["match"] is True and answer["action"] == "block"
    assert answer["matches"][0]["distance"] == 6

    http = Http(live_server, moderator)
    try:
        assert audit_has(http, "case.active", f"user:{moderator.username}", case_id)
        case_page = http.get(case_path(http, case_id)).text
        assert "Confirmed (active)" in case_page and f"user:{moderator.username}" in case_page
    finally:
        http.close()


def test_reject_from_the_queue_by_keyboard_with_a_reason(
    dpage: tuple[Page, Watch], live_server: Server, moderator: Staffer, platform_key: str
):
    page, _ = dpage
    pdq = rand_pdq()
    case_id = report(live_server, pdq)
    login(page, live_server, moderator, path="/dashboard/queue?sort=created_at&order=desc")
    select_row(page, case_id)
    page.keyboard.press("r")
    reason = page.get_by_label(f"Reason for rejecting {case_id}")
    expect(reason).to_be_focused()
    page.keyboard.type("a holiday photo, not an intimate image")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"Case {case_id} rejected" in flash(page)
    assert check(live_server, platform_key, pdq)["match"] is False  # rejected never matches

    page.get_by_role("link", name="Cases", exact=True).click()
    page.get_by_label("Case id contains").fill(case_id[3:12])
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    with page.expect_navigation():
        page.get_by_role("link", name=case_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("rejected")
    expect(page.locator(".timeline")).to_contain_text(
        f"Rejected by user:{moderator.username}: a holiday photo, not an intimate image"
    )


def test_a_rejection_needs_a_reason(live_server: Server, moderator: Staffer):
    case_id = report(live_server, rand_pdq())
    http = Http(live_server, moderator)
    try:
        path = case_path(http, case_id)
        r = http.post(path + "/reject", {"reason": "   "})
        assert r.status_code == 422 and "a rejection needs a reason" in r.text
        assert "pending" in http.get(path).text
        # and a case that is not pending cannot be reviewed again
        assert http.post(path + "/confirm").status_code == 303
        r = http.post(path + "/reject", {"reason": "changed my mind"})
        assert r.status_code == 409 and "text/html" in r.headers["content-type"]
    finally:
        http.close()


def test_false_positive_allow_lists_the_uploaded_hash_only(
    dpage: tuple[Page, Watch], live_server: Server, moderator: Staffer, platform_key: str
):
    page, _ = dpage
    victim = rand_pdq()
    case_id = report(live_server, victim)
    http = Http(live_server, moderator)
    try:
        assert http.post(case_path(http, case_id) + "/confirm").status_code == 303
    finally:
        http.close()
    lookalike = flip(victim, 20)  # an innocent image that happens to be close
    answer = check(live_server, platform_key, lookalike)
    assert answer["action"] == "block"
    match_id = answer["matches"][0]["match_id"]
    with live_server.client(platform_key) as c:
        r = c.post(f"/v1/matches/{match_id}/feedback", json={"feedback": "false_positive"})
        assert r.status_code == 200, r.text

    login(page, live_server, moderator)
    page.get_by_role("link", name="Review", exact=True).click()
    page.get_by_role("link", name="Matches awaiting review").click()
    expect(page.get_by_role("heading", name="Matches awaiting review")).to_be_visible()
    if page.get_by_role("button", name=f"Match {match_id}: false positive").count() == 0:
        page.goto(live_server.url + "/dashboard/queue/matches?sort=created_at&order=desc")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Match {match_id}: false positive").click()
    assert f"Match {match_id} marked a false positive" in flash(page)

    assert check(live_server, platform_key, lookalike)["match"] is False  # allow-listed
    still = check(live_server, platform_key, victim)  # the victim's own image still blocks
    assert still["action"] == "block" and still["matches"][0]["distance"] == 0
    assert check(live_server, platform_key, flip(victim, 5))["action"] == "block"

    # the allow-list entry is the uploaded hash, not the victim's
    page.goto(live_server.url + "/dashboard/search?q=" + lookalike)
    expect(page.get_by_role("row").filter(has_text="allowlist")).to_have_count(1)
    page.goto(live_server.url + "/dashboard/search?q=" + victim)
    expect(page.get_by_role("row").filter(has_text="allowlist")).to_have_count(0)
    http = Http(live_server, moderator)
    try:
        assert audit_has(http, "match.false_positive", f"user:{moderator.username}", str(match_id))
    finally:
        http.close()


def test_case_page_shows_hashes_and_timeline(
    dpage: tuple[Page, Watch], live_server: Server, moderator: Staffer, platform_key: str
):
    page, _ = dpage
    pdq = rand_pdq()
    case_id = report(live_server, pdq)
    login(page, live_server, moderator)
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Case id or hash").fill(case_id.lower().replace("-", " "))
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(case_id)
    expect(page.get_by_role("heading", level=1)).to_contain_text("pending")
    expect(page.get_by_role("row").filter(has_text=pdq)).to_contain_text("90")  # quality
    with page.expect_navigation():
        page.keyboard.press("c")  # the case page's shortcut
    assert f"Case {case_id} confirmed" in flash(page)
    for distance in (3, 9):
        check(live_server, platform_key, flip(pdq, distance))
    page.reload()
    timeline = page.locator(".timeline li")
    expect(timeline).to_have_count(4)
    # newest first: two re-uploads (platform and distance), confirmed, reported
    expect(timeline.nth(0)).to_contain_text("from platform review-platform")
    expect(timeline.nth(0)).to_contain_text("pdq at distance 9")
    expect(timeline.nth(1)).to_contain_text("pdq at distance 3")
    expect(timeline.nth(2)).to_contain_text(f"Confirmed (active) by user:{moderator.username}")
    expect(timeline.nth(3)).to_contain_text("Reported")
    page.get_by_role("link", name="Show oldest first").click()
    expect(page.locator(".timeline li").nth(0)).to_contain_text("Reported")


def test_search_by_hash_exact_and_within_a_distance(
    dpage: tuple[Page, Watch], live_server: Server, moderator: Staffer
):
    page, _ = dpage
    pdq = rand_pdq()
    case_id = report(live_server, pdq)
    login(page, live_server, moderator)
    page.goto(live_server.url + "/dashboard/search")
    query = page.get_by_label("Case id or hash")
    query.fill(flip(pdq, 12))
    page.get_by_label("Within distance").fill("0")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row").filter(has_text=case_id)).to_have_count(0)  # not exact

    page.get_by_label("Within distance").fill("12")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row").filter(has_text=case_id)
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("12")

    page.get_by_label("Within distance").fill("11")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row").filter(has_text=case_id)).to_have_count(0)

    query.fill("not a hash")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_contain_text("Type a case id")
    query.fill("HB-0000-0000-0000-0000")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_contain_text("No case HB-0000-0000-0000-0000")


def test_admin_removes_an_allow_list_entry_and_the_lookalike_blocks_again(
    dpage: tuple[Page, Watch],
    live_server: Server,
    admin: Staffer,
    moderator: Staffer,
    platform_key: str,
):
    page, _ = dpage
    victim = rand_pdq()
    case_id = report(live_server, victim)
    lookalike = flip(victim, 18)
    http = Http(live_server, moderator)
    try:
        assert http.post(case_path(http, case_id) + "/confirm").status_code == 303
        match_id = check(live_server, platform_key, lookalike)["matches"][0]["match_id"]
        assert http.post(f"/dashboard/matches/{match_id}/false-positive").status_code == 303
        # a moderator sees the entry but cannot remove it
        listing = http.get("/dashboard/search", params={"q": lookalike})
        assert "allowlist" in listing.text and "/remove" not in listing.text
        assert http.post("/dashboard/signals/1/remove").status_code == 403
    finally:
        http.close()
    assert check(live_server, platform_key, lookalike)["match"] is False

    login(page, live_server, admin)
    page.goto(live_server.url + "/dashboard/search?q=" + lookalike)
    row = page.get_by_role("row").filter(has_text="allowlist")
    expect(row).to_have_count(1)
    row.get_by_role("textbox").fill("marked by mistake")
    with page.expect_navigation():
        row.get_by_role("button", name="Remove from allowlist").click()
    assert "removed from bank allowlist" in flash(page)
    # still listed as the hash it was, now deleted, with nothing left to remove
    row = page.get_by_role("row").filter(has_text="allowlist")
    expect(row).to_contain_text("(deleted)")
    expect(row.get_by_role("button")).to_have_count(0)
    # the victim's case is untouched: only bank entries have the button
    page.goto(live_server.url + "/dashboard/search?q=" + victim)
    expect(page.get_by_role("row").filter(has_text=case_id).get_by_role("button")).to_have_count(0)

    again = check(live_server, platform_key, lookalike)
    assert again["action"] == "block" and again["matches"][0]["distance"] == 18
    http = Http(live_server, admin)
    try:
        assert audit_has(http, "bank.entries_removed", f"user:{admin.username}", "allowlist")
        r = http.get("/dashboard/audit", params={"action": "bank.entries_removed"})
        assert "marked by mistake" in r.text
    finally:
        http.close()
