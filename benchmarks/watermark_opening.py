"""Issue 23's tiled watermark: does a grey-level opening of the luma, hashed on BOTH
sides, match watermarked copies? (An experiment; nothing here is used by the service.)

Usage: .venv/bin/python benchmarks/watermark_opening.py [--every N] [--copies N]

White text at opacity a only brightens a pixel (``p' = p + a (255 - p)``). A grey-level
opening (a k x k minimum filter, then a k x k maximum filter) removes bright strokes
narrower than k; applied to the original too, what it does to the photo itself is the
same on both sides. For each kernel size (a share of the working copy's shorter side)
this hashes the whole opened luma (PDQ's DCT of its 64 x 64 area averages, as every
window hash) of each original and of each copy, and reports:

* recall of the opened hashes alone (copy's opened vs original's opened, PDQ <= 31), and
  combined with the current plan (``check_variants`` vs ``stored_variants``, plus the
  opened pair), on tiled-watermark copies and on mild and hard edits;
* the median distance opened vs opened per edit;
* the closest unrelated pair over every image (copies and originals) against every other
  photo's stored set, the opened hash added on both sides (it meets every other hash of
  the other side, as in the bank).

``--erode`` also measures the minimum filter alone (no dilation).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._matching import min_distances
from benchmarks.accuracy import TRANSFORMS, TUNED, _pick_photos
from hashes._decode import decode
from hashes._pdq import block_hash, pdq_with_quality
from hashes._variants import DENSITIES, check_variants, stored_variants, work_pixels
from hashes._windows import Plane

THRESHOLD = 31
EDITS = (
    "tiled watermark",
    "JPEG q70",
    "resize 25%",
    "crop 5%",
    "brightness +20%",
    "blur",
    "noise sigma 10",
    "crop 20%",
    "screenshot",
    "watermark",
    "resize+JPEG+crop 3%",
    "caption band",
)


def _plane_of(luma: np.ndarray) -> Plane:
    plane = object.__new__(Plane)
    table = np.zeros((luma.shape[0] + 1, luma.shape[1] + 1))
    table[1:, 1:] = luma.cumsum(0).cumsum(1)
    plane.luma, plane._table = luma, table
    plane.height, plane.width = luma.shape
    return plane


def _opened(luma: np.ndarray, frac: float, erode_only: bool) -> str:
    k = max(3, 2 * round(frac * min(luma.shape) / 2) + 1)
    out = ndimage.grey_erosion(luma, size=(k, k), mode="nearest")
    if not erode_only:
        out = ndimage.grey_dilation(out, size=(k, k), mode="nearest")
    p = _plane_of(out)
    return block_hash(p.box(0, p.height, 0, p.width))


def _hashes(data: bytes, kernels: list[tuple[str, float, bool]], *, stored: bool) -> dict:
    decoded = decode(data)
    pdq, _ = pdq_with_quality(decoded.pixels)
    work = work_pixels(decoded.image)
    plan = DENSITIES["default"]
    plain = (stored_variants if stored else check_variants)(pdq, work, plan)
    luma = work.plane.luma
    return {"plan": list(plain)} | {name: [_opened(luma, f, e)] for name, f, e in kernels}


def _dist(a: str, b: str) -> int:
    return int(bin(int(a, 16) ^ int(b, 16)).count("1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="all")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--copies", type=int, default=2, help="tiled-watermark copies each")
    parser.add_argument("--sizes", default="0.01,0.015,0.02,0.03,0.045")
    parser.add_argument("--erode", action="store_true", help="also the minimum filter alone")
    parser.add_argument("--erode-only", action="store_true", help="the minimum filter alone")
    parser.add_argument("--edits", default=",".join(EDITS))
    args = parser.parse_args()
    fracs = [float(f) for f in args.sizes.split(",")]
    kernels = [] if args.erode_only else [(f"open {f:g}", f, False) for f in fracs]
    if args.erode or args.erode_only:
        kernels += [(f"erode {f:g}", f, True) for f in fracs]
    names = [k[0] for k in kernels]
    by_name = {t.name: t for t in TRANSFORMS}
    edits = [e for e in args.edits.split(",") if e]
    ps = _pick_photos(args.photos, quick=False)[:: args.every]
    rng = np.random.default_rng(20240601)
    start = time.perf_counter()
    stored = [_hashes(p.data, kernels, stored=True) for p in ps]
    rows: list[tuple[int, str, dict]] = []  # (owner, edit, hashes)
    for i, p in enumerate(ps):
        for e in edits:
            for _ in range(args.copies if e == "tiled watermark" else 1):
                rows.append((i, e, _hashes(by_name[e].edit(p.image, rng), kernels, stored=False)))
        rows.append((i, "original", _hashes(p.data, kernels, stored=False)))
    print(
        f"{len(ps)} photos ({sum(p.family in TUNED for p in ps)} tuned), {len(rows)} images, "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    # per edit: recall of plan, opened alone, combined; median opened-vs-opened distance
    head = ["edit", "n", "plan"]
    for n in names:
        head += [f"{n} alone", f"{n} +plan", f"{n} median"]
    print("| " + " | ".join(head) + " |\n|---|" + "---:|" * (len(head) - 1))
    for e in [*edits, "original"]:
        sel = [(i, h) for i, ed, h in rows if ed == e]
        plan_hit = [
            min(_dist(a, b) for a in h["plan"] for b in stored[i]["plan"]) <= THRESHOLD
            for i, h in sel
        ]
        cells = [e, str(len(sel)), f"{np.mean(plan_hit):.3f}"]
        for n in names:
            d = [_dist(h[n][0], stored[i][n][0]) for i, h in sel]
            alone = [x <= THRESHOLD for x in d]
            comb = [a or b for a, b in zip(alone, plan_hit, strict=True)]
            cells += [f"{np.mean(alone):.3f}", f"{np.mean(comb):.3f}", f"{statistics.median(d):g}"]
        print("| " + " | ".join(cells) + " |")
    if "tiled watermark" in edits:
        print("\ntiled watermark by group (plan / each opened +plan):")
        for group in ("tuned", "held-out"):
            sel = [
                (i, h)
                for i, ed, h in rows
                if ed == "tiled watermark" and (ps[i].family in TUNED) == (group == "tuned")
            ]
            if not sel:
                continue
            plan_hit = [
                min(_dist(a, b) for a in h["plan"] for b in stored[i]["plan"]) <= THRESHOLD
                for i, h in sel
            ]
            out = [f"{group} ({len(sel)}): plan {np.mean(plan_hit):.3f}"]
            for n in names:
                comb = [
                    ph or _dist(h[n][0], stored[i][n][0]) <= THRESHOLD
                    for (i, h), ph in zip(sel, plan_hit, strict=True)
                ]
                out.append(f"{n} {np.mean(comb):.3f}")
            print("; ".join(out))
    # closest unrelated: each opened hash added to both sides, against everything
    owners = np.array([i for i, _, _ in rows])
    print("\nclosest unrelated pair (bits), impostor matches <= 31:")
    for n in ["plan", *names]:
        extra = [] if n == "plan" else [n]
        checks = [h["plan"] + [v for x in extra for v in h[x]] for _, _, h in rows]
        bank = [s["plan"] + [v for x in extra for v in s[x]] for s in stored]
        d = min_distances(checks, bank)
        d[np.arange(len(rows)), owners] = 10**6
        only = min_distances([h[n] for _, _, h in rows], [s[n] for s in stored])
        only[np.arange(len(rows)), owners] = 10**6
        r, c = np.unravel_index(int(np.argmin(d)), d.shape)
        print(
            f"- {n}: combined {int(d.min())} ({ps[c].name} vs {ps[owners[r]].name}, "
            f"{rows[r][1]}), matches {int((d <= THRESHOLD).sum())}; opened vs opened only "
            f"{int(only.min())}, matches {int((only <= THRESHOLD).sum())}"
        )


if __name__ == "__main__":
    main()
