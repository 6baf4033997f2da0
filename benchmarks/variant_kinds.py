"""What each kind of variant hash earns: per edit, the copies each kind matched and those
it alone matched (no other kind did), on the stored side and on the check side.

Usage: .venv/bin/python benchmarks/variant_kinds.py [--photos FAMILIES] [--every N]
[--edits NAME,...] [--plan FIELD=VALUE ...]

The copies are ``benchmarks/accuracy.py``'s edits (same generator, same seed, so the same
copies as an accuracy run over the same photos and edits). A kind's *hits* on one side
are the copies where some hash of that kind is within PDQ 31 of some hash of the other
side; its *sole* hits those where no other kind of that side is. A kind with no sole hit
can give its slots to another at no loss on these copies. ``--plan`` overrides fields of
the density's :class:`hashes._variants.VariantPlan` (e.g. ``check_scales=0.85,0.7``), to
try a plan without editing it. Also printed: the closest unrelated pair (every copy and
original checked against every other photo's stored set), which must stay far from 31.
"""

from __future__ import annotations

import argparse
import ast
import collections
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._matching import min_distances, words
from benchmarks.accuracy import TRANSFORMS, TUNED, _pick_photos
from hashes._decode import decode
from hashes._pdq import pdq_with_quality
from hashes._variants import DENSITIES, VariantPlan, check_parts, stored_parts, work_pixels

THRESHOLD = 31


def _parts(data: bytes, plan: VariantPlan, *, stored: bool) -> tuple[tuple[str, str], ...]:
    decoded = decode(data)
    pdq, _ = pdq_with_quality(decoded.pixels)
    work = work_pixels(decoded.image)
    return (stored_parts if stored else check_parts)(pdq, work, plan)


def _plan(density: str, overrides: list[str]) -> VariantPlan:
    plan = DENSITIES[density]
    types = {f.name: f.type for f in fields(VariantPlan)}
    changes: dict[str, object] = {}
    for item in overrides:
        name, _, text = item.partition("=")
        if name not in types:
            raise SystemExit(f"no plan field {name!r}")
        value = ast.literal_eval(text)
        if "tuple" in str(types[name]) and not isinstance(value, tuple):
            value = (value,)
        changes[name] = value
    return replace(plan, **changes)  # type: ignore[arg-type]


def _distances(a: list[str], b: list[str]) -> np.ndarray:
    """Hamming distances between every hash of ``a`` and every hash of ``b``."""
    wa, wb = words(a), words(b)
    x = wa[:, None, :] ^ wb[None, :, :]
    bits = np.unpackbits(x.view(np.uint8), axis=-1)
    return np.asarray(bits.sum(axis=-1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="all", help="as benchmarks/accuracy.py --photos")
    parser.add_argument("--every", type=int, default=1, help="every n-th photo only")
    parser.add_argument("--edits", default="", help="comma-separated edit names (default: all)")
    parser.add_argument("--density", default="default")
    parser.add_argument("--plan", nargs="*", default=[], help="FIELD=VALUE overrides")
    parser.add_argument("--misses", action="store_true", help="list the copies missed")
    args = parser.parse_args()
    plan = _plan(args.density, args.plan)
    ps = _pick_photos(args.photos, quick=False)[:: args.every]
    chosen = set(args.edits.split(",")) if args.edits else None
    transforms = [t for t in TRANSFORMS if chosen is None or t.name in chosen]
    rng = np.random.default_rng(20240601)  # as accuracy.run: the same copies
    start = time.perf_counter()
    stored = [_parts(p.data, plan, stored=True) for p in ps]
    hits: dict[tuple[str, str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    recall: dict[tuple[str, str], list[bool]] = collections.defaultdict(list)
    checks: list[list[str]] = []
    owners: list[int] = []
    for i, p in enumerate(ps):
        group = "tuned" if p.family in TUNED else "held-out"
        for t in transforms:
            check = _parts(t.edit(p.image, rng), plan, stored=False)
            checks.append([v for _, v in check])
            owners.append(i)
            d = _distances([v for _, v in check], [v for _, v in stored[i]]) <= THRESHOLD
            recall[(t.name, group)].append(bool(d.any()))
            if not d.any() and args.misses:
                print(f"miss: {t.name}: {p.family}/{p.name}", flush=True)
            for side, kinds in (
                ("check", [k for k, _ in check]),
                ("stored", [k for k, _ in stored[i]]),
            ):
                axis = 1 if side == "check" else 0
                matched = d.any(axis=axis)
                by_kind = {k for k, m in zip(kinds, matched, strict=True) if m}
                for k in by_kind:
                    hits[(t.name, side, k)]["hits"] += 1
                    if len(by_kind) == 1:
                        hits[(t.name, side, k)]["sole"] += 1
    for i, p in enumerate(ps):
        checks.append([v for _, v in _parts(p.data, plan, stored=False)])
        owners.append(i)
    d = min_distances(checks, [[v for _, v in s] for s in stored])
    d[np.arange(len(checks)), owners] = 10**6
    n_stored = [len(s) for s in stored]
    n_check = [len(c) for c in checks]
    print(
        f"{len(ps)} photos, {len(transforms)} edits, {time.perf_counter() - start:.0f} s; "
        f"stored {np.mean(n_stored):.1f} / {max(n_stored)}, check {np.mean(n_check):.1f} / "
        f"{max(n_check)}; closest unrelated pair {int(d.min())} bits, "
        f"impostor matches {int((d <= THRESHOLD).sum())}"
    )
    print("\n| edit | tuned | held-out | all |\n|---|---:|---:|---:|")
    for t in transforms:
        tu, ho = recall[(t.name, "tuned")], recall[(t.name, "held-out")]
        cells = [f"{np.mean(x):.3f} ({len(x)})" if x else "" for x in (tu, ho, tu + ho)]
        print(f"| {t.name} | " + " | ".join(cells) + " |")
    for side in ("check", "stored"):
        kinds = sorted({k for (_, s, k) in hits if s == side})
        print(f"\n{side} side, hits / sole hits per kind:\n")
        print("| edit | " + " | ".join(kinds) + " |\n|---|" + "---:|" * len(kinds))
        for t in transforms:
            cells = []
            for k in kinds:
                c = hits.get((t.name, side, k), collections.Counter())
                cells.append(f"{c['hits']} / {c['sole']}")
            print(f"| {t.name} | " + " | ".join(cells) + " |")
    print("\nsole hits per kind (the edits where a kind alone matched a copy):\n")
    print("| side | kind | hits | sole | sole hits by edit |\n|---|---|---:|---:|---|")
    for side in ("check", "stored"):
        for k in sorted({k for (_, s, k) in hits if s == side}):
            per = [(t.name, hits.get((t.name, side, k), collections.Counter())) for t in transforms]
            total, sole = sum(c["hits"] for _, c in per), sum(c["sole"] for _, c in per)
            where = ", ".join(f"{name} {c['sole']}" for name, c in per if c["sole"])
            print(f"| {side} | {k} | {total} | {sole} | {where or 'none'} |")


if __name__ == "__main__":
    main()
