"""Video hashing speed and memory: ``hashes.hash_video`` vs Meta's ``vpdq`` on the same file.

Usage: .venv/bin/python benchmarks/video_hashing.py [--quick] [--speed-only] [--write]

Speed: a 60 s 720p H.264 clip (30 frames/s, x264 ``medium``, CRF 23: what a phone or an
editor writes), made from real photos with camera motion and cuts (benchmarks/_clips.py),
hashed at one frame a second by ``hash_video`` and by ``vpdq.computeHash`` (PyPI 0.2.5),
each in its own child process pinned to one core, interleaved round by round. The
figures are CPU seconds of the child (user + system: the machine is shared, wall time
waits for other processes) and their ratio; wall seconds are shown too.

Memory: a 10-minute 1080p H.264 clip (30 frames/s), hashed in a child process as the
CLI hashes a path, as the service checks an upload (the bytes in memory:
``variants="check"``) and as a report is hashed (``variants="stored"``). The figure is
the child's peak RSS minus its RSS just before hashing (modules loaded, kernels
compiled); for the upload, the bytes the caller already held are counted apart.

The clips are synthetic test material written to a temporary folder (vpdq takes a
path), never user content.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._clips import clip
from benchmarks._photos import photos
from benchmarks._report import write_section

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, resource, sys, time
os.sched_setaffinity(0, {int(sys.argv[3])})
import av  # noqa: F401  (loaded before the clock starts, as in a running service)
which, path = sys.argv[1], sys.argv[2]
if which == "ours":
    import hashes
    hashes.warm_up()
    def run():
        return len(hashes.hash_video(path).frames)
else:
    import vpdq
    def run():
        return len(vpdq.computeHash(path, seconds_per_hash=1.0))
t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
n = run()
t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"frames": n, "cpu": cpu, "wall": t1 - t0}))
"""

_MEMORY = r"""
import json, resource, sys
import hashes
mode, path = sys.argv[1], sys.argv[2]
hashes.warm_up()
def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
data = None
if mode != "path":
    with open(path, "rb") as fh:
        data = fh.read()
before = rss_kb()
# reset the peak so that it counts from here (Linux >= 4.0: write 5 to clear_refs)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
variants = {"path": "none", "check": "check", "stored": "stored"}[mode]
h = hashes.hash_video(path if data is None else data, variants=variants)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open("/proc/self/status") as fh:
    hwm = [int(l.split()[1]) for l in fh if l.startswith("VmHWM:")][0]
print(json.dumps({"added_mb": (hwm - before) / 1024, "frames": len(h.frames),
                  "variants": sum(len(v.pdq) for v in h.frame_variants),
                  "file_mb": (len(data) if data else 0) / 1e6}))
"""


