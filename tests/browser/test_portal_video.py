"""Videos on the reporting page: hashed in Chromium, as the server hashes them.

Each clip is made in the test from real photos (scikit-image's) filmed with camera
motion and hard cuts (benchmarks/_clips.py, PyAV), written to pytest's tmp_path (a
browser picks files from disk, as a person does) and chosen in the real page:

* MD5 and SHA-256 equal Python's (``hashes.hash_video``), the file read in chunks;
* the frames are Meta's vPDQ sampling (the same times as ``hash_video``), each PDQ
  within a few bits of the server's for MP4/H.264 and WebM/VP9;
* the frame variants follow the server's plan and budget;
* a video the browser cannot play keeps its exact hashes, and gets the opt-in;
* the progress bar, the time left and the stop button work.
"""

from __future__ import annotations

import json
import statistics
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

import hashes
from benchmarks._clips import clip
from tests.browser.test_portal_common import HASHING_TIMEOUT, open_page, write
from tests.servers import Server

PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")
FRAME_BITS = 12  # PDQ bits between the page's frame and the server's (colour conversion)
MEAN_BITS = 6.0


def _photo(name: str) -> Any:
    import skimage.data
    from PIL import Image

    with Image.open(Path(skimage.data.__file__).parent / name) as img:
        return img.convert("RGB")


@cache
def photo_clip(codec: str, fps: int = 30, seconds_per_shot: float = 3.0) -> bytes:
    """Four shots (pan and zoom over a photo each, hard cuts), 640 x 360."""
    photos = [_photo(name) for name in PHOTOS]
    return clip(photos, codec=codec, fps=fps, seconds_per_shot=seconds_per_shot)


def pick_video(page: Page, path: Path, picker: str = "report") -> dict[str, Any]:
    """Choose one video and wait until the page has hashed it (or given up)."""
    items = page.locator(f"#{picker}-picker li.image")
    before = items.count()
    page.set_input_files(f"#{picker}-files", str(path))
    expect(items).to_have_count(before + 1)
    item = items.nth(before)
    expect(item).not_to_have_attribute("data-state", "hashing", timeout=HASHING_TIMEOUT)
    return shown(page, picker)[before]


def shown(page: Page, picker: str = "report") -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        f"#{picker}-picker li.image",
        """nodes => nodes.map(n => ({
            kind: n.dataset.kind,
            state: n.dataset.state,
            text: n.querySelector('.image-state').textContent,
            md5: n.dataset.md5 || null,
            sha256: n.dataset.sha256 || null,
            rate: n.dataset.rate ? Number(n.dataset.rate) : null,
            frames: n.dataset.frames ? JSON.parse(n.dataset.frames) : [],
            variants: n.dataset.variants ? JSON.parse(n.dataset.variants) : [],
        }))""",
    )


def _frames(values: list[str]) -> tuple[hashes.VpdqFrame, ...]:
    return hashes.parse_vpdq(json.dumps(values))


@pytest.mark.parametrize(("codec", "suffix"), [("h264", "mp4"), ("vp9", "webm")])
def test_video_frames_agree_with_the_server(
    live_server: Server, page: Page, tmp_path: Path, codec: str, suffix: str
) -> None:
    data = photo_clip(codec)
    path = write(tmp_path, f"clip.{suffix}", data)
    py = hashes.hash_video(data, variants="stored")
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "ready", js["text"]
    assert (js["md5"], js["sha256"]) == (py.md5, py.sha256)
    assert js["rate"] == 30
    frames = _frames(js["frames"])
    # Meta's sampling: the same frames at the same times
    assert [f.seconds for f in frames] == [float(f"{f.seconds:.3}") for f in py.frames]
    bits = [hashes.hamming(a.pdq, b.pdq) for a, b in zip(frames, py.frames, strict=True)]
    quality = [abs(a.quality - b.quality) for a, b in zip(frames, py.frames, strict=True)]
    print(f"\n{codec}: {len(bits)} frames, PDQ bits {statistics.mean(bits):.2f} / {max(bits)}")
    assert max(bits) <= FRAME_BITS and statistics.mean(bits) <= MEAN_BITS, bits
    assert max(quality) <= 10, quality
    # the frame variants: one set per distinct frame, the server's plan
    assert [v["seconds"] for v in js["variants"]] == [v.seconds for v in py.frame_variants]
    for jv, pv in zip(js["variants"], py.frame_variants, strict=True):
        assert jv["pdq"][0] == frames[[f.seconds for f in py.frames].index(pv.seconds)].pdq
        near = [min(hashes.hamming(a, b) for b in pv.pdq) for a in jv["pdq"]]
        assert len(jv["pdq"]) <= 24
        assert statistics.median(near) <= FRAME_BITS, near
