"""Videos on the reporting page: hashed in Chromium, as the server hashes them.

Each clip is made in the test from real photos (scikit-image's) filmed with camera
motion and hard cuts (benchmarks/_clips.py, PyAV), written to pytest's tmp_path (a
browser picks files from disk, as a person does) and chosen in the real page:

* MD5 and SHA-256 equal Python's (``hashes.hash_video``), the file read in chunks;
* the frames are Meta's vPDQ sampling (the same times as ``hash_video``, at 30 and at
  29.97 frames a second, with B-frames), each PDQ within a few bits of the server's for
  MP4/H.264 (fragmented too) and WebM/VP9, both ways the page reads them: WebCodecs
  after demuxing (demux.js, webm.js, decode.js) and the <video> element's seeks (the
  fallback, asked for with ``way: "player"``);
* the pieces of the WebCodecs way agree with the server's own: H.264 packets skipped as
  non-reference exactly when hashes/_video.py skips them, PDQ at the kept pixels alone
  (framepdq.js) as PDQ of the whole filtered plane;
* the frame variants follow the server's plan and budget;
* a video the browser cannot play keeps its exact hashes, and gets the opt-in;
* the progress bar, the time left and the stop button work.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import statistics
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, Request, expect

import hashes
from app.portal.i18n import texts
from benchmarks._clips import clip
from tests.browser.test_portal_common import (
    HASHING_TIMEOUT,
    case_status,
    encode,
    open_page,
    report,
    t,
    write,
)
from tests.servers import Server, eventually

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
            way: n.dataset.way || null,
            frames: n.dataset.frames ? JSON.parse(n.dataset.frames) : [],
            variants: n.dataset.variants ? JSON.parse(n.dataset.variants) : [],
        }))""",
    )


def _frames(values: list[str]) -> tuple[hashes.VpdqFrame, ...]:
    return hashes.parse_vpdq(json.dumps(values))


def assert_agrees(js: dict[str, Any], py: hashes.VideoHashes, label: str) -> None:
    """The page's frames and frame variants are the server's, within a few bits."""
    frames = _frames(js["frames"])
    # Meta's sampling: the same frames at the same times
    assert [f.seconds for f in frames] == [float(f"{f.seconds:.3}") for f in py.frames]
    bits = [hashes.hamming(a.pdq, b.pdq) for a, b in zip(frames, py.frames, strict=True)]
    quality = [abs(a.quality - b.quality) for a, b in zip(frames, py.frames, strict=True)]
    print(f"\n{label}: {len(bits)} frames, PDQ bits {statistics.mean(bits):.2f} / {max(bits)}")
    assert max(bits) <= FRAME_BITS and statistics.mean(bits) <= MEAN_BITS, bits
    assert max(quality) <= 10, quality
    # the frame variants: one set per distinct frame, the server's plan
    assert [v["seconds"] for v in js["variants"]] == [v.seconds for v in py.frame_variants]
    for jv, pv in zip(js["variants"], py.frame_variants, strict=True):
        assert jv["pdq"][0] == frames[[f.seconds for f in py.frames].index(pv.seconds)].pdq
        near = [min(hashes.hamming(a, b) for b in pv.pdq) for a in jv["pdq"]]
        assert len(jv["pdq"]) <= 24
        assert statistics.median(near) <= FRAME_BITS, near


@pytest.mark.parametrize(("codec", "suffix"), [("h264", "mp4"), ("vp9", "webm")])
def test_video_frames_agree_with_the_server(
    live_server: Server, page: Page, tmp_path: Path, codec: str, suffix: str
) -> None:
    """Chosen on the page, the video is demuxed and decoded with WebCodecs."""
    data = photo_clip(codec)
    path = write(tmp_path, f"clip.{suffix}", data)
    py = hashes.hash_video(data, variants="stored")
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "ready", js["text"]
    assert js["way"] == "webcodecs"
    assert (js["md5"], js["sha256"]) == (py.md5, py.sha256)
    assert js["rate"] == 30
    assert_agrees(js, py, f"{codec}, WebCodecs")


