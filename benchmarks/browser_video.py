"""A video hashed on the reporting page (Chromium, one core) vs the server's hash_video.

Usage: .venv/bin/python benchmarks/browser_video.py [--quick] [--write] [--cpu N] [--no-player]

The clip: 60 s of 720p H.264 at 30 frames a second (MP4, x264 "veryfast", its default
keyframe interval), made from real photos (scikit-image's) filmed with camera motion and
hard cuts (benchmarks/_clips.py), written to a temporary file: Chromium picks files from
disk, as a person does.

The whole run (this driver, ``hashbank serve``, Chromium and its workers) is pinned to
one CPU core (``sched_setaffinity``, what ``taskset -c N`` does; children inherit it).
In headless Chromium (/usr/bin/chromium, or HASHBANK_CHROMIUM) the page's own
``hashVideo`` (app/portal/static/video.js: MD5 and SHA-256 read in 4 MB chunks; the file
demuxed (mp4box.js) and decoded once with WebCodecs, PDQ and quality of each sampled
frame and the stored frame variants of each distinct frame, in workers) hashes the
file, timed with ``performance.now()``. The baseline, in the same run, interleaved round
by round on the same core: ``hashes.hash_video(path, variants="stored")``, what the
server computes for the same report. Also timed once (unless --no-player): the page's
fallback way, a <video> element sought to each sampled frame (``way: "player"``), which
was the page's only way before WebCodecs. Goal: the page within 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashes
from benchmarks._clips import clip
from benchmarks._report import write_section
from benchmarks.portal_hashing import CHROMIUM, server

GOAL_SECONDS = 10.0
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
HASH_IN_PAGE = """async (way) => {
  const { hashVideo } = await import("/portal/static/video.js");
  const file = document.getElementById("bench-file").files[0];
  const limits = { maxVideoSeconds: 36000, maxVideoFrames: 36000 };
  const start = performance.now();
  const r = await hashVideo(file, limits, { way });
  return {
    ms: performance.now() - start,
    frames: r.frames,
    distinct: r.variants.length,
    variants: r.variants.reduce((n, v) => n + v.pdq.length, 0),
    rate: r.rate,
    md5: r.md5,
    way: r.way,
    timing: r.timing || null,
  };
}"""
ADD_INPUT = """() => {
  const input = document.createElement("input");
  input.type = "file";
  input.id = "bench-file";
  document.body.append(input);
}"""


def _photos() -> list[object]:
    import skimage.data
    from PIL import Image

    out = []
    for name in PHOTOS:
        with Image.open(Path(skimage.data.__file__).parent / name) as img:
            out.append(img.convert("RGB"))
    return out


def make_clip(seconds: float, size: tuple[int, int]) -> bytes:
    """The benchmark clip: one shot per photo, camera moving, hard cuts."""
    photos = _photos()
    return clip(photos, seconds_per_shot=seconds / len(photos), size=size, fps=30)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20 s 360p clip, 1 round")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    parser.add_argument("--cpu", type=int, default=0, help="the core to run on (default 0)")
    parser.add_argument(
        "--no-player", action="store_true", help="skip timing the <video> fallback way"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    seconds, size, rounds = (20.0, (640, 360), 1) if args.quick else (60.0, (1280, 720), 2)
    started = time.perf_counter()
    data = make_clip(seconds, size)
    print(f"clip: {len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.0f} s", flush=True)
    from playwright.sync_api import sync_playwright

    js_s: list[float] = []
    py_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, server() as url, sync_playwright() as pw:
        path = Path(tmp) / "clip.mp4"
        path.write_bytes(data)
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(url + "/")
        page.evaluate(ADD_INPUT)
        page.set_input_files("#bench-file", str(path))
        py = hashes.hash_video(path, variants="stored")  # warm up (numba, FFmpeg)
        js = page.evaluate(HASH_IN_PAGE, "any")
        timings = []
        for _ in range(rounds):
            js = page.evaluate(HASH_IN_PAGE, "any")
            assert js["way"] == "webcodecs", js["way"]
            js_s.append(js["ms"] / 1000)
            timings.append(js["timing"])
            start = time.perf_counter()
            py = hashes.hash_video(path, variants="stored")
            py_s.append(time.perf_counter() - start)
            print(f"page {js_s[-1]:.2f} s, hash_video {py_s[-1]:.2f} s", flush=True)
        player = None
        if not args.no_player:
            player = page.evaluate(HASH_IN_PAGE, "player")
            print(f"page, <video> seeks: {player['ms'] / 1000:.2f} s", flush=True)
        version = browser.version
        browser.close()
    frames = hashes.parse_vpdq([f"{f['pdq']},{f['quality']},{f['seconds']}" for f in js["frames"]])
    bits = [hashes.hamming(a.pdq, b.pdq) for a, b in zip(frames, py.frames, strict=True)]
    page_s, server_s = statistics.median(js_s), statistics.median(py_s)
    pdq_s = statistics.median(t["pdq"] for t in timings) / 1000
    variants_s = statistics.median(t["variants"] for t in timings) / 1000
    stored = sum(len(v.pdq) for v in py.frame_variants)
    verdict = "meets" if page_s <= GOAL_SECONDS else "does not meet"
    rows = [
        f"| page, WebCodecs (Chromium) | **{page_s:.2f}** | {len(js['frames'])} | "
        f"{js['variants']} | {page_s / server_s:.1f}x |",
    ]
    if player is not None:
        rows.append(
            f"| page, `<video>` seeks (the fallback; before) | {player['ms'] / 1000:.2f} | "
            f"{len(player['frames'])} | {player['variants']} | "
            f"{player['ms'] / 1000 / server_s:.1f}x |"
        )
    rows.append(f"| server (`hash_video`) | {server_s:.2f} | {len(py.frames)} | {stored} | 1.0x |")
    lines = [
        "## Reporting page: a video hashed in the browser",
        "",
        f"`benchmarks/browser_video.py`{' --quick' if args.quick else ''}: a {seconds:.0f} s "
        f"{size[1]}p H.264 clip at 30 frames a second ({len(data) / 1e6:.1f} MB, real photos "
        f"with camera motion and cuts), {rounds} round(s), Chromium {version} headless. The "
        f"whole run is pinned to **one core** (`sched_setaffinity`, as `taskset -c {args.cpu}`). "
        "*Page, WebCodecs*: the page's `hashVideo` (MD5 and SHA-256 in 4 MB chunks; the file "
        "demuxed by mp4box.js and every frame decoded once, in order, with WebCodecs; PDQ "
        "and quality of the sampled frames from their Y plane and the stored frame variants "
        "of the distinct ones, in workers). *Page, `<video>` seeks*: the same page asked for "
        'its fallback way (`way: "player"`, one seek per sampled frame: what the page did '
        'before), one round. *Server*: `hashes.hash_video(path, variants="stored")` on the '
        "same file, same core, interleaved. Medians.",
        "",
        "| | seconds | frames | frame variants | vs server |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Before WebCodecs the `<video>` seeks were the page's only way: 62.4 s, 6.3x the "
        "server, in the previous run of this benchmark (the same clip, machine and core).",
        "",
        f"The page **{verdict}** the 10 s goal for a 60 s 720p clip on one core "
        f"({page_s:.1f} s, {page_s / server_s:.1f}x the server's time on the same core in "
        f"the same run). Its frame hashes are within {max(bits)} bits of the server's "
        f"(mean {statistics.mean(bits):.1f}, the same {len(bits)} sampled frames, the same "
        "times); the agreement is tested in `tests/browser/test_portal_video.py` (MP4/H.264, "
        "WebM/VP9, both ways).",
        "",
        "Where the page's time goes (its worker's own clock, same rounds, which also counts "
        "the decoder's turns on the shared core while a frame is hashed): PDQ and quality "
        f"of the {len(js['frames'])} sampled frames {pdq_s:.2f} s; the stored variants of "
        f"the {js['distinct']} distinct frames {variants_s:.2f} s; the rest, "
        f"{page_s - pdq_s - variants_s:.2f} s, is demuxing and decoding every frame "
        "(WebCodecs' software H.264 decoder, which runs its own threads: on one core they "
        "take turns with the page's) and the exact hashes.",
        "",
        "Measured apart while building it (same clip, one core, a loaded machine: a load "
        "average near 27 on its 2 cores, which also slowed the server from 9.9 s to 12.3 s "
        "between the two runs): WebCodecs decoding alone, every frame but no frame hashed, "
        "took ~9.8 s (3.3 s on two cores: Chromium's decoder runs several threads), where "
        "FFmpeg decoding the same 1,082 frames (the non-reference B-frames skipped) in one "
        "thread took 4.3-4.6 s on the same core. Decoding alone is thus near the goal; what "
        "is left to win is in the stored variants (the corner search per distinct frame: "
        "made 2x faster here, bit-identical, and computed from the luma plane at the "
        "server's working size; every sampled frame of this clip is distinct, the camera "
        "always moving). PDQ of a 720p frame went from ~70 ms to ~20 ms (luma from the Y "
        "plane, filtering only where PDQ's decimation reads).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section("browser-video", text)


if __name__ == "__main__":
    main()
