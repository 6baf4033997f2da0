"""Stills taken at truly random times of real footage: do they match their video?

Usage: .venv/bin/python benchmarks/video_stills.py [--stills N] [--seed S] [--write]

The clips: the real clips with people moving of ``benchmarks/clip_set.py``
(``clip_set.load(kind="real", people_moving=True)``). For each clip, ``--stills`` frames
are drawn uniformly at random among all its decoded frames (any time, not only the
sampled ones); each is saved as a JPEG (quality 85) at 60 % of its size, as a platform
would see a screenshot, and checked as an image against the clip reported at 1, 2 and 4
frames a second:

* *plain*: the still's PDQ within 31 bits of one of the report's plain frame hashes;
* *with variants*: the still's check variants (``hash_bytes(...).pdq_variants``) against
  the report's frames and stored frame variants (``variants="stored"``), as the service
  matches an image against a reported video.

The cost is the hashes the report stores (plain frames + frame variants). A still is
*represented* when it is within PDQ 24 of a frame sampled at one a second: the issue's
accuracy goal (>= 95 %) is for those; this benchmark reports the share of all stills.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hashes
from benchmarks import clip_set
from benchmarks._report import write_section

RATES = (1.0, 2.0, 4.0)


def _bits(values: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, 32)


def _nearest(a: list[str], b: list[str]) -> int:
    """The smallest PDQ distance between any of ``a`` and any of ``b``."""
    x, y = _bits(a), _bits(b)
    return int(np.unpackbits(x[:, None, :] ^ y[None, :, :], axis=2).sum(axis=2).min())


def _jpeg(rgb: np.ndarray, scale: float = 0.6) -> bytes:
    img = Image.fromarray(rgb)
    size = (max(8, int(img.width * scale)), max(8, int(img.height * scale)))
    img = img.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stills", type=int, default=40, help="random stills per clip")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    hashes.warm_up()
    clips = [c for c in clip_set.entries() if c.kind == "real" and c.people_moving == "yes"]
    clip_set.fetch(clips)
    rows = []
    totals = {r: [0, 0] for r in RATES}
    all_stills = all_rep = rep_hits = 0
    for clip in clips:
        frames = _frames(clip.cached)
        reports = {r: hashes.hash_video(clip.cached, fps=r, variants="stored") for r in RATES}
        plain = {r: [f.pdq for f in reports[r].frames] for r in RATES}
        stored = {
            r: plain[r] + [h for v in reports[r].frame_variants for h in v.pdq] for r in RATES
        }
        hits = {r: [0, 0] for r in RATES}
        rep = 0
        picks = [rng.randrange(len(frames)) for _ in range(args.stills)]
        for k in picks:
            h = hashes.hash_bytes(_jpeg(frames[k]))
            near = _nearest([h.pdq], plain[1.0])
            represented = near <= 24
            rep += represented
            for r in RATES:
                p = _nearest([h.pdq], plain[r]) <= 31
                v = _nearest(list(h.pdq_variants), stored[r]) <= 31
                hits[r][0] += p
                hits[r][1] += v
                totals[r][0] += p
                totals[r][1] += v
                if r == 1.0 and represented:
                    rep_hits += v
        n = len(picks)
        all_stills += n
        all_rep += rep
        cost = {r: len(stored[r]) for r in RATES}
        rows.append((clip, n, rep, hits, cost))
        print(clip.name, n, rep, hits, cost, flush=True)

    def pct(a: int, b: int) -> str:
        return f"{a}/{b} ({100 * a / max(1, b):.0f} %)"

    table = "\n".join(
        f"| `{c.name}` ({c.seconds:.0f} s, {c.width} x {c.height}) | {pct(rep, n)} | "
        + " | ".join(f"{pct(hits[r][0], n)} / {pct(hits[r][1], n)} ({cost[r]:,})" for r in RATES)
        + " |"
        for c, n, rep, hits, cost in rows
    )
    total = (
        f"| **all** | {pct(all_rep, all_stills)} | "
        + " | ".join(
            f"**{pct(totals[r][0], all_stills)} / {pct(totals[r][1], all_stills)}**" for r in RATES
        )
        + " |"
    )
    body = f"""
### Stills at random times of real footage (`benchmarks/video_stills.py`)

The real clips with people moving of the clip set, {args.stills} stills each at frames drawn
uniformly at random (seed {args.seed}), JPEG quality 85 at 60 % size, checked as images
against the clip reported at 1, 2 and 4 frames a second. Each cell: *plain* (the still's
PDQ within 31 of a plain frame hash) / *with variants* (the still's check variants
against the report's frames and stored frame variants, as the service matches), and in
brackets the hashes the report stores. *Represented*: within PDQ 24 of a frame sampled
at 1/s.

| clip | represented at 1/s | 1/s | 2/s | 4/s |
|---|---|---|---|---|
{table}
{total}

Of the represented stills, {pct(rep_hits, all_rep)} match with variants at 1/s.
"""
    print(body)
    if args.write:
        write_section("video-stills", body)


if __name__ == "__main__":
    main()