HASH_IN_PAGE = """async ([selector, way]) => {
  const { hashVideo } = await import("/portal/static/video.js");
  const file = document.querySelector(selector).files[0];
  const limits = { maxVideoSeconds: 36000, maxVideoFrames: 36000 };
  const r = await hashVideo(file, limits, { way });
  const { frameText } = await import("/portal/static/video.js");
  return { ...r, frames: r.frames.map(frameText) };
}"""


def hash_in_page(page: Page, path: Path, way: str = "any") -> dict[str, Any]:
    """The page's hashVideo on a file chosen in the report picker's input (not added)."""
    page.evaluate(
        """() => {
          const input = document.createElement("input");
          Object.assign(input, { type: "file", id: "test-file", hidden: true });
          document.body.append(input);
        }"""
    )
    page.set_input_files("#test-file", str(path))
    return page.evaluate(HASH_IN_PAGE, ["#test-file", way])  # type: ignore[no-any-return]


@pytest.mark.parametrize(("codec", "suffix"), [("h264", "mp4"), ("vp9", "webm")])
def test_the_player_fallback_reads_as_the_server_does(
    live_server: Server, page: Page, tmp_path: Path, codec: str, suffix: str
) -> None:
    """The fallback way (a <video> element sought to each sampled frame, the frame rate
    measured by playing), asked for: what the page does without WebCodecs, or when a
    file cannot be demuxed or decoded that way."""
    data = photo_clip(codec)
    path = write(tmp_path, f"clip.{suffix}", data)
    py = hashes.hash_video(data, variants="stored")
    open_page(page, live_server)
    js = hash_in_page(page, path, way="player")
    assert js["way"] == "player" and js["rate"] == 30
    assert (js["md5"], js["sha256"]) == (py.md5, py.sha256)
    assert_agrees(js, py, f"{codec}, player")


