"""Fixed stored windows (anchored on the photo's corners, edge midpoints or centre) against
off-centre 75 % windows and cut-in turns: which copies' check hashes come within 31 bits.

Usage: .venv/bin/python benchmarks/fixed_windows.py [--photos FAMILIES] [--every N]
[--edits NAME,...]

Two measurements (issue 23, "Tried: fixed windows anchored on the corners"):

* ``shift``: how far a stored window may sit from the copy for PDQ to match. A 75 %
  window of each photo (JPEG q90, hashed as a check hashes it: its ``pdq`` and whole
  window) against the original's window of the same size moved by s of a side along
  one axis and along both (random directions).
* ``scan``: candidate stored windows, 70 / 75 / 80 % of each side anchored on the 4
  corners, an eighth of their range in from them, on the 4 edge midpoints and the
  centre, centred 85-95 % crops, and centred windows turned by 2-20 degrees either way
  (cut to the rectangle a photo turned that much keeps), each hashed as a report hashes
  a window (dropped under PDQ quality 40). For every copy (``accuracy.py``'s edits,
  generator and seed: with the default ``--edits`` the same copies as an accuracy run
  over the same photos), the copies each candidate matches with the check's own hashes
  (``check_variants``), among all and among those the plan (``stored_variants``)
  misses; each candidate's closest distance to the check of any image of another
  photo; and the plan's recall with sets of turned windows (every 2, 3 or 4 degrees)
  or all the upright candidates added.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._photos import Photo
from benchmarks.accuracy import TRANSFORMS, _jpeg, _pick_photos
from benchmarks.variant_kinds import _distances
from hashes._decode import decode
from hashes._pdq import block_hash, block_quality, pdq_with_quality
from hashes._variants import DENSITIES, Work, check_variants, stored_variants, work_pixels

THRESHOLD = 31
SHOW = "75% window off-centre,rotate 2-20 inner,75% window,crop 20%,rotate 2-20 black"
SHIFTS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.045, 0.0625)
ANCHORS = {
    "corner": ((0, 0), (0, 1), (1, 0), (1, 1)),
    "corner, 1/8 in": ((1 / 8, 1 / 8), (1 / 8, 7 / 8), (7 / 8, 1 / 8), (7 / 8, 7 / 8)),
    "edge midpoint": ((0, 0.5), (1, 0.5), (0.5, 0), (0.5, 1)),
    "centre": ((0.5, 0.5),),
}
ANGLES = tuple(s * a for a in range(2, 21) for s in (1, -1))
ANGLE_SETS = {
    "every 2 degrees (3, 5 .. 19)": range(3, 20, 2),
    "every 3 degrees (3, 6 .. 18)": range(3, 19, 3),
    "every 4 degrees (3, 7 .. 19)": range(3, 20, 4),
    "every 4 degrees (4, 8 .. 16)": range(4, 17, 4),
    "every degree (2 .. 20)": range(2, 21),
}
Candidate = tuple[str, float, float, float, float]  # (name, keep, fy, fx, degrees)


def candidates() -> list[Candidate]:
    """Upright windows (``degrees == 0``), then centred windows turned by each of
    :data:`ANGLES`, cut to 0.98 of the largest centred rectangle a photo turned that
    much still covers (``keep`` 0: that rectangle)."""
    out = [
        (f"{kind} {keep:.0%} @{fy:g},{fx:g}", keep, fy, fx, 0.0)
        for keep in (0.7, 0.75, 0.8)
        for kind, anchors in ANCHORS.items()
        for fy, fx in anchors
    ]
    out += [(f"centre {k:.0%}", k, 0.5, 0.5, 0.0) for k in (0.85, 0.9, 0.95)]
    return out + [(f"turned {a:+d} degrees", 0.0, 0.5, 0.5, float(a)) for a in ANGLES]


def _work(data: bytes) -> tuple[str, Work]:
    decoded = decode(data)
    pdq, _ = pdq_with_quality(decoded.pixels)
    return pdq, work_pixels(decoded.image)


def _covered(h: float, w: float, degrees: float) -> float:
    """The share of each side of the largest centred rectangle of the photo's aspect
    inside the photo turned by ``degrees`` (``accuracy._inner_rect``)."""
    a = abs(math.radians(degrees))
    c, s = math.cos(a), math.sin(a)
    return min(1.0, 1 / (c + s * h / w), 1 / (c + s * w / h))


def _window(work: Work, keep: float, fy: float, fx: float, degrees: float) -> str | None:
    plane = work.plane
    h, w = float(plane.height), float(plane.width)
    if degrees:
        k = 0.98 * _covered(h, w, degrees)
        block = plane.rotated(h / 2, w / 2, k * h / 2, k * w / 2, math.radians(degrees))
    else:
        top, left = h * (1 - keep) * fy, w * (1 - keep) * fx
        block = plane.box(top, top + h * keep, left, left + w * keep)
    return block_hash(block) if block_quality(block) >= 40 else None


def shift(ps: list[Photo], rng: np.random.Generator) -> None:
    print("| shift, share of a side | one axis: median bits | <= 31 | both axes: median | <= 31 |")
    print("|---:|---:|---:|---:|---:|")
    found: dict[tuple[float, int], list[int]] = {(s, n): [] for s in SHIFTS for n in (1, 2)}
    for p in ps:
        img = p.image
        w, h = img.size
        fx, fy = rng.uniform(0.07, 0.18, 2)  # room to move either way
        cw, ch = round(0.75 * w), round(0.75 * h)
        left, top = round((w - cw) * fx), round((h - ch) * fy)
        pdq, work = _work(_jpeg(img.crop((left, top, left + cw, top + ch))))
        plane = work.plane
        check = [pdq, block_hash(plane.box(0, plane.height, 0, plane.width))]
        original = _work(p.data)[1].plane
        sx, sy = original.width / w, original.height / h
        for s in SHIFTS:
            for n in (1, 2):
                sign = rng.choice([-1, 1], 2)
                x0 = (left + sign[0] * s * w) * sx
                y0 = (top + (sign[1] * s * h if n == 2 else 0)) * sy
                stored = block_hash(original.box(y0, y0 + ch * sy, x0, x0 + cw * sx))
                found[(s, n)].append(int(_distances(check, [stored]).min()))
    for s in SHIFTS:
        cells = []
        for n in (1, 2):
            d = np.array(found[(s, n)])
            cells += [f"{np.median(d):.0f}", f"{np.mean(d <= THRESHOLD):.3f}"]
        print(f"| {s:.1%} | " + " | ".join(cells) + " |")


def scan(ps: list[Photo], edits: list[str] | None, show: list[str]) -> None:
    plan = DENSITIES["default"]
    cands = candidates()
    transforms = [t for t in TRANSFORMS if edits is None or t.name in edits]
    stored, windows = [], []
    for p in ps:
        pdq, work = _work(p.data)
        stored.append(list(stored_variants(pdq, work, plan)))
        windows.append([_window(work, *c[1:]) for c in cands])
    hits = np.zeros((len(transforms), len(cands)), int)
    rescued = np.zeros_like(hits)
    plan_hits = np.zeros(len(transforms), int)
    per_copy: list[list[tuple[bool, np.ndarray]]] = [[] for _ in transforms]
    checks: list[tuple[int, list[str]]] = []
    rng = np.random.default_rng(20240601)  # as accuracy.run: the same copies
    for i, p in enumerate(ps):
        for e, t in enumerate(transforms):
            check = list(check_variants(*_work(t.edit(p.image, rng)), plan))
            checks.append((i, check))
            matched = bool((_distances(check, stored[i]) <= THRESHOLD).any())
            plan_hits[e] += matched
            found = np.array(
                [v is not None and _distances(check, [v]).min() <= THRESHOLD for v in windows[i]]
            )
            hits[e] += found
            rescued[e] += found & (not matched)
            per_copy[e].append((matched, found))
        checks.append((i, list(check_variants(*_work(p.data), plan))))
    closest = np.full(len(cands), 256)
    for i, ws in enumerate(windows):
        others = [h for k, c in checks if k != i for h in c]
        for j, value in enumerate(ws):
            if value is not None:
                closest[j] = min(closest[j], int(_distances([value], others).min()))
    n = len(ps)
    shown = [(e, t) for e, t in enumerate(transforms) if t.name in show]
    print("\nplan's recall: " + ", ".join(f"{t.name} {plan_hits[e] / n:.3f}" for e, t in shown))
    print(
        "\n| candidate stored window | "
        + " | ".join(
            f"{t.name}: matched / of the plan's {n - plan_hits[e]} misses" for e, t in shown
        )
        + " | closest unrelated |\n|---|"
        + "---:|" * (len(shown) + 1)
    )
    for j, (name, *_) in enumerate(cands):
        cells = [f"{hits[e, j]} / {rescued[e, j]}" for e, _ in shown]
        print(f"| {name} | " + " | ".join(cells) + f" | {closest[j]} |")
    names = [c[0] for c in cands]
    print(
        "\n| the plan and turned centred windows | slots | "
        + " | ".join(t.name for _, t in shown)
        + " |"
    )
    print("|---|---:|" + "---:|" * len(shown))
    for label, angles in ANGLE_SETS.items():
        idx = [names.index(f"turned {s * a:+d} degrees") for a in angles for s in (1, -1)]
        cells = [f"{np.mean([m or f[idx].any() for m, f in per_copy[e]]):.3f}" for e, _ in shown]
        print(f"| {label} | {len(idx)} | " + " | ".join(cells) + " |")
    upright = [j for j, c in enumerate(cands) if not c[4]]
    cells = [f"{np.mean([m or f[upright].any() for m, f in per_copy[e]]):.3f}" for e, _ in shown]
    print(
        f"| (all {len(upright)} upright windows above, for comparison) | {len(upright)} | "
        + " | ".join(cells)
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="all", help="as benchmarks/accuracy.py --photos")
    parser.add_argument("--every", type=int, default=4, help="every n-th photo only")
    parser.add_argument(
        "--edits", default="", help="comma-separated edit names (default: all, as accuracy.py)"
    )
    parser.add_argument("--show", default=SHOW, help="the edits the tables show")
    args = parser.parse_args()
    ps = _pick_photos(args.photos, quick=False)[:: args.every]
    start = time.perf_counter()
    print(f"{len(ps)} photos\n")
    shift(ps, np.random.default_rng(7))
    scan(ps, args.edits.split(",") if args.edits else None, args.show.split(","))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
