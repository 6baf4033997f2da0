"""Following a case in each language: status, re-upload counts, adding images, withdrawing."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_portal_common import (
    case_status,
    encode,
    follow,
    new_case,
    open_page,
    pick,
    shot,
    synthetic,
    t,
    write,
)
from tests.servers import Server


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_follow_add_images_and_withdraw(
    lang: str, live_server: Server, page: Page, tmp_path: Path
) -> None:
    case_id, pin = new_case(live_server, seed=hash(lang) % 1000)
    open_page(page, live_server, "/follow", lang=lang)
    # typed the way people type it: lower case, with stray spaces
    follow(page, f" {case_id.lower()} ", f"{pin} ")
    expect(page.locator("#case-title")).to_have_text(t(lang, "case.title", case=case_id))
    expect(page.locator("#case-status")).to_have_text(t(lang, "status.pending"))
    expect(page.locator("#case-status-text")).to_have_text(t(lang, "status.pending_text"))
    expect(page.locator("#case-hashes")).to_have_text("1")
    expect(page.locator("#case-last")).to_have_text(t(lang, "case.never"))

    # add two images: hashed here, added with the PIN
    files = [write(tmp_path, f"more-{i}.png", encode(synthetic(50 + i))) for i in range(2)]
    pick(page, files, picker="add")
    page.click("#add-button")
    expect(page.locator("#add-status")).to_have_text(t(lang, "add.done"))
    expect(page.locator("#add-picker li.image")).to_have_count(0)
    added = case_status(live_server, case_id, pin)["hashes"]
    assert added > 1 + 2 * 3
    expect(page.locator("#case-hashes")).to_have_text(str(added))
    shot(page, f"portal-follow-{lang}-desktop")

    # withdraw: a confirmation first; "no" keeps the case
    page.click("#withdraw-button")
    dialog = page.locator("#withdraw-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text(t(lang, "withdraw.confirm_title"))
    expect(page.locator("#withdraw-cancel")).to_be_focused()
    page.click("#withdraw-cancel")
    expect(dialog).to_be_hidden()
    assert case_status(live_server, case_id, pin)["status"] == "pending"
    page.click("#withdraw-button")
    page.click("#withdraw-confirm")
    expect(page.locator("#case-status")).to_have_text(t(lang, "status.withdrawn"))
    expect(page.locator("#case-message")).to_have_text(t(lang, "withdraw.done"))
    expect(page.locator("#withdraw-section")).to_be_hidden()
    expect(page.locator("#add-section")).to_be_hidden()
    assert case_status(live_server, case_id, pin)["status"] == "withdrawn"

    # closing forgets the case on the page
    page.click("#close-button")
    expect(page.locator("#case")).to_be_hidden()
    expect(page.locator("#follow-pin")).to_have_value("")


def test_reupload_attempts_are_shown(
    live_server: Server, page: Page, api_key: str, tmp_path: Path
) -> None:
    image = encode(synthetic(60), "JPEG", quality=92)
    open_page(page, live_server)
    pick(page, [write(tmp_path, "mine.jpg", image)])
    page.click("#report-button")
    expect(page.locator("#result")).to_be_visible()
    case_id = page.inner_text("#case-id")
    pin = page.inner_text("#case-pin")
    other = live_server.create_client(scopes="check")
    for key in (api_key, other):  # two platforms see a re-upload each
        with live_server.client(key) as c:
            for _ in range(2):  # the same upload checked twice: still one attempt
                r = c.post("/v1/check", files={"image": ("x.jpg", image, "image/jpeg")})
                assert r.json()["match"] is True
    page.click("#result a[href^='/follow']")
    page.wait_for_url("**/follow?lang=en")
    follow(page, case_id, pin)
    # two uploads, two attempts (each matched several hashes: PDQ variants, MD5, SHA-256)
    assert case_status(live_server, case_id, pin)["reupload_attempts"] == 2
    expect(page.locator("#case-attempts")).to_have_text("2")
    expect(page.locator("#case-blocked")).to_have_text("0")
    expect(page.locator("#case-last")).not_to_have_text(t("en", "case.never"))


def test_follow_and_withdraw_without_javascript(browser: Browser, live_server: Server) -> None:
    """In a browser's safest mode the follow form posts to the page, which shows the case."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    case_id, pin = new_case(live_server, seed=99)
    page.goto(live_server.url + "/?lang=fr")  # reporting needs JavaScript: said, not offered
    expect(page.locator(".noscript")).to_have_text(t("fr", "noscript"))
    expect(page.locator("#report-form")).to_be_hidden()
    expect(page.locator("#help")).to_be_visible()
    page.goto(live_server.url + "/follow?lang=fr")
    expect(page.locator("#follow-form")).to_be_visible()
    expect(page.locator("#add-section")).to_be_hidden()

    follow(page, case_id, "1111-2222-3333")
    expect(page.locator("#follow-error")).to_have_text(t("fr", "error.wrong_pin", n=10))
    expect(page.locator("#follow-case")).to_have_value(case_id)

    follow(page, case_id, pin)
    posted = page.locator("#case-posted")
    expect(posted.locator("h2")).to_have_text(t("fr", "case.title", case=case_id))
    expect(posted.locator(".badge")).to_have_text(t("fr", "status.pending"))
    assert pin not in page.url and "pin" not in page.url
    posted.locator("button[value=withdraw]").click()
    expect(posted.locator("h3")).to_have_text(t("fr", "withdraw.confirm_title"))
    posted.locator("button[value=show]").click()  # "no": nothing changes
    assert case_status(live_server, case_id, pin)["status"] == "pending"
    posted.locator("button[value=withdraw]").click()
    posted.locator("button[value=withdraw-confirmed]").click()
    expect(posted.locator(".badge")).to_have_text(t("fr", "status.withdrawn"))
    expect(posted.locator("[role=status]")).to_have_text(t("fr", "withdraw.done"))
    expect(posted.locator("form")).to_have_count(0)  # nothing left to do, no PIN kept
    assert pin not in page.content()
    assert case_status(live_server, case_id, pin)["status"] == "withdrawn"
    context.close()
