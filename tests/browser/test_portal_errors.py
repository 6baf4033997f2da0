"""What the pages say when something is wrong: with the file, the PIN, or the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.test_portal_common import (
    case_status,
    encode,
    follow,
    new_case,
    open_page,
    pick,
    report,
    synthetic,
    t,
    write,
)
from tests.servers import Server


def test_files_that_are_not_usable_images(live_server: Server, page: Page, tmp_path: Path) -> None:
    files = [
        write(tmp_path, "letter.jpg", b"Dear diary, this is text in a file named like a photo.\n"),
        write(tmp_path, "empty.png", b""),
        write(tmp_path, "tiny.png", encode(synthetic(1).resize((10, 10)))),
        write(tmp_path, "ribbon.png", encode(synthetic(2).resize((2000, 30)))),
        write(tmp_path, "broken.jpg", encode(synthetic(3), "JPEG")[:300]),
    ]
    open_page(page, live_server, lang="fr")
    shown = pick(page, files)
    assert [s["state"] for s in shown] == ["error"] * len(files)
    assert [s["text"] for s in shown] == [
        t("fr", "file.not_image"),
        t("fr", "file.empty"),
        t("fr", "file.too_small"),
        t("fr", "file.aspect"),
        t("fr", "file.corrupt"),
    ]
    expect(page.locator("[data-status]").first).to_have_text(
        t("fr", "pick.done_problems", ready=0, problems=5)
    )
    expect(page.locator("#report-button")).to_be_disabled()
    # one good image among them: it can be reported
    (ok,) = pick(page, [write(tmp_path, "ok.png", encode(synthetic(4)))])
    assert ok["state"] == "ready"
    expect(page.locator("#report-button")).to_be_enabled()


def test_file_over_the_size_limit(
    server_factory: Callable[..., Server], page: Page, tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_IMAGE_BYTES": "20000"})
    big = write(tmp_path, "big.png", encode(synthetic(5, (640, 480))))
    small = write(tmp_path, "small.jpg", encode(synthetic(6, (200, 150)), "JPEG", quality=80))
    assert big.stat().st_size > 20000 > small.stat().st_size
    open_page(page, server, lang="nl")
    expect(page.locator("#report-formats")).to_contain_text("19 KB")
    shown = pick(page, [big, small])
    assert [s["state"] for s in shown] == ["error", "ready"]
    assert shown[0]["text"] == t("nl", "file.too_large", size="19 KB")


def test_wrong_pin_then_locked_case(server_factory: Callable[..., Server], page: Page) -> None:
    server = server_factory(extra_env={"HASHBANK_PIN_ATTEMPTS": "3"})
    case_id, pin = new_case(server)
    open_page(page, server, "/follow")
    error = page.locator("#follow-error")
    for _ in range(3):  # the third wrong PIN locks the case
        follow(page, case_id, "0000-0000-0000")
        expect(error).to_have_text(t("en", "error.wrong_pin", n=3))
        expect(page.locator("#case")).to_be_hidden()
        page.evaluate("document.getElementById('follow-error').hidden = true")
    follow(page, case_id, pin)  # even the right PIN waits until the lock ends
    expect(error).to_have_text(t("en", "error.locked", minutes=15))
    expect(page.locator("#case")).to_be_hidden()
    # an unknown case gets the same answer as a wrong PIN: ids cannot be probed
    follow(page, "HB-AAAA-BBBB-CCCC-DDDD", pin)
    expect(error).to_have_text(t("en", "error.wrong_pin", n=3))


def test_too_many_wrong_pins_from_one_connection(
    server_factory: Callable[..., Server], page: Page
) -> None:
    server = server_factory(extra_env={"HASHBANK_PIN_ATTEMPTS_PER_ADDRESS_PER_HOUR": "1"})
    open_page(page, server, "/follow", lang="nl")
    error = page.locator("#follow-error")
    follow(page, "HB-AAAA-BBBB-CCCC-DDDD", "1111-2222-3333")
    expect(error).to_have_text(t("nl", "error.wrong_pin", n=10))
    page.evaluate("document.getElementById('follow-error').hidden = true")
    follow(page, "HB-AAAA-BBBB-CCCC-DDDD", "1111-2222-3333")  # 429: a budget, not a lock
    expect(error).to_have_text(t("nl", "error.pin_rate_limited", minutes=60))


def test_missing_case_number_or_pin(live_server: Server, page: Page) -> None:
    open_page(page, live_server, "/follow", lang="fr")
    page.fill("#follow-case", "HB-1234")
    page.click("#follow-form button[type=submit]")
    expect(page.locator("#follow-error")).to_have_text(t("fr", "follow.missing"))
    expect(page.locator("#follow-pin")).to_be_focused()


def test_too_many_reports_from_one_connection(
    server_factory: Callable[..., Server], page: Page, tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_ANONYMOUS_CASES_PER_HOUR": "1"})
    image = write(tmp_path, "a.png", encode(synthetic(7)))
    open_page(page, server)
    pick(page, [image])
    report(page)
    open_page(page, server)
    pick(page, [image])
    page.click("#report-button")
    expect(page.locator("#report-error")).to_have_text(t("en", "error.rate_limited", minutes=60))
    expect(page.locator("#report-button")).to_be_enabled()  # it may be tried again later


def test_server_unreachable(
    server_factory: Callable[..., Server], page: Page, tmp_path: Path
) -> None:
    server = server_factory()
    open_page(page, server, lang="nl")
    pick(page, [write(tmp_path, "a.png", encode(synthetic(8)))])
    server.stop()
    page.click("#report-button")
    expect(page.locator("#report-error")).to_have_text(t("nl", "error.network"))


def test_more_images_than_a_case_holds(
    server_factory: Callable[..., Server], page: Page, tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_HASHES_ANONYMOUS": "8"})
    files = [write(tmp_path, f"{i}.png", encode(synthetic(10 + i))) for i in range(3)]
    open_page(page, server)
    pick(page, files)
    page.click("#report-button")  # 3 images x 3 hashes do not fit in 8
    expect(page.locator("#report-error")).to_have_text(t("en", "report.too_many", max=2))
    page.click("#report-picker li.image button")
    case_id, pin = report(page)  # 2 images: their own hashes first, variants fill the rest
    assert case_status(server, case_id, pin)["hashes"] == 8


def test_adding_to_a_withdrawn_or_full_case(
    server_factory: Callable[..., Server], page: Page, tmp_path: Path
) -> None:
    server = server_factory(extra_env={"HASHBANK_MAX_HASHES_ANONYMOUS": "4"})
    case_id, pin = new_case(server)
    open_page(page, server, "/follow")
    follow(page, case_id, pin)
    pick(page, [write(tmp_path, "a.png", encode(synthetic(20)))], picker="add")
    page.click("#add-button")  # 1 + 3 = 4: fits exactly
    expect(page.locator("#add-status")).to_have_text(t("en", "add.done"))
    pick(page, [write(tmp_path, "b.png", encode(synthetic(21)))], picker="add")
    page.click("#add-button")
    expect(page.locator("#add-error")).to_have_text(t("en", "error.case_full"))


def test_rgba_without_pixels_is_refused_like_the_server(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    """A 1-pixel-tall banner: refused by the page before anything is sent, as by the API."""
    path = write(tmp_path, "line.png", encode(Image.new("RGBA", (400, 1))))
    open_page(page, live_server)
    (shown,) = pick(page, [path])
    assert shown["state"] == "error" and shown["text"] == t("en", "file.too_small")
    with live_server.client() as c:
        r = c.post("/v1/cases", files={"image": ("line.png", path.read_bytes(), "image/png")})
    assert r.status_code == 422
