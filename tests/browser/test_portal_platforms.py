"""A victim's case page: re-upload attempts caught and confirmed blocked, per platform by
name only where HASHBANK_SHOW_PLATFORM_NAMES_TO_VICTIMS allows it; in each language,
with and without JavaScript."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_portal_common import case_status, follow, open_page, t
from tests.servers import Server, eventually


def _case_checked_by_two_platforms(server: Server) -> tuple[str, str]:
    """A case whose hash was met twice by "Example Social" (one upload blocked) and once
    by "PicShare" (no feedback)."""
    value = secrets.token_hex(32)
    with server.client() as c:
        r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]})
    assert r.status_code == 201, r.text
    case_id, pin = r.json()["case_id"], r.json()["pin"]
    social = server.create_client(f"Example Social {secrets.token_hex(2)}", "check")
    share = server.create_client(f"PicShare {secrets.token_hex(2)}", "check")
    body = {"hashes": [{"type": "pdq", "value": value}]}
    with server.client(social) as c:
        first = eventually(lambda: c.post("/v1/check", json=body).json()["matches"])
        r = c.post(f"/v1/matches/{first[0]['match_id']}/feedback", json={"feedback": "blocked"})
        assert r.status_code == 200
        # another upload of the same image: a distinct query hash (one bit off)
        near = format(int(value, 16) ^ 1, "064x")
        assert c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": near}]}).json()[
            "match"
        ]
    with server.client(share) as c:
        assert c.post("/v1/check", json=body).json()["match"]
    return case_id, pin


@pytest.fixture(scope="module")
def naming_server(tmp_path_factory: pytest.TempPathFactory):
    from tests.servers import fresh_database_url

    workdir = tmp_path_factory.mktemp("names")
    server = Server(
        workdir,
        fresh_database_url(workdir),
        extra_env={"HASHBANK_SHOW_PLATFORM_NAMES_TO_VICTIMS": "true"},
    ).start()
    yield server
    server.stop()


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_platform_names_where_the_setting_allows(lang: str, naming_server: Server, page: Page):
    case_id, pin = _case_checked_by_two_platforms(naming_server)
    status = case_status(naming_server, case_id, pin)
    assert (status["reupload_attempts"], status["confirmed_blocked"]) == (3, 1)
    platforms = {p["name"].split()[0]: p for p in status["platforms"]}
    assert set(platforms) == {"Example", "PicShare"}
    assert (
        platforms["Example"]["reupload_attempts"],
        platforms["Example"]["confirmed_blocked"],
    ) == (2, 1)
    assert (
        platforms["PicShare"]["reupload_attempts"],
        platforms["PicShare"]["confirmed_blocked"],
    ) == (1, 0)

    open_page(page, naming_server, "/follow", lang=lang)
    follow(page, case_id, pin)
    expect(page.locator("#case-attempts")).to_have_text("3")
    expect(page.locator("#case-blocked")).to_have_text("1")
    section = page.locator("#case-platforms-section")
    expect(section).to_be_visible()
    expect(section.locator("h3")).to_have_text(t(lang, "case.platforms"))
    expected = [
        t(
            lang,
            "case.platform",
            name=p["name"],
            attempts=p["reupload_attempts"],
            blocked=p["confirmed_blocked"],
        )
        for p in status["platforms"]
    ]
    expect(page.locator("#case-platforms li")).to_have_text(expected)


def test_platform_names_without_javascript(browser: Browser, naming_server: Server):
    case_id, pin = _case_checked_by_two_platforms(naming_server)
    status = case_status(naming_server, case_id, pin)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(naming_server.url + "/follow?lang=nl")
    follow(page, case_id, pin)
    posted = page.locator("#case-posted")
    expect(posted.locator("#case-posted-platforms-title")).to_have_text(t("nl", "case.platforms"))
    expect(posted.locator("ul.platforms li")).to_have_text(
        [
            t(
                "nl",
                "case.platform",
                name=p["name"],
                attempts=p["reupload_attempts"],
                blocked=p["confirmed_blocked"],
            )
            for p in status["platforms"]
        ]
    )
    context.close()


def test_no_platform_names_by_default(live_server: Server, page: Page):
    case_id, pin = _case_checked_by_two_platforms(live_server)
    status = case_status(live_server, case_id, pin)
    assert (status["reupload_attempts"], status["confirmed_blocked"]) == (3, 1)
    assert status["platforms"] is None  # counts only: no platform's name reaches a victim
    open_page(page, live_server, "/follow", lang="fr")
    follow(page, case_id, pin)
    expect(page.locator("#case-attempts")).to_have_text("3")
    expect(page.locator("#case-blocked")).to_have_text("1")
    expect(page.locator("#case-platforms-section")).to_be_hidden()
    assert "Example Social" not in page.content() and "PicShare" not in page.content()
