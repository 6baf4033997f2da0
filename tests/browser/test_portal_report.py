"""Reporting through the page: only hashes leave the browser, and they reach the bank.

Every request the page makes is recorded: none carries image bytes (raw or base64)
and none is over 16 KB; a platform checking the same image afterwards gets a match.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pillow_heif
from playwright.sync_api import Page, Request, expect

from tests.browser.test_portal_common import (
    encode,
    hashed,
    open_page,
    pick,
    report,
    storage_is_empty,
    stub_exit_sites,
    synthetic,
    t,
    write,
)
from tests.servers import Server

MAX_REQUEST_BYTES = 16 * 1024


def _needles(data: bytes, count: int = 16, width: int = 24) -> list[bytes]:
    """Short runs of an image's bytes, raw and base64, spread over the file."""
    step = max(1, (len(data) - width) // count)
    runs = [data[i : i + width] for i in range(0, len(data) - width, step)][:count]
    return runs + [base64.b64encode(run)[4:28] for run in runs]


def _bodies(requests: list[Request]) -> list[tuple[str, bytes]]:
    return [(r.method + " " + r.url, r.post_data_buffer or b"") for r in requests]


def _multipart(requests: list[Request]) -> list[str]:
    """URLs of multipart requests (their file parts are not visible to the recorder)."""
    return [
        r.url
        for r in requests
        if r.headers.get("content-type", "").startswith("multipart/form-data")
    ]


def _heic(seed: int) -> bytes:
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    synthetic(seed).save(buf, "HEIF", quality=90)
    return buf.getvalue()


def test_report_sends_only_hashes(
    live_server: Server, page: Page, api_key: str, tmp_path: Path
) -> None:
    images = {
        "holiday.jpg": encode(synthetic(21, (1600, 1200)), "JPEG", quality=92),
        "screenshot.png": encode(synthetic(22)),
        "another.webp": encode(synthetic(23), "WEBP", quality=90),
    }
    files = [write(tmp_path, name, data) for name, data in images.items()]
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    open_page(page, live_server)
    shown = pick(page, files)
    assert [s["state"] for s in shown] == ["ready"] * 3
    before_report = len(requests)
    case_id, pin = report(page)

    sent = _bodies(requests)
    assert all(url.split(" ", 1)[1].startswith(live_server.url) for url, _ in sent), sent
    # every body is JSON text the recorder sees whole: no file or blob is ever attached
    for r in requests:
        if r.method != "GET":
            assert r.headers.get("content-type") == "application/json", r.url
            assert r.post_data_buffer, r.url
    for url, body in sent:
        assert len(body) <= MAX_REQUEST_BYTES, (url, len(body))
        for name, data in images.items():
            assert not any(n in body for n in _needles(data)), (url, name)
    posts = [(url, body) for url, body in sent[before_report:] if url.startswith("POST")]
    assert posts and posts[0][0].endswith("/v1/cases")
    # three photos bring ~150 hashes: the page splits them, the rest goes to the new case
    assert len(posts) >= 2 and all(url.endswith("/hashes") for url, _ in posts[1:]), posts
    for _, body in posts:
        payload = json.loads(body)
        assert set(payload) == {"hashes"}
        assert all(set(h) <= {"type", "value", "quality"} for h in payload["hashes"])
    sent_hashes = {h["value"] for _, body in posts for h in json.loads(body)["hashes"]}
    for item in shown:
        assert {item["pdq"], item["md5"], item["sha256"], *item["stored"]} <= sent_hashes

    with live_server.client() as c:
        status = c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin}).json()
        assert status["status"] == "pending" and status["hashes"] == len(sent_hashes)
        # a platform checking the same photo, hashed by Python on its side, finds it
        check = c.post(
            "/v1/check",
            headers={"Authorization": f"Bearer {api_key}"},
            files={"image": ("upload.jpg", images["holiday.jpg"], "image/jpeg")},
        ).json()
    assert check["match"] is True and check["action"] == "review"

    assert storage_is_empty(page) == {
        "local": 0,
        "session": 0,
        "idb": 0,
        "caches": 0,
        "cookie": "",
        "cookies": [],
    }
    # the server's log: no visitor address (its own listen address is configuration), and
    # neither the case number nor the PIN
    records = [
        line.replace(f"http://127.0.0.1:{live_server.port}", "")
        for line in live_server.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    assert [r for r in records if "127.0.0.1" in r or case_id in r or pin in r] == []


def test_a_folder_brings_only_its_images_each_with_a_thumbnail(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    write(folder, "beach.jpg", encode(synthetic(31), "JPEG", quality=90))
    write(folder, "party.png", encode(synthetic(32)))
    write(folder, "notes.txt", b"not a photo")
    open_page(page, live_server)
    expect(page.locator("#report-folder")).to_be_attached()
    page.set_input_files("#report-folder", str(folder))
    items = page.locator("#report-picker li.image")
    expect(items).to_have_count(2)
    expect(page.locator("#report-picker li.image[data-state='ready']")).to_have_count(
        2, timeout=60_000
    )
    assert sorted(i["name"] for i in hashed(page)) == ["beach.jpg", "party.png"]
    # each image is previewed locally, drawn on a canvas (no URL, nothing sent)
    thumbs = page.locator("#report-picker li.image canvas.thumb")
    expect(thumbs).to_have_count(2)
    assert all(w > 0 for w in thumbs.evaluate_all("cs => cs.map(c => c.width)"))


def test_result_can_be_copied_and_downloaded(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    open_page(page, live_server, lang="nl")
    pick(page, [write(tmp_path, "a.png", encode(synthetic(31)))])
    case_id, pin = report(page)
    expect(page.locator("#result .warning")).to_have_text(t("nl", "result.warning"))
    expect(page.locator("#result")).to_be_focused()
    # the picked images are forgotten once reported
    expect(page.locator("#report-picker li.image")).to_have_count(0)

    page.click("[data-copy=case-id]")
    expect(page.locator("#copy-status")).to_have_text(t("nl", "result.copied_case"))
    assert page.evaluate("navigator.clipboard.readText()") == case_id
    page.click("[data-copy=case-pin]")
    expect(page.locator("#copy-status")).to_have_text(t("nl", "result.copied_pin"))
    assert page.evaluate("navigator.clipboard.readText()") == pin

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == t("nl", "result.file_name")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert case_id in text and pin in text and f"{live_server.url}/follow?lang=nl" in text


def test_heic_is_explained_and_sent_only_after_opt_in(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    heic = _heic(41)
    jpeg = write(tmp_path, "photo.jpg", encode(synthetic(42), "JPEG", quality=90))
    iphone = write(tmp_path, "IMG_0001.HEIC", heic)
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))

    # without the opt-in: the HEIC image is explained and left out
    open_page(page, live_server)
    shown = pick(page, [jpeg, iphone])
    assert [s["state"] for s in shown] == ["ready", "heic"]
    assert shown[1]["text"] == t("en", "file.heic")
    expect(page.locator("#report-picker [data-heic]")).to_be_visible()
    expect(page.locator("#report-heic-ok")).not_to_be_checked()
    case_id, pin = report(page)
    assert _multipart(requests) == []
    with live_server.client() as c:
        without = c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin}).json()["hashes"]

    # with it: the HEIC file alone is sent, as multipart, and hashed by the server
    requests.clear()
    open_page(page, live_server)
    pick(page, [jpeg, iphone])
    page.check("#report-heic-ok")
    case_id, pin = report(page)
    assert _multipart(requests) == [f"{live_server.url}/v1/cases/{case_id}/hashes"]
    jpeg_bytes = jpeg.read_bytes()
    assert not any(n in body for _, body in _bodies(requests) for n in _needles(jpeg_bytes))
    with live_server.client() as c:
        with_heic = c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin}).json()["hashes"]
    assert with_heic > without


