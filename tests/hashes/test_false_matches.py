"""benchmarks/false_matches.py: the faiss searches give the exact closest pairs, the
extrapolation does what its docstring says, the member rule and the manifest."""

from __future__ import annotations

import csv

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from benchmarks._matching import min_distances
from benchmarks.false_matches import (
    BANK,
    MANIFEST,
    SOURCES,
    THRESHOLD,
    Bank,
    _hash,
    extrapolate,
    first_per_folder,
    floored,
    kept,
    near_duplicates,
)
from benchmarks.photo_set import EXCLUDED


def _near(rng: np.random.Generator, base: str, flips: int) -> str:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(base), np.uint8))
    bits[rng.choice(256, flips, replace=False)] ^= 1
    return np.packbits(bits).tobytes().hex()


@st.composite
def _images(draw: st.DrawFn) -> list[dict[str, object]]:
    """A few images whose hashes are random or near one another (so matches occur)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = [rng.bytes(32).hex() for _ in range(3)]
    out: list[dict[str, object]] = []
    for n in range(draw(st.integers(2, 6))):

        def group(k: int) -> list[str]:
            return [
                _near(rng, base[int(rng.integers(3))], int(rng.integers(0, 70))) for _ in range(k)
            ]

        out.append(
            {
                "source": "ab"[n % 2],
                "check": group(int(rng.integers(1, 4))),
                "stored": group(int(rng.integers(1, 6))),
            }
        )
    return out


@settings(max_examples=40, deadline=None)
@given(_images())
def test_faiss_searches_give_the_closest_pair_of_every_two_images(
    images: list[dict[str, object]],
) -> None:
    exact = min_distances([r["check"] for r in images], [r["stored"] for r in images])  # type: ignore[misc]
    n = len(images)
    bank = Bank.of(images)
    closest = bank.closest_unrelated()
    for i in range(n):
        assert closest[i] == min(exact[i, j] for j in range(n) if j != i)
    radius = 60
    found = {(i, j): d for i, j, d in bank.pairs_within(radius).tolist()}
    expected = {
        (i, j): int(exact[i, j])
        for i in range(n)
        for j in range(n)
        if i != j and exact[i, j] <= radius
    }
    assert found == expected
    dropped = near_duplicates(images, bank.pairs_within(THRESHOLD))
    for later in dropped:  # each dropped image matches an earlier one of its own source
        assert any(
            min(exact[later, e], exact[e, later]) <= THRESHOLD
            and images[e]["source"] == images[later]["source"]
            for e in range(later)
        )


def test_the_extrapolation_scales_the_pair_rate_to_the_bank() -> None:
    # pairs whose share at <= d grows tenfold every 10 bits from 40 pairs at 34 bits
    cumulative = np.round(40 * 10 ** (0.1 * (np.arange(34, 61) - 34))).astype(int)
    pair_min = np.repeat(np.arange(34, 61), np.diff(cumulative, prepend=0))
    pairs = 1000 * 999
    out = extrapolate(pair_min, 1000, 45.0)
    assert out["matched pairs"] == 0
    assert out["fit from"] == 34
    assert abs(out["F(31) fitted"] / (40 * 10**-0.3 / pairs) - 1) < 0.05
    assert out["F(31) measured"] == 3 / pairs
    m = BANK / 45.0
    assert abs(out["P bound"] / (1 - (1 - 3 / pairs) ** m) - 1) < 1e-9
    assert abs(out["P fitted"] / (1 - (1 - out["F(31) fitted"]) ** m) - 1) < 1e-9
    more = extrapolate(np.concatenate([pair_min, [30, 28]]), 1000, 45.0)
    assert more["matched pairs"] == 2
    assert more["F(31) measured"] == 2 / pairs


def test_member_rule_drops_maps_icons_and_the_held_out_packages() -> None:
    for source in SOURCES:
        assert not any(x in source.package for x in EXCLUDED)
    nexuiz = next(s for s in SOURCES if s.name == "nexuiz")
    pk3 = "usr/share/games/nexuiz/data/textures.pk3:textures/"
    assert nexuiz.wanted(f"{pk3}rock/rock01.jpg")
    assert not nexuiz.wanted(f"{pk3}rock/rock01_norm.tga")
    assert not nexuiz.wanted(f"{pk3}rock/rock01_gloss.tga")
    assert not nexuiz.wanted(f"{pk3}gui/button.tga")
    oad = next(s for s in SOURCES if s.name == "0ad")
    zipped = "usr/share/games/0ad/mods/public/public.zip:art/textures/terrain/types/"
    assert oad.wanted(f"{zipped}grass_02.png.cached.dds")
    assert not oad.wanted(f"{zipped}mud_flats_spec.png.cached.dds")


def test_the_new_sources_take_textures_and_renders_not_masks_or_interface_art() -> None:
    by = {s.name: s for s in SOURCES}
    scorched = "usr/share/games/scorched3d/data/globalmods/none/data/"
    assert by["scorched3d"].wanted(f"{scorched}landscapes/sand.bmp")
    assert by["scorched3d"].wanted(f"{scorched}textures/landscape/default/grass.bmp")
    assert not by["scorched3d"].wanted(f"{scorched}windows/help.bmp")
    assert not by["scorched3d"].wanted(f"{scorched}textures/masks/sand.bmp")
    red = "usr/share/games/redeclipse/data/"
    assert by["redeclipse"].wanted(f"{red}trak/trak5/floor1.jpg")
    assert not by["redeclipse"].wanted(f"{red}crosshairs/cross.png")
    assert not by["redeclipse"].wanted(f"{red}torley/metal_nm.png")
    skins = "usr/share/games/0ad/mods/public/public.zip:art/textures/skins/"
    assert by["0ad-skins"].wanted(f"{skins}structural/hele_struct.png.cached.dds")
    assert not by["0ad-skins"].wanted(f"{skins}structural/hele_struct_spec.png.cached.dds")
    assert not by["0ad-skins"].wanted(f"{skins}structural/hele_struct_norm.png")
    assert not by["0ad-skins"].wanted(f"{skins}structural/ao/iber_corral_02.png.cached.dds")
    assert not by["redeclipse"].wanted(f"{red}unnamed/door02/norm.png")
    assert not by["redeclipse"].wanted(f"{red}nieb/filing_cab1/spec.png")
    assert by["redeclipse"].wanted(f"{red}nieb/filing_cab1/diffuse.png")
    land = "usr/share/games/endless-sky/images/land/"
    assert by["endless-sky-land"].family == "photos"
    assert by["endless-sky-land"].wanted(f"{land}badlands0.jpg")


def test_the_floor_the_analysis_applies_is_the_checks() -> None:
    """``floored`` (from the qualities ``select`` records) gives what a check at that
    floor sends: the benchmark measures the service's code, not a copy of it."""
    from dataclasses import replace

    from hashes._pdq import pdq_with_quality
    from hashes._variants import DENSITIES, check_variants, work_pixels
    from tests.hashes._images import encode, synthetic

    for seed, flat in ((1, 0.0), (2, 0.8), (5, 0.9)):
        img = synthetic(seed)
        arr = np.asarray(img).copy()
        cut = int(arr.shape[0] * flat)
        arr[:cut] = 40  # a plain band: low-quality windows
        img = Image.fromarray(arr)
        reason, row = _hash(encode(img))
        assert reason is None
        pdq, _ = pdq_with_quality(np.asarray(img))
        for floor in (0, 60, 80):
            plan = replace(DENSITIES["default"], check_min_quality=floor)
            expected = list(check_variants(pdq, work_pixels(img), plan))
            assert floored([row], floor)[0]["check"] == expected