def _fragmented(data: bytes) -> bytes:
    """The same clip remuxed as a fragmented MP4 (moof boxes, as MediaRecorder writes)."""
    import av

    out = io.BytesIO()
    with (
        av.open(io.BytesIO(data)) as src,
        av.open(out, "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            dst.mux(packet)
    return out.getvalue()


def test_a_fragmented_mp4_is_demuxed_too(live_server: Server, page: Page, tmp_path: Path) -> None:
    """A fragmented MP4 (moof boxes: a browser's MediaRecorder, screen recorders), its
    index spread through the file and B-frames in it, read the WebCodecs way."""
    data = _fragmented(photo_clip("h264"))
    path = write(tmp_path, "recorded.mp4", data)
    py = hashes.hash_video(data, variants="stored")
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "ready", js["text"]
    assert js["way"] == "webcodecs"
    assert (js["md5"], js["sha256"]) == (py.md5, py.sha256)
    assert_agrees(js, py, "fragmented h264, WebCodecs")


def test_meta_frame_numbers_at_29_97_frames_a_second_with_b_frames(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    """NTSC's 30000/1001 rate: one frame in 29 sampled (not 30), at float32(n) /
    float32(rate), in presentation order though B-frames are decoded out of it; the
    rate is the container's, as the server reads it."""
    from fractions import Fraction

    import av

    from benchmarks._clips import encode, frames_of, shots_from

    photos = [_photo(name).resize((320, 240)) for name in PHOTOS[:2]]
    rate = Fraction(30000, 1001)
    data = encode(frames_of(shots_from(photos, 4.0), 320, 180, float(rate)), rate)  # type: ignore[arg-type]
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.has_b_frames
    path = write(tmp_path, "ntsc.mp4", data)
    py = hashes.hash_video(data, variants="stored")
    open_page(page, live_server)
    js = hash_in_page(page, path)
    assert js["way"] == "webcodecs"
    assert js["rate"] == pytest.approx(float(rate), abs=1e-9)
    frames = _frames(js["frames"])
    assert [f.seconds for f in frames] == [float(f"{f.seconds:.3}") for f in py.frames]
    assert len(frames) == len(py.frames) >= 8
    bits = [hashes.hamming(a.pdq, b.pdq) for a, b in zip(frames, py.frames, strict=True)]
    assert max(bits) <= FRAME_BITS, bits


DISPOSABLE_IN_PAGE = """async ([packets, nalLength]) => {
  const { disposable } = await import("/portal/static/decode.js");
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return packets.map((b64) => disposable(bytes(b64), nalLength));
}"""

_nal = st.tuples(
    st.integers(0, 255),  # the NAL header byte: forbidden bit, nal_ref_idc, type
    st.binary(max_size=6),
).map(lambda t: bytes([t[0]]) + t[1])


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    packets=st.lists(
        st.tuples(st.lists(_nal, max_size=4), st.integers(-2, 2)), min_size=1, max_size=30
    ),
    nal_length=st.sampled_from([1, 2, 4]),
)
def test_skipped_h264_packets_are_those_the_server_skips(
    live_server: Server, page: Page, packets: list[tuple[list[bytes], int]], nal_length: int
) -> None:
    """decode.js `disposable` (a packet whose slices are all non-reference pictures, not
    decoded unless sampled) equals hashes/_video.py `_nal_kinds` (its first answer) on any bytes,
    length prefixes right, short or long by a few bytes."""
    from hashes._video import _nal_kinds

    if page.url == "about:blank":
        open_page(page, live_server)
    raw = []
    for nals, slack in packets:
        body = b"".join(
            max(0, min(len(n) + slack, 256**nal_length - 1)).to_bytes(nal_length, "big") + n
            for n in nals
        )
        raw.append(body)
    js = page.evaluate(
        DISPOSABLE_IN_PAGE, [[base64.b64encode(b).decode() for b in raw], nal_length]
    )
    assert js == [_nal_kinds(memoryview(b), nal_length)[0] for b in raw]


FRAME_PDQ_IN_PAGE = """async ([rows, cols, seed, flat]) => {
  const { pdqOfLuma } = await import("/portal/static/pdq.js");
  const { pdqOfFrameLuma } = await import("/portal/static/framepdq.js");
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const luma = new Float32Array(rows * cols);
  const fx = 3 + rnd() * 40, fy = 3 + rnd() * 40;
  for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
    const v = 128 + 90 * Math.sin(x / fx) * Math.cos(y / fy) + 30 * rnd();
    luma[y * cols + x] = flat ? Math.round(v / 64) * 64 : Math.min(255, Math.max(0, v));
  }
  return [pdqOfLuma(luma.slice(), rows, cols), pdqOfFrameLuma(luma, rows, cols)];
}"""


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(5, 1100),
    cols=st.integers(5, 1100),
    seed=st.integers(1, 2**30),
    flat=st.booleans(),
)
def test_pdq_at_the_kept_pixels_equals_pdq_of_the_filtered_plane(
    live_server: Server, page: Page, rows: int, cols: int, seed: int, flat: bool
) -> None:
    """framepdq.js filters only where PDQ's decimation reads (float64 prefix sums): the
    same hash as pdq.js filtering every pixel, but for a coefficient within rounding of
    the median, and the same quality but for a gradient within rounding of a step."""
    if page.url == "about:blank":
        open_page(page, live_server)
    whole, kept = page.evaluate(FRAME_PDQ_IN_PAGE, [rows, cols, seed, flat])
    assert hashes.hamming(whole["hash"], kept["hash"]) <= 2
    assert abs(whole["quality"] - kept["quality"]) <= 1


@pytest.mark.parametrize("limit", ["HASHBANK_MAX_VIDEO_SECONDS", "HASHBANK_MAX_VIDEO_FRAMES"])
def test_a_video_over_the_limits_is_refused_before_its_frames_are_read(
    server_factory: Any, page: Page, tmp_path: Path, limit: str
) -> None:
    """The WebCodecs way reads the duration and the frame count from the container and
    stops before decoding: the page says the video is too long and sends nothing."""
    server = server_factory(extra_env={limit: "6"})
    path = write(tmp_path, "clip.mp4", photo_clip("h264"))  # 12 s, 12 sampled frames
    open_page(page, server)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.method))
    js = pick_video(page, path)
    assert js["state"] == "error" and js["frames"] == [], js
    hours = round((6 if limit.endswith("SECONDS") else 36_000) / 3600)  # the page's wording
    assert js["text"] == t("en", "js.video.too_long", hours=hours)
    assert [m for m in requests if m != "GET"] == []