def test_heic_alone_creates_the_case(live_server: Server, page: Page, tmp_path: Path) -> None:
    open_page(page, live_server, lang="fr")
    pick(page, [write(tmp_path, "IMG_0002.heic", _heic(43))])
    expect(page.locator("#report-button")).to_be_disabled()
    page.check("#report-heic-ok")
    expect(page.locator("#report-button")).to_be_enabled()
    case_id, pin = report(page)
    with live_server.client() as c:
        assert c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin}).json()["hashes"] > 3


def test_quick_exit_leaves_no_history(live_server: Server, page: Page) -> None:
    stub_exit_sites(page.context)
    for leave in ("button", "escape"):
        page.goto(live_server.url + "/healthz")
        open_page(page, live_server, "/report", lang="fr")
        entries = page.evaluate("history.length")
        page.click("nav.pages a[href^='/follow']")  # moving inside the portal: replaced too
        page.wait_for_url("**/follow?lang=fr")
        assert page.evaluate("history.length") == entries
        if leave == "button":
            page.click("#quick-exit")
        else:
            page.fill("#follow-case", "HB-")  # Escape works while typing, too
            page.keyboard.press("Escape")
        page.wait_for_url("https://www.meteo.be/**")
        assert page.evaluate("history.length") == entries
        page.go_back()  # "back" skips the portal: it is the page seen before it
        page.wait_for_url(live_server.url + "/healthz")


def test_escape_in_the_withdraw_dialog_closes_it_first(live_server: Server, page: Page) -> None:
    from tests.browser.test_portal_common import follow, new_case

    stub_exit_sites(page.context)
    case_id, pin = new_case(live_server, seed=5)
    open_page(page, live_server, "/follow")
    follow(page, case_id, pin)
    page.click("#withdraw-button")
    expect(page.locator("#withdraw-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#withdraw-dialog")).to_be_hidden()
    assert page.url.startswith(live_server.url)
    page.keyboard.press("Escape")
    page.wait_for_url("https://www.bbc.com/**")
