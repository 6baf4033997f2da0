"""Video matching index: checking a 60 s clip against 1M stored vPDQ frame hashes.

The replica's frame index (``app.index.videos.VideoFrames``: one exact ``HashIndex`` of
every stored video's distinct frames) plus vPDQ's per-video count
(``app.services.videos.percentages``), against brute force in the same run: every query
frame compared with every stored frame (numpy, XOR and popcount over 256-bit rows: what
pytx's brute-force vPDQ matcher does, vectorised), then the same count.

Data: ``--videos`` stored videos of ``--frames`` random frame hashes each (default 1,000 x
1,008 = 1,008,000 frames, 280 hours at one frame a second); the query is 60 consecutive
frames of one of them, each moved by 8 bits (a re-encode), and 60 unrelated frames (a
video not in the bank). Times are medians of ``--repeat`` checks; results, equal for both
methods (checked), go to docs/benchmarks.md's ``video-index`` section with ``--write``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashes
from app.index.videos import FRAME_BITS, VideoFrames
from app.services.videos import percentages
from benchmarks._report import write_section

DISTANCE = hashes.FRAME_DISTANCE
FLOOR = hashes.QUALITY_FLOOR


def _value(rows: np.ndarray, start: float = 0.0) -> str:
    return hashes.format_vpdq(
        hashes.VpdqFrame(bytes(r).hex(), 90, start + t) for t, r in enumerate(rows)
    )


def _moved(rows: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = rows.copy()
    for r in out:
        for b in rng.choice(256, bits, replace=False):
            r[b // 8] ^= 1 << (b % 8)
    return out


def indexed(store: VideoFrames, query: str) -> dict[int, tuple[float, float]]:
    """What VideoMatcher.videos computes per stored video, from the index."""
    frames = hashes.prepare_frames(hashes.parse_vpdq(query), quality_floor=0)
    qualities = np.fromiter((f.quality for f in frames), dtype=np.int16)
    per: dict[int, list[tuple[int, int, int]]] = {}
    for h in store.search([f.pdq for f in frames], DISTANCE):
        per.setdefault(h.signal_id, []).append((h.query, h.position, h.distance))
    out = {}
    for sid, hits in per.items():
        video = store.get(sid)
        assert video is not None
        qp, sp, _, _ = percentages(qualities, video, hits, quality_floor=FLOOR, distance=DISTANCE)
        out[sid] = (qp, sp)
    return out


def brute(
    words: np.ndarray, owner: np.ndarray, store: VideoFrames, query: str
) -> dict[int, tuple[float, float]]:
    """Every query frame against every stored frame, then the same count."""
    frames = hashes.prepare_frames(hashes.parse_vpdq(query), quality_floor=0)
    qualities = np.fromiter((f.quality for f in frames), dtype=np.int16)
    q = np.frombuffer(bytes.fromhex("".join(f.pdq for f in frames)), dtype=np.uint64)
    q = q.reshape(len(frames), 4)
    per: dict[int, list[tuple[int, int, int]]] = {}
    for qi in range(q.shape[0]):
        d = np.bitwise_count(words ^ q[qi]).sum(axis=1, dtype=np.int32)
        for row in np.flatnonzero(d <= DISTANCE).tolist():
            fid = int(owner[row])
            per.setdefault(fid >> FRAME_BITS, []).append(
                (qi, fid & ((1 << FRAME_BITS) - 1), int(d[row]))
            )
    out = {}
    for sid, hits in per.items():
        video = store.get(sid)
        assert video is not None
        qp, sp, _, _ = percentages(qualities, video, hits, quality_floor=FLOOR, distance=DISTANCE)
        out[sid] = (qp, sp)
    return out


def _median_ms(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median wall and CPU (this process) milliseconds of ``fn``: on a shared machine the
    wall time is mostly waiting for a core, the CPU time is the work."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=1008)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks.md's section")
    args = ap.parse_args()
    rng = np.random.default_rng(20)
    hashes.HashIndex.compile()

    store = VideoFrames()
    all_rows = rng.integers(0, 256, (args.videos, args.frames, 32), dtype=np.uint8)
    t = time.perf_counter()
    store.add((sid + 1, _value(all_rows[sid])) for sid in range(args.videos))
    load_s = time.perf_counter() - t
    total = len(store)
    # brute force's table: the same rows, with the same ids
    words = np.ascontiguousarray(all_rows.reshape(-1, 32)).view(np.uint64).reshape(-1, 4)
    owner = ((np.arange(args.videos, dtype=np.int64)[:, None] + 1) << FRAME_BITS) + np.arange(
        args.frames, dtype=np.int64
    )[None, :]
    owner = owner.reshape(-1)

    target = args.videos // 2
    clip = _value(_moved(all_rows[target, 300:360], 8, rng), 0.0)
    other = _value(rng.integers(0, 256, (60, 32), dtype=np.uint8))
    got, want = indexed(store, clip), brute(words, owner, store, clip)
    assert got == want and got[target + 1][0] == 100.0, (got, want)
    assert indexed(store, other) == brute(words, owner, store, other) == {}

    rows = []
    for name, query in (
        ("a 60 s clip of a stored video", clip),
        ("an unrelated 60 s video", other),
    ):
        idx = _median_ms(lambda q=query: indexed(store, q), args.repeat)
        bf = _median_ms(lambda q=query: brute(words, owner, store, q), max(3, args.repeat // 5))
        rows.append((name, idx, bf))
    load = os.getloadavg()[0]
    mib = store.index.memory_bytes() / 2**20
    lines = [
        f"{total:,} stored frame hashes ({args.videos:,} videos of {args.frames:,} frames, "
        f"{total / 3600:,.0f} hours at one frame a second); indexed in {load_s:.1f} s "
        f"(parsing Meta's text included); frame index {mib:,.0f} MiB. "
        f"Python {platform.python_version()}, load average {load:.1f} on "
        f"{os.cpu_count()} cores during the run.",
        "",
        "| query (60 frames) | frame index + count: wall / CPU ms | brute force (numpy): "
        "wall / CPU ms | ratio (CPU) |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {n} | {i[0]:.1f} / {i[1]:.1f} | {b[0]:,.0f} / {b[1]:,.0f} | {b[1] / i[1]:,.0f}x |"
        for n, i, b in rows
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("video-index", text)


if __name__ == "__main__":
    main()