def _chromium_rss() -> int:
    """Resident bytes of every Chromium process this test run started (from /proc)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        names[int(entry.name)] = name
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        if "chrom" not in names.get(pid, ""):
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def test_a_large_video_is_read_in_chunks_with_bounded_memory(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    """384 MB (a clip, then a long run of zeros: a sparse file on disk) hashed with the
    page's MD5 and SHA-256 as Python's hashlib does, while Chromium's memory grows by
    less than the file: it is read 4 MB at a time, never whole. (Measured: the growth is
    the same ~230 MB for 256 and 768 MB files, the player's and the workers' own; a page
    reading the file whole would add the file's size to it.)"""
    size = 384 * 1024 * 1024
    data = photo_clip("h264")
    path = tmp_path / "long.mp4"
    with open(path, "wb") as fh:
        fh.write(data)
        fh.truncate(size)  # a hole: the file reads as zeros after the clip
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            md5.update(chunk)
            sha.update(chunk)
    open_page(page, live_server)
    peak, done = [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _chromium_rss())
            time.sleep(0.05)

    before = _chromium_rss()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        js = pick_video(page, path)
    finally:
        done.set()
        watcher.join()
    assert (js["md5"], js["sha256"]) == (md5.hexdigest(), sha.hexdigest())
    assert js["state"] == "ready" and len(js["frames"]) == 12, js["text"]
    grew = peak[0] - before
    print(f"\nChromium RSS {before / 2**20:.0f} MB, peak +{grew / 2**20:.0f} MB for 384 MB")
    assert grew < 320 * 1024 * 1024, grew


DIGESTS_IN_PAGE = """async ([b64, cuts]) => {
  const { Md5 } = await import("/portal/static/md5.js");
  const { Sha256 } = await import("/portal/static/sha256.js");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const md5 = new Md5();
  const sha = new Sha256();
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    md5.update(bytes.subarray(from, to));
    sha.update(bytes.subarray(from, to));
    from = to;
  }
  return [md5.hex(), sha.hex()];
}"""


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=700), cuts=st.lists(st.integers(0, 700), max_size=6))
def test_incremental_digests_equal_hashlib_however_the_bytes_are_cut(
    live_server: Server, page: Page, data: bytes, cuts: list[int]
) -> None:
    """md5.js and sha256.js take a file in pieces of any size (File.slice chunks)."""
    if page.url == "about:blank":
        open_page(page, live_server)
    points = sorted(min(c, len(data)) for c in cuts)
    md5, sha = page.evaluate(DIGESTS_IN_PAGE, [base64.b64encode(data).decode(), points])
    assert md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert sha == hashlib.sha256(data).hexdigest()


