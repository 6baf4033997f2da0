"""False matches at the size of a real bank (issue 23, item 3).

Every image of a large set of real, unrelated images is stored as a report stores it
(``pdq_stored``: hashbank's default stored variants) and checked as a check checks it
(``pdq_variants``) against every *other* image's stored hashes. Reported: the checks
that land within PDQ 31 bits of another image, the distribution of each check's closest
unrelated distance (histogram in ``docs/false_matches.png``), and the false-match
probability per check extrapolated to a 10M-hash bank (method: :func:`extrapolate`).

Usage::

    .venv/bin/python benchmarks/false_matches.py select   # pick, hash (resumable), list
    .venv/bin/python benchmarks/false_matches.py fetch    # rebuild the listed set, check it
    .venv/bin/python benchmarks/false_matches.py analyse  # numbers, histogram, matches

The images come from Debian packages (``apt-get download PACKAGE=VERSION``,
``dpkg-deb -x``, files inside ``.pk3``/``.zip``/``.wz`` archives read in place; two
sources, ``sauerbraten`` and ``alien-arena-data``, are in Debian's ``non-free``
component, which apt's sources must list) and from the wider photo set
(``photo_set.py``). They are written, one file per image named by the
first 16 hex digits of its SHA-256, to ``$HASHBANK_FM_CACHE`` (default
``~/.cache/hashbank/false-matches``) with their hashes (``hashes.jsonl``, appended one
image at a time, so an interrupted ``select`` resumes where it stopped). The repository
keeps a compact manifest, ``benchmarks/false_matches.tsv``: per source the package,
version, member pattern, the number of images and the SHA-256 of their sorted SHA-256
list; a ``fetch`` fails when either differs.

Which files are taken: those of each source's member pattern (photographs, and the
photographic *textures* of games: terrain, walls, rock, wood, skies; never normal,
gloss, specular, glow or mask maps, icons, sprites or interface art), then the rules of
``photo_set.py`` (:func:`photo_set.rejection`): decodes, shorter side >= 128 px, no
transparent pixel, >= 64 grey levels in its 128 px grey thumbnail. A source whose folders
are clips (frames of a camera sequence, turns of a rendered model) gives the first file
of each folder only (``Source.one_per_folder``). Exact duplicates
(same SHA-256) are kept once over the whole set; near-duplicates within one source
(hashbank's check of one within 31 bits of the other's stored hashes: a texture and
its recoloured variant, two encodings of one file) are dropped at analysis, the later
one in the source's order. A match left between two sources is looked at by eye
(``analyse`` writes the pairs side by side to ``$HASHBANK_FM_CACHE/matches/``).

Packages kept for independent evaluation (``photo_set.EXCLUDED``) are never read.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import photo_set
from benchmarks.photo_set import EXCLUDED, image_rejection

REPO = Path(__file__).resolve().parents[1]
MANIFEST = Path(__file__).resolve().with_name("false_matches.tsv")
CACHE = Path(
    os.environ.get("HASHBANK_FM_CACHE", Path.home() / ".cache" / "hashbank" / "false-matches")
)
HASHES = CACHE / "hashes-2.jsonl"
"""The hashes of the current plan (``hashes.jsonl``: those of the plan before the frame
windows; its rejections, which no plan changes, are carried over)."""
_OLD_HASHES = CACHE / "hashes.jsonl"
HISTOGRAM = REPO / "docs" / "false_matches.png"
THRESHOLD = 31
REPORT_MIN_QUALITY = 50
"""The service refuses reports under this PDQ quality (``Settings.min_pdq_quality``)."""
BANK = 10_000_000

_SUFFIXES = (".jpg", ".jpeg", ".png", ".tga", ".dds", ".bmp", ".webp", ".pgm", ".ppm")
_PASSED_AS_IS = {"JPEG", "PNG", "WEBP"}
_MAPS = re.compile(
    r"(_(n|nm|norm|normal|normals|bump|ddn|gloss|glow|g|s|sm|spec|specular|h|height|luma|"
    r"mask|alpha|a|shirt|pants|reflect|ref|disp|occ|ao|local|emission|em|light|lm|"
    r"rough|metal|hm|nrm|nor|d2)|normalmap|_bumpmap|heightmap|lightmap|"
    r"/(norm|normal|spec|specular|gloss|glow|mask|bump|height|ao|occ|disp))"
    r"\.[a-z]+(\.cached\.dds)?$",
    re.IGNORECASE,
)
"""File names of maps that are no picture (normals, gloss, specular, glow, masks...)."""
_NOT_PHOTOS = re.compile(
    r"/(icons?|gui|ui|hud|fonts?|cursors?|editor|skins?/cartoon|particles?|sprites?|"
    r"selection|logos?|screenshots?|doc|help|splash|menu|loading|portraits?|gfx/2d|"
    r"pics|lang|flags?|decals?|effects?|fx|crosshairs?|levelshots|ao|masks?)/",
    re.IGNORECASE,
)
"""Folders of interface art, icons and sprites, in any package."""


@dataclass(frozen=True)
class Source:
    """A Debian package and the pattern of its members that are taken."""

    name: str
    family: str
    package: str
    version: str
    pattern: str
    one_per_folder: bool = False
    """The folders are clips (frames of a video, turns of a model): only the first wanted
    file of each is taken (:func:`first_per_folder`)."""

    def wanted(self, path: str) -> bool:
        low = path.lower()
        return (
            re.search(self.pattern, path) is not None
            and low.endswith(_SUFFIXES)
            and _MAPS.search(low) is None
            and _NOT_PHOTOS.search("/" + low) is None
        )


SOURCES = (
    Source(
        "scratch", "photos", "scratch", "1.4.0.6~dfsg1-6.1",
        r"Media/Backgrounds/(Outdoors|Nature|Indoors|Sports)/.*\.jpg$",
    ),
    Source("kalzium", "photos", "kalzium-data", "4:22.12.3-1", r"kalzium/data/toolpics/"),
    Source(
        "0ad", "textures", "0ad-data", "0.0.26-1",
        r"public\.zip:art/textures/(terrain|skies)/",
    ),
    Source(
        "flightgear", "textures", "flightgear-data-base", "1:2020.3.16+dfsg-1",
        r"flightgear/(Textures/(Terrain|Runway|Sky|Buildings)|Scenery/Models|Models)/",
    ),
    Source(
        "nexuiz", "textures", "nexuiz-textures", "2.5.2-12", r"textures\.pk3:textures/",
    ),
    Source(
        "openarena", "textures", "openarena-081-textures", "0.8.5split-14",
        r"pak4-textures\.pk3:textures/",
    ),
    Source("ufoai", "textures", "ufoai-textures", "2.5-2", r"0textures\.pk3:textures/"),
    Source("torcs", "textures", "torcs-data", "1.3.7+dfsg-5", r"torcs/(tracks|data/textures)/"),
    Source(
        "supertuxkart", "textures", "supertuxkart-data", "1.4+dfsg-2",
        r"supertuxkart/data/(textures|tracks)/",
    ),
    Source("megaglest", "textures", "megaglest-data", "3.13.0-3", r"megaglest/tilesets/"),
    Source(
        "extremetuxracer", "textures", "extremetuxracer-data", "0.8.2-1",
        r"etr/(terrains|textures|env)/",
    ),
    # Issue 23, second pass: the packages downloaded but not read, and more.
    Source(
        "endless-sky-land", "photos", "endless-sky-data", "0.9.8-1.2",
        r"endless-sky/images/land/",
    ),
    Source(
        "redeclipse", "textures", "redeclipse-data", "1.6.0-1",
        r"redeclipse/data/(wicked|trak|philipk|unnamed|torley|jojo|nieb|luckystrike|"
        r"elyvisions|dziq|mayhem|freezurbern|mikeplus64|skyboxes|textures)/",
    ),
    Source("cube2", "textures", "cube2-data", "1.3-1", r"cube2/packages/"),
    Source(
        "flightgear-models", "textures", "flightgear-data-models", "1:2020.3.16+dfsg-1",
        r"flightgear/Models/",
    ),
    Source(
        "flightgear-ai", "textures", "flightgear-data-ai", "1:2020.3.16+dfsg-1",
        r"flightgear/AI/",
    ),
    Source("berusky2", "textures", "berusky2-data", "0.12-2", r"berusky2/textures/"),
    Source(  # no file matched until the third pass: the data sits in globalmods/<mod>/data
        "scorched3d", "textures", "scorched3d-data", "44+dfsg-8",
        r"scorched3d/data/globalmods/[^/]+/data/(landscapes|textures|tanks|accessories|meshes)/",
    ),
    Source(
        "blobandconquer", "textures", "blobandconquer-data", "1.11-dfsg+20-2",
        r"blobAndConquer/textures/",
    ),
    Source("boswars", "textures", "boswars-data", "2.7+svn160110-5", r"boswars/patches/"),
    Source(
        "naev", "renders", "naev-data", "0.8.2-1", r"naev/dat/gfx/(planet|bkg)/",
    ),
    Source(
        "endless-sky-planets", "renders", "endless-sky-data", "0.9.8-1.2",
        r"endless-sky/images/planet/",
    ),
    Source(
        "freeorion", "renders", "freeorion-data", "0.4.10.2-1",
        r"freeorion/default/data/art/(planets/[^/]+|hulls_design/.*|nebulae/.*|"
        r"icons/specials_huge/.*|misc/.*)$",
    ),
    Source(
        "0ad-skins", "textures", "0ad-data", "0.0.26-1",
        r"public\.zip:art/textures/skins/(props|skeletal|structural|gaia)/",
    ),
    Source(
        "megaglest-units", "textures", "megaglest-data", "3.13.0-3",
        r"megaglest/techs/megapack/factions/",
    ),
    Source("ufoai-models", "textures", "ufoai-data", "2.5-2", r"0models\.pk3:models/"),
    Source(
        "flightgear-aircraft", "textures", "flightgear-data-base", "1:2020.3.16+dfsg-1",
        r"flightgear/(Aircraft|Textures/Terrain\.winter)/",
    ),
    Source(
        "supertuxkart-karts", "textures", "supertuxkart-data", "1.4+dfsg-2",
        r"supertuxkart/data/(karts|library|models)/",
    ),
    # Issue 23, third pass (the survey of Debian's image-carrying packages).
    Source(
        "trigger-rally-maps", "textures", "trigger-rally-data", "0.6.6.1-3",
        r"data\.zip:(maps/[^/]+/c\.jpg|textures/sky/)",
    ),
    Source(
        "trigger-rally-shots", "renders", "trigger-rally-data", "0.6.6.1-3",
        r"data\.zip:maps/[^/]+/ss\.jpg$",
    ),
    Source(  # one frame of each turning model (its 32-33 frames are a clip)
        "freedroidrpg", "renders", "freedroidrpg-data", "1.0-1",
        r"freedroidrpg/data/graphics/(droids|items)/.*/portrait_0001\.jpg$",
    ),
    Source("neverball", "renders", "neverball-data", "1.6.0+git20180603-3", r"games/neverball/"),
    Source("games-thumbnails", "screenshots", "games-thumbnails", "20221129", r"games/thumbnails/"),
    Source(  # image sequences of a camera: one frame per sequence
        "visp", "photos", "visp-images-data", "3.5.0-1", r"visp-images-data/ViSP-images/", True,
    ),
    Source(
        "marble-srtm", "textures", "marble-qt-data", "4:22.12.3-1",
        r"marble/data/maps/earth/(srtm|bluemarble|citylights|clouds|precip|temp|plain)",
    ),
    Source("pysiogame", "drawings", "pysiogame", "4.20.01-1", r"pysiogame/res/images/"),
    Source("warmux", "drawings", "warmux-data", "1:11.04.1+repack2-4", r"games/warmux/map/"),
    Source("fillets", "drawings", "fillets-ng-data", "1.0.1-1.1", r"games/fillets-ng/images/"),
    Source(
        "supertux", "drawings", "supertux-data", "0.6.3-2",
        r"supertux2/images/(background|tiles/background|worldmap)/",
    ),
    Source("assimp", "textures", "assimp-testmodels", "5.2.5~ds0-1", r"assimp/"),
    Source(
        "krita", "textures", "krita-data", "1:5.1.5+dfsg-2+deb12u1",
        r"krita/(patterns|paintoppresets)/",
    ),
    Source("darknet", "photos", "darknet", "0.0.0+git20180914.61c9d02e-2+b4", r"darknet/data/"),
    Source(  # portraits: photographs of paintings in their frames
        "freecol", "photos", "freecol", "1.0.0-1",
        r"freecol/default/resources/images/(foundingFathers|monarch|mercenaries)/",
    ),
    Source("pingus", "textures", "pingus-data", "0.7.6-5.1", r"pingus/data/images/textures/"),
    Source(
        "nexuiz-models", "textures", "nexuiz-data", "2.5.2-12",
        r"data\.pk3:(models|env)/|data\.pk3:maps/[^/]+\.jpg$",
    ),
    Source(
        "openarena-088", "textures", "openarena-088-data", "0.8.8-12",
        r"pak6-patch088\.pk3:textures/(?!sfx/|effects/)",
    ),
    Source("warzone2100", "textures", "warzone2100-data", "4.3.3-3", r"base\.wz:texpages/"),
    Source(  # the expected images of one of its three renderers (the others: the same models)
        "openscad", "renders", "openscad-testing-data", "2021.01-6",
        r"openscad/regression/opencsgtest/",
    ),
    Source("openclipart", "drawings", "openclipart-png", "1:0.18+dfsg-19", r"openclipart/png/"),
    # Debian's non-free component (``non-free`` in the apt sources): the full Sauerbraten
    # (cube2-data is its free part) and Alien Arena.
    Source(
        "sauerbraten", "textures", "sauerbraten", "0.0.20201227-1",
        r"sauerbraten/packages/(?!base/|caustics/)",
    ),
    Source(  # map previews
        "sauerbraten-shots", "renders", "sauerbraten", "0.0.20201227-1",
        r"sauerbraten/packages/base/",
    ),
    Source(
        "alien-arena", "textures", "alien-arena-data", "7.71.3+ds-1",
        r"alien-arena/data1/(textures|maps/meshes|models|env|players)/",
    ),
)  # fmt: skip
"""Read in this order; the wider photo set (``photo_set.tsv``) comes first."""
for _source in SOURCES:
    assert not any(x in _source.package for x in EXCLUDED), _source.package


def first_per_folder(paths: list[str]) -> set[str]:
    """The first path (in sorted order) of each folder (``archive:member`` paths: of the
    member's folder)."""
    first: dict[str, str] = {}
    for path in sorted(paths):
        first.setdefault(path.rsplit("/", 1)[0], path)
    return set(first.values())


def _files(source: Source) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """``(path, read)`` of every wanted member of the package, in a stable order; members
    of ``.pk3`` / ``.zip`` archives are named ``archive:member``."""
    files = _all_files(source)
    if not source.one_per_folder:
        yield from files
        return
    found = list(files)
    firsts = first_per_folder([path for path, _ in found])
    yield from ((path, read) for path, read in found if path in firsts)


def _all_files(source: Source) -> Iterator[tuple[str, Callable[[], bytes]]]:
    root = photo_set.extracted(source.package, source.version, CACHE)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        if path.suffix.lower() in (".pk3", ".zip", ".wz"):  # .wz: Warzone 2100's zips
            with zipfile.ZipFile(path) as zf:
                for name in sorted(zf.namelist()):
                    if source.wanted(f"{rel}:{name}"):
                        yield f"{rel}:{name}", lambda zf=zf, name=name: zf.read(name)
        elif source.wanted(rel):
            yield rel, path.read_bytes


def _photo_set() -> Iterator[tuple[str, Callable[[], bytes]]]:
    entries = photo_set.read_list()
    photo_set.fetch(entries)
    for e in entries:
        yield f"{e.package}/{e.file}", e.cached.read_bytes


def candidates() -> Iterator[tuple[str, str, str, Callable[[], bytes]]]:
    """``(source, family, path, read)`` of every candidate file, in the set's order."""
    for path, read in _photo_set():
        yield "photo-set", "photos", path, read
    for source in SOURCES:
        for path, read in _files(source):
            yield source.name, source.family, path, read


def _hash(data: bytes) -> tuple[str | None, dict[str, object]]:
    """The rules of ``photo_set.py`` and, for a kept image, what a check sends and a
    report stores: hashbank's own steps (``hashes.hash_bytes`` after its decoding: PDQ of
    the RGB pixels, ``check_variants`` and ``stored_variants`` of the default plan) on
    the picture decoded once by Pillow (TGA, DDS and PGM, formats a check refuses,
    included)."""
    from hashes._pdq import pdq_with_quality
    from hashes._variants import DENSITIES, scored_check_variants, stored_variants, work_pixels

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            image = ImageOps.exif_transpose(img)
    except Exception:  # any decoder error: not a picture we can use
        return "does not decode", {}
    reason = image_rejection(image)
    if reason is not None:
        return reason, {}
    if max(image.size) > 64 * min(image.size):
        return "extreme aspect ratio", {}
    rgb = image.convert("RGB")
    plan = DENSITIES["default"]
    pdq, quality = pdq_with_quality(np.asarray(rgb))
    work = work_pixels(rgb)
    scored = scored_check_variants(pdq, work, plan)
    return None, {
        "w": rgb.width,
        "h": rgb.height,
        "q": quality,
        "check": [h for h, _ in scored],
        "check_q": [q for _, q in scored],  # quality of each check window (pdq: None)
        "stored": list(stored_variants(pdq, work, plan)),
    }


def _hash_task(item: tuple[dict[str, object], bytes | None]) -> tuple[dict[str, object], object]:
    """``_hash`` in a worker process (``data`` None: nothing to hash)."""
    row, data = item
    return row, (None if data is None else _hash(data))


def _batched_map(pool, items):  # type: ignore[no-untyped-def]
    """``pool.map`` of :func:`_hash_task` over ``items`` 32 at a time (``imap`` would
    read every file ahead into memory)."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == 32:
            yield from pool.map(_hash_task, batch, chunksize=1)
            batch = []
    yield from pool.map(_hash_task, batch, chunksize=1)


def _carry_over_rejections() -> None:
    """Start ``HASHES`` with the old file's rejections (the photo rule's, plan-free)."""
    if HASHES.exists() or not _OLD_HASHES.exists():
        return
    with _OLD_HASHES.open(encoding="utf-8") as f, HASHES.open("w", encoding="utf-8") as out:
        for line in f:
            if line.endswith("\n") and json.loads(line)["reason"] not in (None, "duplicate"):
                out.write(line)


def _load_rows() -> dict[str, dict[str, object]]:
    _carry_over_rejections()
    if HASHES.exists():  # a line cut by an interruption: dropped, so appending is safe
        text = HASHES.read_bytes()
        if text and not text.endswith(b"\n"):
            HASHES.write_bytes(text[: text.rfind(b"\n") + 1])
    rows: dict[str, dict[str, object]] = {}
    if HASHES.exists():
        with HASHES.open(encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):  # a line cut by an interruption is redone
                    row = json.loads(line)
                    rows[f"{row['source']}\t{row['path']}"] = row
    return rows


def select(limit_minutes: float | None = None, write: bool = True, processes: int = 2) -> None:
    """Apply the rules to every candidate, hash the kept ones (resumable, in
    ``processes`` worker processes), write the manifest (or, ``write=False``, check the
    set against it)."""
    import multiprocessing

    import hashes

    hashes.warm_up()  # compiles the kernels
    rows = _load_rows()
    # Hash data by checksum, to reuse for a file met again. Which copy of a file the set
    # keeps is decided from the rows alone (``kept``), never from what this cache held
    # before: a checksum first hashed for a source since dropped is not "seen".
    hashed: dict[str, dict[str, object]] = {
        str(r["sha256"]): r for r in rows.values() if r.get("reason") is None
    }
    start = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)

    def todo() -> Iterator[tuple[dict[str, object], bytes | None]]:
        for source, family, path, read in candidates():
            if f"{source}\t{path}" in rows:
                continue
            if limit_minutes and time.monotonic() - start > 60 * limit_minutes:
                print("time limit reached; run again to go on")
                return
            data = read()
            sha = hashlib.sha256(data).hexdigest()
            row: dict[str, object] = {"source": source, "family": family, "path": path}
            row["sha256"] = sha
            row["_data"] = data
            yield row, (None if sha in hashed else data)

    n = 0
    with (
        multiprocessing.get_context("fork").Pool(processes) as pool,
        HASHES.open("a", encoding="utf-8") as out,
    ):
        for row, result in _batched_map(pool, todo()):
            data = row.pop("_data")
            assert isinstance(data, bytes)
            source, path, sha = str(row["source"]), str(row["path"]), str(row["sha256"])
            if result is None:
                if sha not in hashed:  # hashed twice in flight: the first one's
                    result = _hash(data)
                else:
                    result = None, {k: hashed[sha][k] for k in _HASH_FIELDS}
            reason, found = result  # type: ignore[misc]
            if reason is None:
                row.update(found)
                image = CACHE / "images" / source / f"{sha[:16]}{Path(path).suffix.lower()}"
                image.parent.mkdir(parents=True, exist_ok=True)
                image.write_bytes(data)
                hashed.setdefault(sha, row)
            row["reason"] = reason
            out.write(json.dumps(row) + "\n")
            out.flush()
            rows[f"{source}\t{path}"] = row
            n += 1
            if n % 200 == 0:
                kept_now = sum(1 for r in rows.values() if r["reason"] is None)
                rate = n / (time.monotonic() - start)
                print(f"{n} new rows ({rate:.1f}/s), {kept_now} hashed, at {source}", flush=True)
    if write:
        write_manifest(rows)
    else:
        check_manifest(rows)


QUALITY = CACHE / "quality.json"
REVIEW = Path(__file__).resolve().with_name("false_matches_review.tsv")


def review() -> dict[tuple[str, str], str]:
    """Every match looked at by eye: ``(check sha256, stored sha256) -> verdict``
    (``copy``: the same picture in two packages, maybe recoloured or re-encoded;
    ``different``: a false match)."""
    with REVIEW.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {(r["check_sha256"], r["stored_sha256"]): r["verdict"] for r in rows}


def qualities(images: list[dict[str, object]]) -> dict[str, int]:
    """PDQ quality of every image (rows hashed before it was recorded: from the cached
    file, once; kept in ``quality.json``)."""
    from hashes._pdq import pdq_with_quality

    known: dict[str, int] = json.loads(QUALITY.read_text()) if QUALITY.exists() else {}
    for r in images:
        if "q" in r:
            known[str(r["sha256"])] = int(r["q"])  # type: ignore[call-overload]
    missing = [r for r in images if str(r["sha256"]) not in known]
    for n, r in enumerate(missing):
        with Image.open(_cached(r)) as img:
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
        known[str(r["sha256"])] = pdq_with_quality(np.asarray(rgb))[1]
        if n % 500 == 499:
            QUALITY.write_text(json.dumps(known))
            print(f"quality: {n + 1} of {len(missing)}", flush=True)
    QUALITY.write_text(json.dumps(known))
    return known


_HASH_FIELDS = ("w", "h", "q", "check", "check_q", "stored")


def kept(rows: dict[str, dict[str, object]]) -> tuple[list[dict[str, object]], int]:
    """The set's images, decided from the rows of the current sources alone: every file
    the rules keep, in a fixed order (the sources' order, then by path), each checksum
    once (its first file in that order). Rows of sources since dropped play no part, so
    a fresh rebuild keeps the same files whatever an older cache held.

    Rows written before this rule marked a file met again ``"duplicate"`` (whichever was
    hashed first, possibly of a dropped source): such a row takes the hashes of a kept
    row of the same checksum, and its picture is read from that row's file (``file``).

    Returns:
        The images and the number of exact duplicates left out.
    """
    order = {name: n for n, name in enumerate(["photo-set", *(s.name for s in SOURCES)])}
    hashed = {str(r["sha256"]): r for r in rows.values() if r.get("reason") is None}
    by_name = {s.name: s for s in SOURCES}
    current = sorted(
        (
            r
            for r in rows.values()
            if r["source"] in order
            and (r["source"] not in by_name or by_name[str(r["source"])].wanted(str(r["path"])))
        ),
        key=lambda r: (order[str(r["source"])], str(r["path"])),
    )
    for source in SOURCES:  # clips: their first frame only
        if source.one_per_folder:
            firsts = first_per_folder(
                [str(r["path"]) for r in current if r["source"] == source.name]
            )
            current = [r for r in current if r["source"] != source.name or r["path"] in firsts]
    images: list[dict[str, object]] = []
    seen: set[str] = set()
    duplicates = 0
    for r in current:
        sha = str(r["sha256"])
        if r["reason"] is None:
            row = r
        elif r["reason"] == "duplicate" and sha in hashed:
            first = hashed[sha]
            row = {**r, **{k: first[k] for k in _HASH_FIELDS if k in first}, "reason": None}
            row["file"] = str(_cached(first).relative_to(CACHE / "images"))
        else:
            continue
        if sha in seen:
            duplicates += 1
            continue
        seen.add(sha)
        images.append(row)
    return images, duplicates


def _digest(shas: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest()


def _source_rows() -> list[tuple[str, str, str, str, str]]:
    out = [("photo-set", "photos", "(photo_set.tsv)", "", "(photo_set.tsv)")]
    for s in SOURCES:
        out.append((s.name, s.family, s.package, s.version, s.pattern))
    return out


def write_manifest(rows: dict[str, dict[str, object]]) -> None:
    built = _manifest_rows(rows)
    with MANIFEST.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(("source", "family", "package", "version", "pattern", "images", "sha256"))
        w.writerows(built)
    print(f"{sum(int(r[5]) for r in built)} images in {len(built)} sources -> {MANIFEST}")


def _bits(hexes: list[str]) -> np.ndarray:
    """Hex PDQ hashes as rows of 32 bytes, as faiss's binary indexes take them."""
    return np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(len(hexes), 32)


@dataclass
class Bank:
    """Every image's stored and checked hashes, as flat arrays with the owner's index."""

    images: list[dict[str, object]]
    stored: np.ndarray
    stored_owner: np.ndarray
    checked: np.ndarray
    checked_owner: np.ndarray

    @classmethod
    def of(cls, images: list[dict[str, object]], storable: np.ndarray | None = None) -> Bank:
        """``storable[i]`` False: image ``i`` stores nothing (the service refuses to bank
        it) but is still checked."""
        s = [
            list(r["stored"]) if storable is None or storable[i] else []  # type: ignore[call-overload]
            for i, r in enumerate(images)
        ]
        c = [list(r["check"]) for r in images]  # type: ignore[call-overload]
        return cls(
            images,
            _bits([h for g in s for h in g]),
            np.repeat(np.arange(len(images)), [len(g) for g in s]),
            _bits([h for g in c for h in g]),
            np.repeat(np.arange(len(images)), [len(g) for g in c]),
        )

    def index(self):  # type: ignore[no-untyped-def]
        import faiss

        index = faiss.IndexBinaryFlat(256)
        index.add(self.stored)
        return index

    def pairs_within(self, radius: int) -> np.ndarray:
        """Rows ``(check image, stored image, min distance)`` for every pair of different
        images with some check hash within ``radius`` bits of some stored hash."""
        lims, dist, ids = self.index().range_search(self.checked, radius + 1)
        q = np.repeat(np.arange(len(self.checked)), np.diff(lims.astype(np.int64)))
        a, b = self.checked_owner[q], self.stored_owner[ids]
        keep = a != b
        a, b, d = a[keep], b[keep], dist[keep].astype(np.int64)
        key = a * len(self.images) + b
        order = np.lexsort((d, key))
        first = np.ones(len(order), bool)
        first[1:] = key[order][1:] != key[order][:-1]
        pick = order[first]
        return np.stack([a[pick], b[pick], d[pick]], axis=1)

    def closest_unrelated(self, k: int = 64) -> np.ndarray:
        """Per image, the smallest distance between one of its check hashes and a stored
        hash of any other image (k nearest stored hashes per check hash; an image stores
        at most 48, so k = 64 always reaches past its own)."""
        dist, ids = self.index().search(self.checked, k)
        other = self.stored_owner[ids] != self.checked_owner[:, None]
        best = np.where(other, dist, 257).min(axis=1)
        out = np.full(len(self.images), 257, np.int64)
        np.minimum.at(out, self.checked_owner, best)
        return out


def current_images() -> tuple[list[dict[str, object]], dict[str, int]]:
    """The kept images of the current sources (:func:`kept`)."""
    images, duplicates = kept(_load_rows())
    return images, {"exact duplicate": duplicates}


SHARED_TEXTURES = {
    "nexuiz": "quake",
    "openarena": "quake",
    "ufoai": "quake",
    "redeclipse": "quake",
    "cube2": "quake",
    "flightgear-models": "flightgear",
    "flightgear-ai": "flightgear",
    "endless-sky-planets": "endless-sky",
    "endless-sky-land": "endless-sky",
    "0ad-skins": "0ad",
    "megaglest-units": "megaglest",
    "ufoai-models": "quake",
    "flightgear-aircraft": "flightgear",
    "supertuxkart-karts": "supertuxkart",
    "sauerbraten": "quake",
    "nexuiz-models": "quake",
    "openarena-088": "quake",
    "sauerbraten-shots": "quake",
    "alien-arena": "quake",
    "trigger-rally-maps": "trigger-rally",
    "trigger-rally-shots": "trigger-rally",
}
"""Sources deduplicated as one: Nexuiz, OpenArena and UFO:AI ship the same free texture
sets (a first run found 223 pairs of them at distance 0, the same texture each), and
Red Eclipse and Cube 2 (Sauerbraten) carry texture packs Nexuiz ships too (``trak``);
FlightGear's three packages share liveries and textures; the second folders of Endless
Sky, 0 A.D., MegaGlest and UFO:AI are grouped with their first."""


def _group(r: dict[str, object]) -> str:
    return SHARED_TEXTURES.get(str(r["source"]), str(r["source"]))


def near_duplicates(images: list[dict[str, object]], pairs: np.ndarray) -> set[int]:
    """Images matching (either way, <= 31 bits) an earlier image of their own source
    (or source group, :data:`SHARED_TEXTURES`)."""
    links: dict[int, set[int]] = {}
    for i, j, _ in pairs[pairs[:, 2] <= THRESHOLD].tolist():
        if _group(images[i]) == _group(images[j]):
            links.setdefault(max(i, j), set()).add(min(i, j))
    dropped: set[int] = set()
    for later in sorted(links):
        if any(earlier not in dropped for earlier in links[later]):
            dropped.add(later)
    return dropped


def _which(check: dict[str, object], stored: dict[str, object]) -> tuple[int, int]:
    """Positions of the closest (check hash, stored hash) of a pair in their lists
    (0: ``pdq``; stored 1-7: its flips and turns; the last ones: pair windows)."""
    c, s = _bits(list(check["check"])), _bits(list(stored["stored"]))  # type: ignore[call-overload]
    d = np.unpackbits(c[:, None, :] ^ s[None, :, :], axis=2).sum(axis=2)
    i, j = np.unravel_index(int(d.argmin()), d.shape)
    return int(i), int(j)


def extrapolate(
    pair_min: np.ndarray,
    n_images: int,
    stored_mean: float,
    n_stored: int | None = None,
    n_pairs: int | None = None,
) -> dict[str, float]:
    """The false-match probability per check against a bank of :data:`BANK` hashes.

    Method: every ordered pair (check image, other image) has a *pair distance*, the
    smallest distance between one of the check's hashes and one of the other's stored
    hashes: a match is a pair distance <= 31. ``F(d)``, the share of the ``m (n - 1)``
    pairs (``n`` images checked, ``m`` of them banked) at distance <= d, is counted for
    every d up to the range searched (``pair_min``: the pair distances found). Its lower
    tail falls off exponentially or faster, so ``log10 F(d)`` is fitted by a straight
    line through the
    lowest distances that hold at least 30 pairs and up to 20 bits more, and read at
    d = 31 (a straight line over-states a tail that falls faster: the estimate is high,
    not low). A bank of ``B`` hashes holds ``B / s`` images (``s``: stored hashes per
    image), so a check meets ``B / s`` pairs: ``P = 1 - (1 - F(31)) ** (B / s)``.
    The measured rate gives it too: ``F(31)`` = matched pairs / ``N`` pairs, or, with
    no match among them, the rule of three's 95 % bound ``3 / N``.
    """
    n_stored = n_images if n_stored is None else n_stored
    pairs = n_stored * (n_images - 1) if n_pairs is None else n_pairs
    counts = np.array([(pair_min <= d).sum() for d in range(257)], np.float64)
    cdf = counts / pairs
    lo = int(np.argmax(counts >= min(30, counts[-1])))
    ds = np.arange(lo, min(lo + 20, 256) + 1)
    ds = ds[(counts[ds] > 0) & (ds <= (pair_min.max() if pair_min.size else 0))]
    slope, intercept, f31 = float("nan"), float("nan"), float("nan")
    if len(ds) >= 2:
        slope, intercept = np.polyfit(ds, np.log10(cdf[ds]), 1)
        f31 = float(10 ** (intercept + slope * THRESHOLD))

    matched = float(counts[THRESHOLD])
    bound = 3 / pairs if matched == 0 else matched / pairs
    per_check = BANK / stored_mean
    return {
        "pairs": float(pairs),
        "matched pairs": matched,
        "fit from": float(lo),
        "fit to": float(ds[-1]) if len(ds) else float("nan"),
        "fit slope (log10 per bit)": float(slope),
        "F(31) fitted": f31,
        "F(31) measured": bound,
        "images per 10M-hash bank": per_check,
        "P fitted": float(-np.expm1(per_check * np.log1p(-f31))),
        "P bound": float(-np.expm1(per_check * np.log1p(-bound))),
    }


def floored(images: list[dict[str, object]], floor: int) -> list[dict[str, object]]:
    """The images as checks at the quality floor ``floor`` sees them
    (``VariantPlan.check_min_quality``: the check's derived windows under it dropped,
    ``pdq`` kept; from the qualities ``select`` recorded)."""
    from hashes._variants import quality_floor

    return [
        {**r, "check": list(quality_floor(zip(r["check"], r["check_q"]), floor))}  # type: ignore[call-overload]
        for r in images
    ]


def _estimates(
    images: list[dict[str, object]],
    storable: np.ndarray,
    pairs: np.ndarray,
    verdicts: dict[tuple[str, str], str],
) -> dict[str, object]:
    """Matches and extrapolations of one set of pair distances (see :func:`analyse`)."""
    n = len(images)
    sha = [str(r["sha256"]) for r in images]
    copies = np.array([verdicts.get((sha[i], sha[j])) == "copy" for i, j, _ in pairs.tolist()])
    copies = copies.astype(bool) if len(pairs) else np.zeros(0, bool)
    unrelated = pairs[~copies]  # the copies seen by eye are no false match
    n_stored = sum(len(r["stored"]) for r, ok in zip(images, storable, strict=True) if ok)  # type: ignore[arg-type]
    stored_mean = n_stored / int(storable.sum())
    est = extrapolate(unrelated[:, 2], n, stored_mean, int(storable.sum()))
    # across source groups only: within one, variants of a texture just past 31 bits
    # (the dropped near-duplicates' siblings) are related, not unrelated, pictures
    group = np.array([_group(r) for r in images])
    across = unrelated[group[unrelated[:, 0]] != group[unrelated[:, 1]]]
    banked_in = {g: int((storable & (group == g)).sum()) for g in set(group.tolist())}
    across_pairs = sum(int(storable.sum()) - banked_in[g] for g in group.tolist())
    est_across = extrapolate(across[:, 2], n, stored_mean, n_pairs=across_pairs)
    photos = np.array([r["family"] == "photos" for r in images])
    both = photos[unrelated[:, 0]] & photos[unrelated[:, 1]]
    stored_photos = sum(
        len(r["stored"])  # type: ignore[arg-type]
        for r, ok in zip(images, storable, strict=True)
        if ok and r["family"] == "photos"
    )
    banked = int((photos & storable).sum())
    est_photos = extrapolate(
        unrelated[both, 2], int(photos.sum()), stored_photos / max(1, banked), banked
    )
    matches = sorted((d, i, j) for i, j, d in pairs[pairs[:, 2] <= THRESHOLD].tolist())
    return {
        "check hashes": sum(len(r["check"]) for r in images),  # type: ignore[arg-type]
        "matches": [
            {"d": d, "check": images[i]["source"] + ":" + str(images[i]["path"]),
             "stored": images[j]["source"] + ":" + str(images[j]["path"]),
             "check_sha": images[i]["sha256"], "stored_sha": images[j]["sha256"],
             "positions": _which(images[i], images[j]),
             "verdict": verdicts.get((sha[i], sha[j]), "not reviewed"),
             "stored count": len(images[j]["stored"])}  # type: ignore[arg-type]
            for d, i, j in matches
        ],
        "false matches": sum(
            1 for d, i, j in matches if verdicts.get((sha[i], sha[j])) != "copy"
        ),
        "extrapolation": est,
        "extrapolation, across sources": est_across,
        "extrapolation, photos only": est_photos,
        "_matches": matches,
    }  # fmt: skip


def analyse(radius: int, floors: list[int]) -> None:
    images, dropped = current_images()
    t = time.monotonic()
    pairs = Bank.of(images).pairs_within(radius)
    print(f"range search <= {radius}: {time.monotonic() - t:.0f} s, {len(pairs)} pairs")
    near = near_duplicates(images, pairs)
    dropped["near-duplicate within a source"] = len(near)
    keep = np.array([n not in near for n in range(len(images))])
    renumber = np.cumsum(keep) - 1
    pairs = pairs[keep[pairs[:, 0]] & keep[pairs[:, 1]]]
    pairs[:, 0], pairs[:, 1] = renumber[pairs[:, 0]], renumber[pairs[:, 1]]
    images = [r for n, r in enumerate(images) if n not in near]
    quality = qualities(images)
    storable = np.array([quality[str(r["sha256"])] >= REPORT_MIN_QUALITY for r in images])
    dropped["stores nothing (PDQ quality under 50: a report is refused)"] = int((~storable).sum())
    pairs = pairs[storable[pairs[:, 1]]]
    bank = Bank.of(images, storable)
    n = len(images)
    print(f"{n} images, {len(bank.stored)} stored hashes, {len(bank.checked)} check hashes")
    print(f"dropped: {dropped}")
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(images):
        by_source.setdefault(str(r["source"]), []).append(i)
    t = time.monotonic()
    closest = bank.closest_unrelated()
    print(f"knn: {time.monotonic() - t:.0f} s")
    verdicts = review()
    found = _estimates(images, storable, pairs, verdicts)
    matches = found.pop("_matches")
    result: dict[str, object] = {
        "images": n,
        "stored": len(bank.stored),
        "checked": len(bank.checked),
        "dropped": dropped,
        "sources": {
            s: {
                "family": str(images[ix[0]]["family"]),
                "images": len(ix),
                "stored": sum(len(images[i]["stored"]) for i in ix if storable[i]),  # type: ignore[arg-type]
                "median side": float(
                    np.median([min(int(images[i]["w"]), int(images[i]["h"])) for i in ix])  # type: ignore[call-overload]
                ),
                "closest min": int(closest[ix].min()),
                "closest p1": float(np.percentile(closest[ix], 1)),
                "closest median": float(np.median(closest[ix])),
                "checks matching": int(sum(1 for i in ix if closest[i] <= THRESHOLD)),
            }
            for s, ix in by_source.items()
        },
        "closest histogram": np.bincount(closest, minlength=258).tolist(),
        **found,
    }
    # The same set checked at each quality floor: the checks send a subset of their
    # hashes, the bank is the same.
    for floor in floors:
        at = floored(images, floor)
        t = time.monotonic()
        fpairs = Bank.of(at, storable).pairs_within(radius)
        fpairs = fpairs[storable[fpairs[:, 1]]]
        print(f"check floor {floor}: range search {time.monotonic() - t:.0f} s")
        est = _estimates(at, storable, fpairs, verdicts)
        est.pop("_matches")
        result[f"check floor {floor}"] = est
    (CACHE / "result.json").write_text(json.dumps(result, indent=1))
    _plot(closest, by_source, images)
    _match_sheets(matches, images)  # type: ignore[arg-type]
    print(json.dumps({k: v for k, v in result.items() if k != "closest histogram"}, indent=1))


def _cached(r: dict[str, object]) -> Path:
    if "file" in r:  # an old "duplicate" row: the picture is its first copy's file
        return CACHE / "images" / str(r["file"])
    return (
        CACHE
        / "images"
        / str(r["source"])
        / f"{str(r['sha256'])[:16]}{Path(str(r['path'])).suffix.lower()}"
    )


def _match_sheets(
    matches: list[tuple[int, int, int]],
    images: list[dict[str, object]],
    out: Path | None = None,
) -> None:
    """The matches for the eye: sheets of 30 pairs (check left, stored right, numbered
    as in ``result.json``) in ``out`` (default ``$HASHBANK_FM_CACHE/matches/``)."""
    from PIL import ImageDraw

    out = out or CACHE / "matches"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    size, per_row, rows = 150, 3, 10
    for first in range(0, len(matches), per_row * rows):
        chunk = matches[first : first + per_row * rows]
        sheet = Image.new("RGB", (per_row * (2 * size + 40), rows * (size + 16)), "white")
        draw = ImageDraw.Draw(sheet)
        for k, (d, i, j) in enumerate(chunk):
            x, y = (k % per_row) * (2 * size + 40), (k // per_row) * (size + 16)
            draw.text((x + 2, y + size + 2), f"#{first + k} d={d}", fill="black")
            for side, r in enumerate((images[i], images[j])):
                with Image.open(_cached(r)) as img:
                    pic = img.convert("RGB")
                pic.thumbnail((size - 4, size - 4))
                sheet.paste(pic, (x + side * size + 2, y + 2))
        sheet.save(out / f"sheet-{first // (per_row * rows):02d}.png")


def _plot(
    closest: np.ndarray, by_source: dict[str, list[int]], images: list[dict[str, object]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    families: dict[str, list[int]] = {}
    for ix in by_source.values():
        families.setdefault(str(images[ix[0]]["family"]), []).extend(ix)
    bins = np.arange(0, 130, 2)
    ax.hist(
        [closest[ix] for ix in families.values()], bins=bins, stacked=True,
        label=[f"{f} ({len(ix)})" for f, ix in families.items()],
    )  # fmt: skip
    ax.axvline(THRESHOLD + 0.5, color="red", linestyle="--", label="match threshold (31)")
    ax.set_xlabel("closest unrelated distance per check (bits of 256)")
    ax.set_ylabel("checks")
    ax.set_title(f"{len(images)} images, each checked against all others' stored hashes")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HISTOGRAM)


def _manifest_rows(rows: dict[str, dict[str, object]]) -> list[tuple[str, ...]]:
    images, _ = kept(rows)
    out = []
    for name, family, package, version, pattern in _source_rows():
        shas = sorted({str(r["sha256"]) for r in images if r["source"] == name})
        if shas:
            out.append((name, family, package, version, pattern, str(len(shas)), _digest(shas)))
    return out


def check_manifest(rows: dict[str, dict[str, object]]) -> None:
    with MANIFEST.open(encoding="utf-8", newline="") as f:
        listed = [tuple(r) for r in csv.reader(f, delimiter="\t")][1:]
    built = _manifest_rows(rows)
    if built != listed:
        raise SystemExit(f"the rebuilt set differs from {MANIFEST.name}: {built} != {listed}")
    print(f"{sum(int(r[5]) for r in built)} images in {CACHE / 'images'}, as listed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("select", "fetch", "analyse"))
    parser.add_argument("--minutes", type=float, help="stop select after this many minutes")
    parser.add_argument("--processes", type=int, default=2, help="select's hashing processes")
    parser.add_argument("--radius", type=int, default=48, help="range searched for pair distances")
    parser.add_argument(
        "--floors", default="60", help="check quality floors measured on the same set (analyse)"
    )
    args = parser.parse_args()
    if args.step == "select":
        select(args.minutes, processes=args.processes)
    elif args.step == "fetch":
        select(args.minutes, write=False, processes=args.processes)
    elif args.step == "analyse":
        analyse(args.radius, [int(f) for f in args.floors.split(",") if f])


if __name__ == "__main__":
    main()