def _child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=3600,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _long_clip(path: Path, seconds: int, fps: int, size: tuple[int, int]) -> None:
    """A long 1080p clip encoded shot by shot (12 photos panned, a cut every 5 s)."""
    import av
    from PIL import Image

    w, h = size
    shots = [p.image.convert("RGB") for p in photos()][:12]
    with av.open(str(path), "w", format="mp4") as out:
        stream: Any = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        per_shot = 5 * fps
        for i in range(seconds * fps):
            if i % per_shot == 0:
                shot = shots[(i // per_shot) % len(shots)]
                size = (int(w * 1.3), int(h * 1.3))
                big = np.asarray(shot.resize(size, Image.Resampling.BILINEAR))
            t = (i % per_shot) / per_shot
            x, y = int(t * w * 0.3), int(t * h * 0.3)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(big[y : y + h, x : x + w]))
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 s and 1-minute clips")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--speed-only", action="store_true", help="the speed table only (no 1080p clip; no --write)"
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    seconds, long_seconds = (20, 60) if args.quick else (60, 600)
    core = sorted(os.sched_getaffinity(0))[0]
    with tempfile.TemporaryDirectory(prefix="hashbank-video-bench-") as tmp:
        short = Path(tmp) / "clip720.mp4"
        t = time.perf_counter()
        images = [p.image.convert("RGB") for p in photos()]
        n_shots = seconds // 4
        shots = (images * 3)[:n_shots]
        short.write_bytes(
            clip(shots, size=(1280, 720), fps=30, seconds_per_shot=4.0, preset="medium", crf=23)
        )
        print(f"720p clip: {short.stat().st_size / 1e6:.1f} MB, made in "
              f"{time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
        rows: dict[str, list[dict[str, float]]] = {"ours": [], "vpdq": []}
        for r in range(args.rounds):
            for which in ("ours", "vpdq") if r % 2 == 0 else ("vpdq", "ours"):
                got = _child(_CHILD, which, str(short), str(core))
                rows[which].append(got)
                print(which, got, flush=True)
        frames = {w: int(rows[w][0]["frames"]) for w in rows}
        cpu = {w: statistics.median(x["cpu"] for x in rows[w]) for w in rows}
        wall = {w: statistics.median(x["wall"] for x in rows[w]) for w in rows}
        ratios = [v["cpu"] / o["cpu"] for o, v in zip(rows["ours"], rows["vpdq"], strict=True)]

        if args.speed_only:
            for w in ("vpdq", "ours"):
                print(f"{w}: frames {frames[w]}, CPU s {[round(x['cpu'], 2) for x in rows[w]]}, "
                      f"median {cpu[w]:.2f}, wall median {wall[w]:.1f}")  # fmt: skip
            print("vpdq / hash_video, CPU, per round:", ", ".join(f"{x:.2f}x" for x in ratios))
            return
        long = Path(tmp) / "clip1080.mp4"
        t = time.perf_counter()
        _long_clip(long, long_seconds, 30, (1920, 1080))
        print(f"1080p clip: {long.stat().st_size / 1e6:.0f} MB, {long_seconds} s, made in "
              f"{time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
        memory = {m: _child(_MEMORY, m, str(long)) for m in ("path", "check", "stored")}
        for m, got in memory.items():
            print("memory", m, got, flush=True)

    per_round = ", ".join(f"{x:.2f}x" for x in ratios)
    speed = "\n".join(
        f"| {label} | {frames[w]} | {cpu[w]:.2f} | {wall[w]:.2f} | {extra} |"
        for w, label, extra in (
            ("vpdq", "`vpdq.computeHash` (Meta, PyPI 0.2.5)", ""),
            ("ours", "`hashes.hash_video`", per_round),
        )
    )
    file_mb = memory["check"]["file_mb"]
    labels = {
        "path": "a path (`hashbank hash`)",
        "check": f'the bytes in memory, `variants="check"` (a check; the {file_mb:.0f} MB '
        "the caller holds are not counted)",
        "stored": 'the bytes in memory, `variants="stored"` (a report)',
    }
    mem = "\n".join(
        f"| {labels[m]} | {g['frames']:.0f} | {g['variants']:.0f} | {g['added_mb']:.0f} MB |"
        for m, g in memory.items()
    )
    body = f"""
## Video hashing (`benchmarks/video_hashing.py`)

Speed: a {seconds} s 720p H.264 clip (30 frames/s, x264 medium, CRF 23; real photos,
camera moving, a cut every 4 s), one frame a second, one core, {args.rounds} rounds
interleaved; CPU seconds of each child process (median).

| hasher | frames | CPU s | wall s | vpdq / hash_video (CPU, per round) |
|---|---|---|---|---|
{speed}

Memory: a {long_seconds // 60}-minute 1080p H.264 clip (30 frames/s, {file_mb:.0f} MB),
peak RSS added by one `hash_video` call in a child process (after start-up and warm-up):

| call | frames | frame variants | RSS added |
|---|---|---|---|
{mem}

Why it is faster: vpdq decodes every frame; `hash_video` decodes only what its samples
need. H.264 is read a group of pictures ahead (up to the next IDR frame): with steady
timestamps each packet's frame number is known before decoding, so non-reference frames
that are not samples and everything after a group's last sample are not decoded (a group
without a sample is skipped whole). Sampled frames are converted and hashed at full size
up to 1080p, as vpdq does: the hashes are Meta's bit for bit (the conformance tests
compare frame by frame). Memory stays flat with length: only hashes are kept (frame
variants are hashed as their frame is decoded, within the budget).
"""
    print(body)
    if args.write:
        write_section("video-hashing", body)


if __name__ == "__main__":
    main()