def test_progress_time_left_and_stop(live_server: Server, page: Page, tmp_path: Path) -> None:
    """While a video is prepared the page shows a progress bar and the time left; Stop
    ends the work (WebCodecs' decoder with its worker), nothing is sent, and the video
    can be removed."""
    photos = [_photo(name).resize((320, 240)) for name in PHOTOS]
    # 200 s, 200 sampled frames: long enough to stop on the WebCodecs way, whose cost is
    # per sampled frame (PDQ, variants) more than per decoded one (tiny, 5 a second)
    data = clip(photos, seconds_per_shot=50.0, size=(160, 96), fps=5)
    path = write(tmp_path, "minute.mp4", data)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.method + " " + r.url))
    open_page(page, live_server, lang="fr")
    page.set_input_files("#report-files", str(path))
    item = page.locator("#report-picker li.image").first
    expect(item).to_have_attribute("data-kind", "video")
    bar = item.locator("progress")
    expect(bar).to_be_visible()
    time_left = re.escape(texts("fr").table["js.video.time_left"])
    expect(item.locator(".image-state")).to_have_text(
        re.compile(time_left.replace(re.escape("{time}"), r"\d+ (s|min)"))
    )
    share = float(bar.evaluate("b => b.value"))
    assert 0 < share < 1
    expect(page.locator("#report-button")).to_be_disabled()
    item.get_by_role("button", name=t("fr", "js.video.cancel_named", name="minute.mp4")).click()
    expect(item).to_have_attribute("data-state", "cancelled")
    expect(item.locator(".image-state")).to_have_text(t("fr", "js.video.cancelled"))
    expect(item.locator("progress")).to_have_count(0)
    expect(page.locator("#report-button")).to_be_disabled()
    item.get_by_role("button", name=t("fr", "js.pick.remove_named", name="minute.mp4")).click()
    expect(page.locator("#report-picker li.image")).to_have_count(0)
    assert [r for r in requests if not r.startswith("GET ")] == []


def _avi(seconds: float = 3.0) -> bytes:
    """An AVI (MPEG-4 Part 2) clip: a format Chromium does not play, hashbank's server does."""
    import av
    import numpy as np

    buf = io.BytesIO()
    photo = np.asarray(_photo("coffee.png").resize((320, 240)))
    with av.open(buf, "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(int(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(np.roll(photo, i * 2, axis=1).copy())
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def test_a_video_the_browser_cannot_play_keeps_its_exact_hashes_and_gets_the_opt_in(
    live_server: Server, page: Page, tmp_path: Path
) -> None:
    data = _avi()
    path = write(tmp_path, "old-phone.avi", data)
    py = hashes.hash_video(data)  # the server reads it
    assert py.frames
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "unplayable", js["text"]
    assert js["text"] == t("en", "js.video.unplayable")
    assert (js["md5"], js["sha256"]) == (py.md5, py.sha256) and js["frames"] == []
    notice = page.locator("#report-picker [data-unplayable]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(t("en", "video.title"))
    # reportable by its exact hashes alone, or (opted in) hashed in the server's memory
    expect(page.locator("#report-button")).to_be_enabled()
    page.check("#report-unplayable-ok")
    expect(page.locator("#report-button")).to_be_enabled()
    uploads: list[Request] = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST"
            and r.headers.get("content-type", "").startswith("multipart/form-data")
            and uploads.append(r)
        ),
    )
    case_id, pin = report(page)
    assert [r.url for r in uploads] == [live_server.url + "/v1/cases"]
    # the server hashed it whole: the exact hashes, the vPDQ and the frame variants
    assert case_status(live_server, case_id, pin)["hashes"] > 3


MAX_REQUEST_BYTES = 16 * 1024


