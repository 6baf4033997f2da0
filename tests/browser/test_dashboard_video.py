"""A video case on the dashboard, in Chromium: its vPDQ value shown as the video's
duration and frame count (never thousands of hex characters, and no frame or thumbnail:
none exist), a frame variant with its time, and a platform's match with the interval of
the stored video it matched."""

from __future__ import annotations

import secrets

from playwright.sync_api import Page, expect

import hashes
from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import Http, Staffer, Watch, case_path, login
from tests.servers import Server, eventually

admin = common.admin
dpage = common.dpage


def test_a_video_case_shows_duration_frames_and_the_matched_interval(
    dpage: tuple[Page, Watch], live_server: Server, admin: Staffer
) -> None:
    page, _ = dpage
    frames = [hashes.VpdqFrame(secrets.token_hex(32), 90, float(t)) for t in range(25)]
    variant = secrets.token_hex(32)
    with live_server.client() as c:
        r = c.post(
            "/v1/cases",
            json={
                "hashes": [
                    {"type": "vpdq", "value": hashes.format_vpdq(frames)},
                    {"type": "pdq", "value": variant, "seconds": 12.0},  # quality: its frame's
                ]
            },
        )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    key = live_server.create_client(secrets.token_hex(4), "check")
    clip = hashes.format_vpdq(frames[10:20])  # a 10 s clip of it: frames 10-19

    def matched() -> bool:
        with live_server.client(key) as c:
            body = c.post("/v1/check", json={"hashes": [{"type": "vpdq", "value": clip}]})
        return bool(body.json()["match"])

    assert eventually(matched, timeout=3.0)

    login(page, live_server, admin)
    http = Http(live_server, admin)
    try:
        path = case_path(http, case_id)
    finally:
        http.close()
    page.goto(live_server.url + path)
    hashes_table = page.get_by_role("table", name="Hashes of this case")
    expect(hashes_table).to_contain_text("video of 24.0 s, 25 frames")
    expect(hashes_table).to_contain_text("(frame at 12.0 s)")
    expect(hashes_table).not_to_contain_text(frames[0].pdq)  # the frame list is not shown
    expect(page.locator("main video, main canvas, main img")).to_have_count(0)  # no frame
    expect(page.locator(".timeline")).to_contain_text("vpdq in the video at 10.0–19.0 s")