def test_the_manifest_lists_every_source_once_with_a_digest() -> None:
    with MANIFEST.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["source"] for r in rows] == sorted(
        {r["source"] for r in rows}, key=[r["source"] for r in rows].index
    )
    names = {"photo-set"} | {s.name for s in SOURCES}
    assert {r["source"] for r in rows} <= names
    assert sum(int(r["images"]) for r in rows) >= 5000
    for r in rows:
        assert len(r["sha256"]) == 64 and int(r["sha256"], 16) >= 0


def _row(source: str, path: str, sha: str, reason: str | None) -> dict[str, object]:
    row: dict[str, object] = {"source": source, "path": path, "sha256": sha, "reason": reason}
    if reason is None:
        row.update({"w": 200, "h": 200, "q": 100, "check": [sha * 1], "stored": [sha * 1]})
    return row


def _keyed(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {f"{r['source']}\t{r['path']}": r for r in rows}


def test_the_kept_set_depends_on_the_current_sources_rows_alone() -> None:
    """An old cache hashed a checksum first for a source since dropped and marked the
    current source's copy "duplicate": the set keeps that copy, as a fresh rebuild
    (which never met the dropped source) does, and keeps each checksum once, the first
    in (source, path) order whatever order the rows were written in."""
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    nexuiz, ufoai = "nexuiz", "ufoai"
    old_cache = [
        _row("dropped-source", "x.png", a, None),
        _row(ufoai, "0textures.pk3:textures/z.jpg", b, None),
        _row(nexuiz, "textures.pk3:textures/a.jpg", a, "duplicate"),
        _row(nexuiz, "textures.pk3:textures/b.jpg", b, "duplicate"),
        _row(nexuiz, "textures.pk3:textures/c.jpg", c, "transparent"),
    ]
    fresh = [
        _row(nexuiz, "textures.pk3:textures/a.jpg", a, None),
        _row(nexuiz, "textures.pk3:textures/b.jpg", b, None),
        _row(nexuiz, "textures.pk3:textures/c.jpg", c, "transparent"),
        _row(ufoai, "0textures.pk3:textures/z.jpg", b, None),
    ]
    from_old, dup_old = kept(_keyed(old_cache))
    from_fresh, dup_fresh = kept(_keyed(fresh))
    picked = [(r["source"], r["path"], r["sha256"]) for r in from_fresh]
    assert [(r["source"], r["path"], r["sha256"]) for r in from_old] == picked
    assert picked == [
        (nexuiz, "textures.pk3:textures/a.jpg", a),
        (nexuiz, "textures.pk3:textures/b.jpg", b),
    ]
    assert dup_old == dup_fresh == 1
    assert from_old[0]["stored"] == [a] and from_old[0]["reason"] is None
    assert kept(_keyed(list(reversed(fresh))))[0] == from_fresh
    # a row the member rule no longer wants (a map left by an older rule) is not kept
    normal_map = _row(nexuiz, "textures.pk3:textures/d_norm.jpg", "d" * 64, None)
    assert kept(_keyed([*fresh, normal_map]))[0] == from_fresh


def test_a_clip_gives_its_first_frame_only() -> None:
    """Frames of a video and turns of a model count once (issue 23: a clip contributes
    at most one frame): ``select`` reads, and ``kept`` keeps, the first file of each
    folder of such a source, whatever else the cache holds."""
    paths = ["a/seq/0002.pgm", "a/seq/0001.pgm", "a/other/x.png", "a/seq/sub/1.png"]
    assert first_per_folder(paths) == {"a/seq/0001.pgm", "a/other/x.png", "a/seq/sub/1.png"}
    assert first_per_folder(["d.pk3:m/a.jpg", "d.pk3:m/b.jpg"]) == {"d.pk3:m/a.jpg"}
    visp = next(s for s in SOURCES if s.name == "visp")
    assert visp.one_per_folder
    root = "usr/share/visp-images-data/ViSP-images/"
    rows = [
        _row("visp", f"{root}mire-2/image.{n:04d}.pgm", f"{n:064x}", None) for n in range(1, 5)
    ] + [_row("visp", f"{root}cube/image.0001.pgm", "f" * 64, None)]
    images, _ = kept(_keyed(rows))
    assert sorted(str(r["path"]) for r in images) == [
        f"{root}cube/image.0001.pgm",
        f"{root}mire-2/image.0001.pgm",
    ]
    nexuiz = next(s for s in SOURCES if s.name == "nexuiz")
    assert not nexuiz.one_per_folder  # a texture folder is no clip
    freedroid = next(s for s in SOURCES if s.name == "freedroidrpg")
    turns = "usr/share/freedroidrpg/data/graphics/droids/123/portrait_"
    assert freedroid.wanted(f"{turns}0001.jpg")
    assert not freedroid.wanted(f"{turns}0002.jpg")


def test_the_eroded_hash_the_benchmark_adds_is_the_plans() -> None:
    """``false_matches_eroded.eroded_of`` is the eroded hash a check sends and a report
    stores (the default plan), or none where the plan has none (a plain picture);
    ``eroded_scored`` adds its PDQ quality as the check scored it."""
    from benchmarks.false_matches_eroded import eroded_of, eroded_scored
    from hashes._pdq import pdq_with_quality
    from hashes._variants import (
        DENSITIES,
        check_parts,
        scored_check_variants,
        stored_parts,
        work_pixels,
    )
    from tests.hashes._images import synthetic

    plan = DENSITIES["default"]
    plain = Image.new("RGB", (300, 200), (90, 90, 90))
    for img in (synthetic(3), synthetic(8), plain):
        pdq, _ = pdq_with_quality(np.asarray(img))
        work = work_pixels(img)
        sent = [h for kind, h in check_parts(pdq, work, plan) if kind == "eroded"]
        stored = [h for kind, h in stored_parts(pdq, work, plan) if kind == "eroded"]
        found = eroded_of(img)
        assert sent == ([] if found is None else [found])
        assert stored == sent
        # its quality, as the plan scored it (what the floors of the benchmark drop by)
        kinds = [kind for kind, _ in check_parts(pdq, work, plan)]
        qualities = [q for _, q in scored_check_variants(pdq, work, plan)]
        scored = eroded_scored(img)
        assert scored == (None if found is None else (found, qualities[kinds.index("eroded")]))
    assert eroded_of(plain) is None
    assert eroded_of(synthetic(3)) is not None


@settings(max_examples=30, deadline=None)
@given(_images())
def test_the_eroded_searches_find_every_pair_within_the_radius(
    images: list[dict[str, object]],
) -> None:
    """``_pairs`` (a faiss range search) gives every (query image, other image, distance)
    within ``RADIUS`` that a brute-force comparison gives, and none of one image with
    itself."""
    from benchmarks.false_matches import _bits
    from benchmarks.false_matches_eroded import RADIUS, _pairs

    q = [(i, h) for i, r in enumerate(images) for h in r["check"]]  # type: ignore[attr-defined]
    b = [(i, h) for i, r in enumerate(images) for h in r["stored"]]  # type: ignore[attr-defined]
    found = _pairs(
        _bits([h for _, h in q]),
        np.array([i for i, _ in q]),
        _bits([h for _, h in b]),
        np.array([i for i, _ in b]),
    )
    expected = set()
    for i, hq in q:
        for j, hb in b:
            d = bin(int(hq, 16) ^ int(hb, 16)).count("1")
            if i != j and d <= RADIUS:
                expected.add((i, j, d))
    assert {tuple(row) for row in found.tolist()} == expected


@settings(max_examples=30, deadline=None)
@given(_images(), st.integers(0, 2**32 - 1), st.integers(30, 101))
def test_the_eroded_hashes_floored_add_exactly_the_pairs_they_bring_within_31(
    images: list[dict[str, object]], seed: int, floor: int
) -> None:
    """At a quality floor on the eroded hashes, ``_sides`` + ``_added`` give exactly the
    pairs of different images, never within 31 bits before, that some kept eroded hash
    brings within 31 (an eroded check hash against the other's stored or eroded stored
    hashes, or a check hash against its eroded stored hash; an image that stores nothing
    stores no eroded hash either), and a higher floor only removes pairs."""
    from benchmarks.false_matches import THRESHOLD, Bank
    from benchmarks.false_matches_eroded import _added, _min_per_pair, _sides, floored

    rng = np.random.default_rng(seed)
    pool = [h for r in images for h in [*r["check"], *r["stored"]]]  # type: ignore[misc]
    scored: list[tuple[str, int] | None] = [
        None
        if rng.random() < 0.2
        else (_near(rng, str(rng.choice(pool)), int(rng.integers(0, 40))), int(q))
        for q in rng.integers(40, 101, len(images))
    ]
    storable = rng.random(len(images)) < 0.8
    bank = Bank.of(images, storable)
    before = _min_per_pair(bank.pairs_within(60))

    def dist(a: str, b: str) -> int:
        return bin(int(a, 16) ^ int(b, 16)).count("1")

    def added_at(f: int) -> set[tuple[int, int]]:
        eroded = floored(scored, f)
        sides = _sides(images, eroded, storable, bank)
        return {(i, j) for _, i, j in _added(before, sides.new_a, sides.new_b)[1]}

    eroded = floored(scored, floor)
    expected = set()
    for i, a in enumerate(images):
        for j, b in enumerate(images):
            if i == j or not storable[j]:
                continue
            old = min(dist(x, y) for x in a["check"] for y in b["stored"])  # type: ignore[attr-defined]
            checks = [*a["check"], *([eroded[i]] if eroded[i] else [])]  # type: ignore[misc]
            stored = [*b["stored"], *([eroded[j]] if eroded[j] else [])]  # type: ignore[misc]
            new = min(dist(x, y) for x in checks for y in stored)
            if old > THRESHOLD and new <= THRESHOLD:
                expected.add((i, j))
    assert added_at(floor) == expected
    assert added_at(floor + 10) <= expected
    assert added_at(102) == set()