def _needles(data: bytes, count: int = 24, width: int = 24) -> list[bytes]:
    """Short runs of a file's bytes, raw and base64, spread over it."""
    step = max(1, (len(data) - width) // count)
    runs = [data[i : i + width] for i in range(0, len(data) - width, step)][:count]
    return runs + [base64.b64encode(run)[4:28] for run in runs]


def _sent(requests: list[Request], server: Server) -> list[tuple[str, dict[str, Any]]]:
    """Every request but page loads: each JSON, at most 16 KB, to this server only."""
    out = []
    for r in requests:
        if r.url.startswith("blob:"):
            continue  # the player reading the file from this device, not a request out
        assert r.url.startswith(server.url), r.url
        if r.method == "GET":
            continue
        body = r.post_data_buffer or b""
        assert r.headers.get("content-type") == "application/json", r.url
        assert 0 < len(body) <= MAX_REQUEST_BYTES, (r.url, len(body))
        out.append((r.url, json.loads(body)))
    return out


def test_reporting_a_video_sends_only_hashes_and_a_platform_finds_it(
    live_server: Server, page: Page, api_key: str, tmp_path: Path
) -> None:
    data = photo_clip("h264")
    path = write(tmp_path, "clip.mp4", data)
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "ready"
    case_id, pin = report(page)
    for request in requests:
        body = request.post_data_buffer or b""
        assert not any(n in body for n in _needles(data)), request.url
    posts = _sent(requests, live_server)
    assert posts[0][0].endswith("/v1/cases")
    assert all(url.endswith(f"/v1/cases/{case_id}/hashes") for url, _ in posts[1:]), posts
    sent = [h for _, body in posts for h in body["hashes"]]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for h in sent:
        by_type.setdefault(h["type"], []).append(h)
    assert [h["value"] for h in by_type["video_md5"]] == [js["md5"]]
    assert [h["value"] for h in by_type["video_sha256"]] == [js["sha256"]]
    assert [h["value"] for h in by_type["vpdq"]] == [js["frames"]]
    # the frame variants: each with its frame's time, the server's budget per frame
    frames = _frames(js["frames"])
    times = {f.seconds for f in frames}
    assert by_type["pdq"] and all(h["seconds"] in times for h in by_type["pdq"])
    variants = {p for v in js["variants"] for p in v["pdq"][1:]}  # the frame's own: in vpdq
    assert {h["value"] for h in by_type["pdq"]} == variants
    assert case_status(live_server, case_id, pin)["hashes"] == len(sent)

    # a platform checks the same file (hashed by the server), and a still of one frame
    py = hashes.hash_video(data)
    with live_server.client(api_key) as c:
        body = eventually(
            lambda: (
                (b := c.post("/v1/check", files={"video": ("up.mp4", data, "video/mp4")}).json())[
                    "match"
                ]
                and b
            ),
            timeout=5.0,
        )
        matched = {m["signal_type"]: m for m in body["matches"]}
        assert {"vpdq", "video_md5", "video_sha256"} <= set(matched)
        assert matched["vpdq"]["query_percent"] == 100.0
        # a screenshot of the frame at 7 s, mirrored: found by a frame variant
        still = _still(data, 7.0).transpose(0)  # FLIP_LEFT_RIGHT
        r = c.post("/v1/check", files={"image": ("still.jpg", encode(still, "JPEG"), "image/jpeg")})
        assert r.status_code == 200 and r.json()["match"], r.json()
        assert {m["seconds"] for m in r.json()["matches"]} & {6.0, 7.0, 8.0}
    assert py.frames


def _still(data: bytes, seconds: float) -> Any:
    """The frame of a clip at ``seconds``, as an image (a screenshot of the video)."""
    import av

    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_image()
    raise AssertionError(seconds)


def test_a_long_video_is_sent_in_requests_under_16_kb(
    live_server: Server, page: Page, api_key: str, tmp_path: Path
) -> None:
    """A video of 200 sampled frames: its vPDQ does not fit one request, so the page
    sends it in parts (in time order, each naming the video's SHA-256), the first request
    creates the case and the others add to it; every request stays under 16 KB, and the
    server joins the parts into one stored video holding every frame, which the whole
    file, checked by a platform, matches."""
    photos = [_photo(name).resize((320, 240)) for name in PHOTOS]
    data = clip(photos, seconds_per_shot=50.0, size=(160, 96), fps=5)
    path = write(tmp_path, "long.mp4", data)
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "ready" and len(js["frames"]) == 200, js["text"]
    case_id, pin = report(page)
    posts = _sent(requests, live_server)
    assert posts[0][0].endswith("/v1/cases") and len(posts) >= 2
    assert all(url.endswith(f"/v1/cases/{case_id}/hashes") for url, _ in posts[1:])
    vpdq = [h for _, body in posts for h in body["hashes"] if h["type"] == "vpdq"]
    parts = [h["value"] for h in vpdq]
    assert len(parts) >= 2 and [f for p in parts for f in p] == js["frames"]
    assert {h["part_of"] for h in vpdq} == {js["sha256"]}
    _assert_one_stored_video(live_server, api_key, case_id, pin, posts, js, data)


def _assert_one_stored_video(
    server: Server,
    api_key: str,
    case_id: str,
    pin: str,
    posts: list[tuple[str, dict[str, Any]]],
    js: dict[str, Any],
    data: bytes,
) -> None:
    """The case holds the parts as ONE video with every frame the page made: counted
    once, handed out by the feed as Meta's serialisation of the whole frame list, matched
    whole by the page's frames (100 % both ways) and by the file hashed by the server."""
    sent = [h for _, body in posts for h in body["hashes"]]
    n_parts = sum(h["type"] == "vpdq" for h in sent)
    assert case_status(server, case_id, pin)["hashes"] == len(sent) - (n_parts - 1)
    whole = hashes.format_vpdq(_frames(js["frames"]))
    videos = [i["value"] for i in server.feed(api_key) if i["type"] == "vpdq" and i["op"] == "add"]
    assert whole in videos
    with server.client(api_key) as c:
        body = eventually(
            lambda: (
                (
                    b := c.post("/v1/check", json={"hashes": [{"type": "vpdq", "value": whole}]})
                ).json()["match"]
                and b.json()
            ),
            timeout=5.0,
        )
        [m] = [m for m in body["matches"] if m["signal_type"] == "vpdq"]
        assert (m["query_percent"], m["stored_percent"]) == (100.0, 100.0)
        # the whole file, hashed by the server: vPDQ's 80 % of its frames (within a few
        # bits of the page's) in the one stored video
        r = c.post("/v1/check", files={"video": ("up.mp4", data, "video/mp4")})
        assert r.status_code == 200, r.text
        [m] = [m for m in r.json()["matches"] if m["signal_type"] == "vpdq"]
        assert m["query_percent"] >= 80.0 and m["stored_percent"] >= 80.0, m


def test_a_short_clip_cut_in_parts_by_the_test_hook_is_one_stored_video(
    live_server: Server, page: Page, api_key: str, tmp_path: Path
) -> None:
    """The same flow on a 12 s clip, parts cut at 400 bytes (a test hook lowers the
    page's 12 KB): three parts or more, one stored video with all 12 frames."""
    # other photos than the other tests' clips: their cases' videos would match it too
    others = ("motorcycle_left.png", "hubble_deep_field.jpg", "coins.png", "camera.png")
    data = clip([_photo(name) for name in others], seconds_per_shot=3.0)
    path = write(tmp_path, "short.mp4", data)
    page.add_init_script("globalThis.hashbankTestHooks = { vpdqPartBytes: 400 };")
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    open_page(page, live_server)
    js = pick_video(page, path)
    assert js["state"] == "ready" and len(js["frames"]) == 12, js["text"]
    case_id, pin = report(page)
    posts = _sent(requests, live_server)
    vpdq = [h for _, body in posts for h in body["hashes"] if h["type"] == "vpdq"]
    assert len(vpdq) >= 3 and all(len(json.dumps(h["value"])) <= 400 for h in vpdq)
    assert [f for h in vpdq for f in h["value"]] == js["frames"]
    assert {h["part_of"] for h in vpdq} == {js["sha256"]}
    _assert_one_stored_video(live_server, api_key, case_id, pin, posts, js, data)
