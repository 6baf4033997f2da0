"""Issue 23's tiled watermark, second pass: which copies does the eroded hash still
miss, and which added eroded slot (on BOTH sides) would match them? (An experiment;
nothing here is used by the service.)

Usage: .venv/bin/python benchmarks/eroded_slots.py [--every N] [--copies N] [--edits ...]

The copies are ``benchmarks/accuracy.py``'s own (its generator, its photos, every N-th).
*plan*: today's plan (``check_parts`` vs ``stored_parts``, density ``default``, the 6 %
eroded whole image included). Each candidate is a list of extra hashes made from the
working copy, added on both sides right after the plan's eroded hash, so that on a full
side (12 check hashes, 48 stored) it takes the place of the last pair windows, as it
would in the plan: the *+plan* recall counts that loss too. *alone*: the candidate's
hashes of copy against the original's (same slots, any pair). *unrelated*: the closest
pair between different photos, the candidate added to the plan on both sides (every
hash of one side against every hash of the other). CPU: the candidate's own time per
image (median, milliseconds), the plan's ``work.eroded(0.06)`` already made.

``--misses`` prints, for each tiled-watermark copy the plan misses, the family, the
eroded hash's quality on both sides and the eroded-vs-eroded distance.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._matching import min_distances
from benchmarks.accuracy import TRANSFORMS, TUNED, _pick_photos
from hashes._decode import decode
from hashes._pdq import block_hash, block_quality, pdq_with_quality
from hashes._variants import DENSITIES, Work, check_parts, stored_parts, work_pixels
from hashes._windows import Plane, eroded

THRESHOLD = 31
PLAN = DENSITIES["default"]
SHARE = PLAN.erode_share
EDITS = (
    "tiled watermark",
    "JPEG q70",
    "resize 25%",
    "crop 5%",
    "blur",
    "crop 20%",
    "rotate 5",
    "watermark",
    "caption band",
    "resize+JPEG+crop 3%",
    "centre crop 60-95%",
    "75% window",
    "rotate 2-20 inner",
    "rotate 2-20 white",
    "75% window off-centre",
)

Candidate = Callable[[Work], list[str | None]]


def _q(block: np.ndarray, floor: int = PLAN.min_quality) -> str | None:
    return block_hash(block) if block_quality(block) >= floor else None


def _whole(plane: Plane, floor: int = PLAN.min_quality) -> str | None:
    return _q(plane.box(0, plane.height, 0, plane.width), floor)


def _again(work: Work, share: float) -> Plane:
    """The 6 % eroded plane eroded again (a wider erosion reusing the first)."""
    key = -share
    found = work._eroded.get(key)
    if found is None:
        base = work.eroded(SHARE).luma
        found = work._eroded[key] = Plane.of_luma(eroded(base, share))
    return found


def _windows(plane: Plane, boxes: list[tuple[float, float, float, float]]) -> list[str | None]:
    return [_q(plane.box(*b)) for b in boxes]


def _bands(keep: float) -> Candidate:
    def f(work: Work) -> list[str | None]:
        p = work.eroded(SHARE)
        h, w = float(p.height), float(p.width)
        return _windows(p, [(0, keep * h, 0, w), ((1 - keep) * h, h, 0, w)])

    return f


def _sides(keep: float) -> Candidate:
    def f(work: Work) -> list[str | None]:
        p = work.eroded(SHARE)
        h, w = float(p.height), float(p.width)
        return _windows(p, [(0, h, 0, keep * w), (0, h, (1 - keep) * w, w)])

    return f


def _corners(keep: float) -> Candidate:
    def f(work: Work) -> list[str | None]:
        p = work.eroded(SHARE)
        h, w = float(p.height), float(p.width)
        kh, kw = keep * h, keep * w
        return _windows(
            p, [(0, kh, 0, kw), (0, kh, w - kw, w), (h - kh, h, 0, kw), (h - kh, h, w - kw, w)]
        )

    return f


def _centred(keep: float) -> Candidate:
    def f(work: Work) -> list[str | None]:
        p = work.eroded(SHARE)
        h, w = float(p.height), float(p.width)
        mh, mw = (1 - keep) * h / 2, (1 - keep) * w / 2
        return _windows(p, [(mh, h - mh, mw, w - mw)])

    return f


def _width(share: float) -> Candidate:
    return lambda work: [_whole(work.eroded(share))]


def _wider(extra: float) -> Candidate:
    return lambda work: [_whole(_again(work, extra))]


def _stretched(work: Work) -> list[str | None]:
    """The 6 % eroded plane with its levels stretched (1st-99th percentile to 0-255,
    then a square root: dark photos' shadows spread out)."""
    luma = work.eroded(SHARE).luma
    lo, hi = np.percentile(luma, (1, 99))
    s = np.sqrt(np.clip((luma - lo) / max(hi - lo, 1.0), 0, 1)) * 255
    return [_whole(Plane.of_luma(s))]


def _floor0(work: Work) -> list[str | None]:
    """The 6 % eroded whole image kept whatever its quality (only adds when under 40)."""
    p = work.eroded(SHARE)
    block = p.box(0, p.height, 0, p.width)
    return [block_hash(block)] if block_quality(block) < PLAN.min_quality else []


STORED = False  # which side _hashes is hashing (for the one-sided candidates)


def _check_width(share: float) -> Candidate:
    """One-sided: the check sends the eroded whole image at ``share``, the report
    stores only the plan's 6 % one (no slot of its own there)."""
    return lambda work: [_whole(work.eroded(SHARE if STORED else share))]


CANDIDATES: dict[str, Candidate] = {
    "erode 6% (the plan's)": _width(SHARE),
    "check 5%": _check_width(0.05),
    "check 7%": _check_width(0.07),
    "check 8%": _check_width(0.08),
    "check 10%": _check_width(0.10),
    "erode 3%": _width(0.03),
    "erode 4.5%": _width(0.045),
    "erode 10%": _width(0.10),
    "6% then +4% (10%)": _wider(0.04),
    "eroded bands 80%": _bands(0.80),
    "eroded bands 85%": _bands(0.85),
    "eroded sides 80%": _sides(0.80),
    "eroded corners 85%": _corners(0.85),
    "eroded corners 90%": _corners(0.90),
    "eroded centre 80%": _centred(0.80),
    "eroded edges 60%": lambda w: _bands(0.6)(w) + _sides(0.6)(w),
    "eroded stretched": _stretched,
    "eroded, no quality floor": _floor0,
    "10% + bands 80%": lambda w: _wider(0.04)(w) + _bands(0.80)(w),
    "10% + bands 85%": lambda w: _wider(0.04)(w) + _bands(0.85)(w),
    "3% + bands 80%": lambda w: _width(0.03)(w) + _bands(0.80)(w),
}


def _insert(parts: tuple[tuple[str, str], ...], extra: list[str], cap: int) -> list[str]:
    """The plan's hashes with ``extra`` right after its eroded hash (or after the
    whole/trim/derotate hashes when there is none), the pair windows giving way."""
    kinds = [k for k, _ in parts]
    at = kinds.index("eroded") + 1 if "eroded" in kinds else None
    if at is None:
        at = max(
            (
                i + 1
                for i, k in enumerate(kinds)
                if k in ("pdq", "whole", "trim", "turn", "derotate")
            ),
            default=1,
        )
    values = [v for _, v in parts]
    out = list(dict.fromkeys(values[:at] + extra + values[at:]))
    return out[:cap]


FREE_TURNS = False  # --free-turns: a report's candidates take the 3 least useful turns' slots
FOUR_TURNS = replace(PLAN, turns=("rotate90", "rotate180", "rotate270", "flip_x"))


def _hashes(data: bytes, *, stored: bool) -> dict:
    global STORED
    STORED = stored
    decoded = decode(data)
    pdq, _ = pdq_with_quality(decoded.pixels)
    work = work_pixels(decoded.image)
    parts = (stored_parts if stored else check_parts)(pdq, work, PLAN)
    base = stored_parts(pdq, work, FOUR_TURNS) if stored and FREE_TURNS else parts
    cap = PLAN.max_stored if stored else PLAN.max_check
    eroded_plane = work.eroded(SHARE)
    eq = block_quality(eroded_plane.box(0, eroded_plane.height, 0, eroded_plane.width))
    out: dict = {"plan": [v for _, v in parts], "eroded_q": eq}
    out["eroded"] = [v for k, v in parts if k == "eroded"]
    out["seconds"] = {}
    for name, cand in CANDIDATES.items():
        t = time.process_time()
        extra = [h for h in cand(work) if h is not None]
        out["seconds"][name] = time.process_time() - t
        out[name] = extra
        out[name + "+"] = _insert(base, extra, cap)
    return out


def _dist(a: str, b: str) -> int:
    return int(bin(int(a, 16) ^ int(b, 16)).count("1"))


def _floored(h: dict, floor: int) -> list[str]:
    """The plan's hashes of one side, its eroded hash dropped when under ``floor``."""
    if h["eroded_q"] >= floor:
        return list(h["plan"])
    return [v for v in h["plan"] if v not in h["eroded"]]


def _hit(a: list[str], b: list[str]) -> bool:
    return any(_dist(x, y) <= THRESHOLD for x in a for y in b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="all")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--copies", type=int, default=2, help="tiled-watermark copies each")
    parser.add_argument("--edits", default=",".join(EDITS))
    parser.add_argument("--only", default="", help="comma-separated candidates (default all)")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--floors", default="", help="eroded-hash quality floors, e.g. 40,50")
    parser.add_argument(
        "--free-turns",
        action="store_true",
        help="a report stores only 4 turns (rotations, mirror): the candidates take the "
        "slots of the vertical flip, transpose and transverse (no benchmark edit makes them)",
    )
    args = parser.parse_args()
    global FREE_TURNS
    FREE_TURNS = args.free_turns
    if args.only:
        keep = set(args.only.split(","))
        for name in list(CANDIDATES):
            if name not in keep:
                del CANDIDATES[name]
    by_name = {t.name: t for t in TRANSFORMS}
    edits = [e for e in args.edits.split(",") if e]
    ps = _pick_photos(args.photos, quick=False)[:: args.every]
    rng = np.random.default_rng(20241207)
    start = time.perf_counter()
    stored = [_hashes(p.data, stored=True) for p in ps]
    rows: list[tuple[int, str, dict]] = []
    for i, p in enumerate(ps):
        for e in edits:
            for _ in range(args.copies if e == "tiled watermark" else 1):
                rows.append((i, e, _hashes(by_name[e].edit(p.image, rng), stored=False)))
    print(
        f"{len(ps)} photos ({sum(p.family in TUNED for p in ps)} tuned), {len(rows)} copies, "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    names = list(CANDIDATES)
    head = ["edit", "n", "plan"] + [f"{n}: alone / +plan" for n in names]
    print("| " + " | ".join(head) + " |\n|---|" + "---:|" * (len(head) - 1))
    for e in edits:
        sel = [(i, h) for i, ed, h in rows if ed == e]
        plan = [_hit(h["plan"], stored[i]["plan"]) for i, h in sel]
        cells = [e, str(len(sel)), f"{np.mean(plan):.3f}"]
        for n in names:
            alone = np.mean([_hit(h[n], stored[i][n]) for i, h in sel])
            comb = np.mean([_hit(h[n + "+"], stored[i][n + "+"]) for i, h in sel])
            cells.append(f"{alone:.3f} / {comb:.3f}")
        print("| " + " | ".join(cells) + " |")
    fams = sorted({p.family for p in ps})
    print("\ntiled watermark +plan by family:")
    for fam in fams:
        sel = [(i, h) for i, ed, h in rows if ed == "tiled watermark" and ps[i].family == fam]
        if not sel:
            continue
        plan = np.mean([_hit(h["plan"], stored[i]["plan"]) for i, h in sel])
        cells = [f"{fam} ({len(sel)}): plan {plan:.2f}"]
        for n in names:
            cells.append(
                f"{n} {np.mean([_hit(h[n + '+'], stored[i][n + '+']) for i, h in sel]):.2f}"
            )
        print("- " + "; ".join(cells))
    owners = np.array([i for i, _, _ in rows])
    print("\nclosest unrelated (bits), impostor matches <= 31, CPU ms median per image:")
    for n in ["plan", *names]:
        key = n if n == "plan" else n + "+"
        d = min_distances([h[key] for _, _, h in rows], [s[key] for s in stored])
        d[np.arange(len(rows)), owners] = 10**6
        r, c = np.unravel_index(int(np.argmin(d)), d.shape)
        cpu = (
            ""
            if n == "plan"
            else f", {1000 * statistics.median(h['seconds'][n] for _, _, h in rows):.2f} ms"
        )
        print(
            f"- {n}: {int(d.min())} ({ps[c].name} vs {ps[owners[r]].name}, {rows[r][1]}), "
            f"matches {int((d <= THRESHOLD).sum())}{cpu}"
        )
    if args.floors:
        print(
            "\nquality floor on the eroded hash (dropped on a side whose eroded quality is "
            "under it; the slot it frees left empty): recall, copies whose eroded hash is "
            "dropped on either side"
        )
        print("| floor | " + " | ".join(edits) + " |\n|---:|" + "---:|" * len(edits))
        for floor in [int(f) for f in args.floors.split(",")]:
            cells = [str(floor)]
            for e in edits:
                sel = [(i, h) for i, ed, h in rows if ed == e]
                hits, dropped = [], 0
                for i, h in sel:
                    a, b = _floored(h, floor), _floored(stored[i], floor)
                    dropped += len(a) < len(h["plan"]) or len(b) < len(stored[i]["plan"])
                    hits.append(_hit(a, b))
                cells.append(f"{np.mean(hits):.3f} ({dropped})")
            print("| " + " | ".join(cells) + " |")
    if args.misses:
        print(
            "\nplan's tiled-watermark misses: photo, family, eroded quality copy/orig, "
            "eroded distance, closest plan distance:"
        )
        for i, e, h in rows:
            if e != "tiled watermark" or _hit(h["plan"], stored[i]["plan"]):
                continue
            de = (
                _dist(h["eroded"][0], stored[i]["eroded"][0])
                if h["eroded"] and stored[i]["eroded"]
                else None
            )
            dp = min(_dist(a, b) for a in h["plan"] for b in stored[i]["plan"])
            print(
                f"- {ps[i].name} ({ps[i].family}): q {h['eroded_q']}/{stored[i]['eroded_q']}, "
                f"eroded {de}, plan {dp}"
            )


if __name__ == "__main__":
    main()
