"""The false matches the eroded hash adds at a real bank's size (session 29).

``false_matches.py`` hashed its set before the plan hashed the *eroded* whole image
(``VariantPlan.erode_share``: a report stores it, a check sends it). Re-hashing the
whole set is long, so this hashes only that one new hash per image (``_variants._eroded``,
the plan's function and quality floor; a report and a check compute the same hash) and
counts the pairs of different images it brings within PDQ 31 that were not there:

* (a) each image's eroded hash, as a check hash, against every other image's stored
  hashes: the old ones and their eroded hashes;
* (b) every image's old check hashes against each other image's eroded stored hash.

The images are those ``false_matches.py analyse`` counts (the same ``kept`` selection,
near-duplicates within a source dropped, reports under PDQ quality 50 storing nothing).
Where a side is full, the eroded hash takes the place of its last pair window; that is
ignored here (it can only remove matches, so the counts are an upper bound).

Usage: .venv/bin/python benchmarks/false_matches_eroded.py [--processes 2]

Writes ``eroded.jsonl`` (the hashes, resumable), ``result-eroded.json`` and the new
matches side by side (``matches-eroded/``) in ``$HASHBANK_FM_CACHE``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import false_matches as fm

ERODED = fm.CACHE / "eroded.jsonl"
RADIUS = 48
NEW_MATCHES = fm.CACHE / "matches-eroded"


def eroded_scored(rgb: Image.Image) -> tuple[str, int] | None:
    """The eroded hash a report stores and a check sends for the RGB picture ``rgb``
    (the default plan's ``_variants._eroded``) and its PDQ quality, None under the plan's
    quality floor."""
    from hashes._variants import DENSITIES, _eroded, work_pixels

    return _eroded(work_pixels(rgb), DENSITIES["default"])


def eroded_of(rgb: Image.Image) -> str | None:
    """:func:`eroded_scored`'s hash alone."""
    found = eroded_scored(rgb)
    return None if found is None else found[0]


def _read(path: str) -> Image.Image:
    """The picture as ``false_matches._hash`` decodes it."""
    with Image.open(path) as img:
        img.load()
        return ImageOps.exif_transpose(img).convert("RGB")


def _task(item: tuple[str, str]) -> tuple[str, tuple[str, int] | None]:
    sha, path = item
    return sha, eroded_scored(_read(path))


Scored = tuple[str, int] | None


def eroded_hashes(images: list[dict[str, object]], processes: int) -> dict[str, Scored]:
    """Per image (by SHA-256), its eroded hash and PDQ quality, None under the plan's
    quality floor. Rows written before the quality was recorded are hashed again."""
    known: dict[str, Scored] = {}
    if ERODED.exists():
        for line in ERODED.read_text().splitlines():
            row = json.loads(line)
            if "quality" in row:
                e = row["eroded"]
                known[row["sha256"]] = None if e is None else (e, int(row["quality"]))
    todo = [(str(r["sha256"]), str(fm._cached(r))) for r in images if r["sha256"] not in known]
    t = time.monotonic()
    with ERODED.open("a") as out, Pool(processes) as pool:
        for n, (sha, found) in enumerate(pool.imap_unordered(_task, todo, chunksize=8)):
            known[sha] = found
            row = {"sha256": sha, "eroded": None if found is None else found[0]}
            out.write(json.dumps(row | {"quality": None if found is None else found[1]}) + "\n")
            if n % 500 == 499:
                out.flush()
                rate = (n + 1) / (time.monotonic() - t)
                print(f"eroded: {n + 1} of {len(todo)} ({rate:.1f}/s)", flush=True)
    return known


def _pairs(
    queries: np.ndarray, q_owner: np.ndarray, base: np.ndarray, b_owner: np.ndarray
) -> np.ndarray:
    """``(query image, base image, distance)`` of every query hash and base hash of
    different images within :data:`RADIUS` bits."""
    import faiss

    index = faiss.IndexBinaryFlat(256)
    index.add(base)
    lims, dist, ids = index.range_search(queries, RADIUS + 1)
    q = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
    a, b, d = q_owner[q], b_owner[ids], dist.astype(np.int64)
    keep = a != b
    return np.stack([a[keep], b[keep], d[keep]], axis=1)


def _closest(
    queries: np.ndarray, q_owner: np.ndarray, base: np.ndarray, b_owner: np.ndarray
) -> np.ndarray:
    """Per query, the distance to the nearest hash of another image (k = 64 nearest)."""
    import faiss

    index = faiss.IndexBinaryFlat(256)
    index.add(base)
    dist, ids = index.search(queries, 64)
    return np.asarray(np.where(b_owner[ids] != q_owner[:, None], dist, 257).min(axis=1))


@dataclass
class _Sides:
    """Which images store / send their eroded hash, and the new pairs it makes."""

    stores: list[bool]
    sends: list[bool]
    e_check: np.ndarray
    e_store: np.ndarray
    e_check_bits: np.ndarray
    e_store_bits: np.ndarray
    new_a: np.ndarray
    new_b: np.ndarray


def _sides(
    images: list[dict[str, object]], eroded: list[str | None], storable: np.ndarray, bank: fm.Bank
) -> _Sides:
    """(a) each eroded check hash against every stored hash (eroded ones too); (b) every
    old check hash against the eroded stored hashes."""
    n = len(images)
    # A report stores it unless it repeats one of its stored hashes (``_unique_parts``).
    stores = [
        e is not None and bool(storable[i]) and e not in images[i]["stored"]  # type: ignore[operator]
        for i, e in enumerate(eroded)
    ]
    sends = [e is not None and e not in images[i]["check"] for i, e in enumerate(eroded)]  # type: ignore[operator]
    e_check = np.array([i for i in range(n) if sends[i]], np.int64)
    e_store = np.array([i for i in range(n) if stores[i]], np.int64)
    e_check_bits = fm._bits([str(eroded[i]) for i in e_check])
    e_store_bits = fm._bits([str(eroded[i]) for i in e_store])
    all_stored = np.concatenate([bank.stored, e_store_bits])
    all_owner = np.concatenate([bank.stored_owner, e_store])
    new_a = _pairs(e_check_bits, e_check, all_stored, all_owner)
    new_b = _pairs(bank.checked, bank.checked_owner, e_store_bits, e_store)
    return _Sides(stores, sends, e_check, e_store, e_check_bits, e_store_bits, new_a, new_b)


def _added(
    before: dict[tuple[int, int], int], *found: np.ndarray
) -> tuple[dict[tuple[int, int], int], list[tuple[int, int, int]]]:
    """Each pair's distance with the new pairs ``found``, and ``(d, i, j)`` of the pairs
    they bring within the threshold that were not."""
    after = dict(before)
    for i, j, d in np.concatenate(found).tolist():
        if d < after.get((i, j), 257):
            after[(i, j)] = d
    added = sorted(
        (d, i, j)
        for (i, j), d in after.items()
        if d <= fm.THRESHOLD and before.get((i, j), 257) > fm.THRESHOLD
    )
    return after, added


def floored(scored: list[tuple[str, int] | None], floor: int) -> list[str | None]:
    """The eroded hashes a plan with the quality floor ``floor`` on them keeps (None:
    dropped, or under the plan's own floor already)."""
    return [None if e is None or e[1] < floor else e[0] for e in scored]


def _at_floor(
    images: list[dict[str, object]],
    scored: list[tuple[str, int] | None],
    storable: np.ndarray,
    bank: fm.Bank,
    before: dict[tuple[int, int], int],
    verdicts: dict[tuple[str, str], str],
    floor: int,
) -> dict[str, object]:
    """The added matches with the eroded hashes under PDQ quality ``floor`` dropped."""
    eroded = floored(scored, floor)
    sides = _sides(images, eroded, storable, bank)
    after, added = _added(before, sides.new_a, sides.new_b)
    sha = [str(r["sha256"]) for r in images]
    false = [(d, i, j) for d, i, j in added if verdicts.get((sha[i], sha[j])) != "copy"]
    new_images = [
        {
            **r,
            "stored": [*r["stored"], eroded[i]] if sides.stores[i] else r["stored"],  # type: ignore[misc]
            "check": [*r["check"], eroded[i]] if sides.sends[i] else r["check"],  # type: ignore[misc]
        }
        for i, r in enumerate(images)
    ]
    pairs = np.array([(i, j, d) for (i, j), d in after.items()], np.int64)
    est = fm._estimates(new_images, storable, pairs, verdicts)
    families: dict[str, int] = {}
    for _, i, _ in false:
        families[str(images[i]["family"])] = families.get(str(images[i]["family"]), 0) + 1
    return {
        "eroded hashes": sum(e is not None for e in eroded),
        "added matches": len(added),
        "added false matches": len(false),
        "added false, by the check image's family": families,
        "added false, check images": len({i for _, i, _ in false}),
        "false matches after": est["false matches"],
        "extrapolation after": est["extrapolation"],
    }


def _min_per_pair(pairs: np.ndarray) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for i, j, d in pairs.tolist():
        if d < out.get((i, j), 257):
            out[(i, j)] = d
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--floors",
        type=lambda v: [int(f) for f in v.split(",") if f],
        default=[40, 50, 60, 70, 80],
        help="eroded-hash quality floors to count the added matches at (comma-separated)",
    )
    args = parser.parse_args()

    # The set as ``false_matches.analyse`` counts it.
    images, _ = fm.current_images()
    t = time.monotonic()
    old = fm.Bank.of(images).pairs_within(RADIUS)
    print(f"old range search: {time.monotonic() - t:.0f} s, {len(old)} pairs", flush=True)
    near = fm.near_duplicates(images, old)
    keep = np.array([n not in near for n in range(len(images))])
    renumber = np.cumsum(keep) - 1
    old = old[keep[old[:, 0]] & keep[old[:, 1]]]
    old[:, 0], old[:, 1] = renumber[old[:, 0]], renumber[old[:, 1]]
    images = [r for n, r in enumerate(images) if n not in near]
    quality = fm.qualities(images)
    storable = np.array([quality[str(r["sha256"])] >= fm.REPORT_MIN_QUALITY for r in images])
    old = old[storable[old[:, 1]]]
    n = len(images)
    print(f"{n} images, {int(storable.sum())} banked", flush=True)

    found = eroded_hashes(images, args.processes)
    scored = [found[str(r["sha256"])] for r in images]
    eroded = [None if e is None else e[0] for e in scored]
    bank = fm.Bank.of(images, storable)
    t = time.monotonic()
    sides = _sides(images, eroded, storable, bank)
    stores, sends = sides.stores, sides.sends
    e_check, e_store = sides.e_check, sides.e_store
    e_check_bits, e_store_bits = sides.e_check_bits, sides.e_store_bits
    all_stored = np.concatenate([bank.stored, e_store_bits])
    all_owner = np.concatenate([bank.stored_owner, e_store])
    new_a, new_b = sides.new_a, sides.new_b
    print(f"eroded searches: {time.monotonic() - t:.0f} s", flush=True)
    before = _min_per_pair(old)
    after, added = _added(before, new_a, new_b)
    new_pairs = {(i, j) for _, i, j in added}
    by_way = {
        f"{way}: eroded {side} hash": len(
            {(i, j) for i, j, d in found_pairs.tolist() if d <= fm.THRESHOLD} & new_pairs
        )
        for way, side, found_pairs in (("a", "check", new_a), ("b", "stored", new_b))
    }
    closest_check = _closest(e_check_bits, e_check, all_stored, all_owner)
    all_checked = np.concatenate([bank.checked, e_check_bits])
    all_c_owner = np.concatenate([bank.checked_owner, e_check])
    closest_store = _closest(e_store_bits, e_store, all_checked, all_c_owner)

    # The extrapolation of ``false_matches.analyse`` on the pair distances with the
    # eroded hash (old pairs at their old distance, or closer through it).
    new_images = [
        {
            **r,
            "stored": [*r["stored"], eroded[i]] if stores[i] else r["stored"],  # type: ignore[misc]
            "check": [*r["check"], eroded[i]] if sends[i] else r["check"],  # type: ignore[misc]
        }
        for i, r in enumerate(images)
    ]
    pairs_after = np.array([(i, j, d) for (i, j), d in after.items()], np.int64)
    verdicts = fm.review()  # the added matches too, looked at by eye
    est_before = fm._estimates(images, storable, old, verdicts)
    est_after = fm._estimates(new_images, storable, pairs_after, verdicts)
    family = [str(r["family"]) for r in images]
    result = {
        "images": n,
        "eroded hashes": sum(e is not None for e in eroded),
        "eroded under the quality floor": sum(e is None for e in eroded),
        "eroded stored (new)": len(e_store),
        "eroded sent (new)": len(e_check),
        "matches before": len(est_before["_matches"]),  # type: ignore[arg-type]
        "false matches before": est_before["false matches"],
        "added matches": [
            {
                "d": d,
                "check": f"{images[i]['source']}:{images[i]['path']}",
                "stored": f"{images[j]['source']}:{images[j]['path']}",
                "families": f"{family[i]}/{family[j]}",
                "key": f"{images[i]['sha256']}:{images[j]['sha256']}",
                "verdict": verdicts.get(
                    (str(images[i]["sha256"]), str(images[j]["sha256"])), "not reviewed"
                ),
            }
            for d, i, j in added
        ],
        "added by way": by_way,
        "false matches after": est_after["false matches"],
        "closest unrelated, eroded check hash": _stats(closest_check),
        "closest unrelated, eroded stored hash": _stats(closest_store),
        "extrapolation before": est_before["extrapolation"],
        "extrapolation after": est_after["extrapolation"],
        "extrapolation after, across sources": est_after["extrapolation, across sources"],
    }
    result["per floor"] = {
        str(floor): _at_floor(images, scored, storable, bank, before, verdicts, floor)
        for floor in args.floors
    }
    (fm.CACHE / "result-eroded.json").write_text(json.dumps(result, indent=1))
    fm._match_sheets(added, images, NEW_MATCHES)  # numbered as in result-eroded.json
    print(json.dumps(result, indent=1))


def _stats(closest: np.ndarray) -> dict[str, float]:
    return {
        "median": float(np.median(closest)),
        "p1": float(np.percentile(closest, 1)),
        "min": int(closest.min()),
        "<= 31": int((closest <= fm.THRESHOLD).sum()),
    }


if __name__ == "__main__":
    main()
