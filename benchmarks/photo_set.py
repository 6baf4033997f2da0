"""Rebuild the wider photo set (issue 23) from Debian's data packages, checksums verified.

Usage::

    .venv/bin/python benchmarks/photo_set.py            # fetch: rebuild the set listed
    .venv/bin/python benchmarks/photo_set.py --select   # re-pick the list from the packages

The set lives outside the repository, in ``$HASHBANK_PHOTO_CACHE`` (default
``~/.cache/hashbank/photo-set``): ``debs/`` (the packages, by ``apt-get download``, which
needs root or a writable folder), ``extract/`` (``dpkg-deb -x``) and ``photos/FAMILY/``
(one file per photo, named by the first 16 hex digits of its SHA-256). The list is
``benchmarks/photo_set.tsv``: family, package, version, file (inside the package;
``archive.rcc:member`` for a photo inside a Qt resource file) and SHA-256 of the photo's
bytes. A fetch fails on any checksum that differs.

Packages kept for independent evaluation are never read (``EXCLUDED``).

What counts as a photograph (``--select``, :func:`rejection`), in this order:

1. Pillow decodes it; its shorter side is at least 128 px (icons, sprites; PDQ's own
   floor: it samples smaller images without a low-pass filter);
2. it has no transparent pixel (alpha under 250 anywhere): cut-outs, drawings and puzzle
   pieces on a transparent ground are not photos;
3. its 128 px grey thumbnail has at least 64 distinct grey levels: flat textures, blank
   skies and single-colour images have fewer (photos of objects on a white ground, dark
   astronomy photos and grey-scale photos keep well over 100);
4. it is not a near-duplicate of a photo listed before it (GCompris shows some photos in
   two activities, cropped differently): hashbank's report of the earlier one and check
   of this one (or the other way round) are within PDQ 31 bits, so an impostor pair in
   the benchmark is always two different photographs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._rcc import members

LIST = Path(__file__).resolve().with_name("photo_set.tsv")
CACHE = Path(
    os.environ.get("HASHBANK_PHOTO_CACHE", Path.home() / ".cache" / "hashbank" / "photo-set")
)
EXCLUDED = (
    "mate-backgrounds", "ukui-wallpapers", "lomiri-wallpapers", "plasma-workspace-wallpapers",
    "opencv-doc", "python-matplotlib-data", "scribus-data", "scribus-template",
    "stellarium-data", "kstars-data", "backgrounds", "wallpapers",
)  # fmt: skip
"""Kept for independent evaluation (issue 23): never read, by name or name part."""

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
_GCOMPRIS_FAMILIES = {
    "categorization": "gcompris-objects",
    "explore_monuments": "gcompris-places",
    "details": "gcompris-places",
    "erase": "gcompris-animals",
    "explore_world_animals": "gcompris-animals",
    "explore_farm_animals": "gcompris-animals",
    "clickgame": "gcompris-animals",
    "explore_world_music": "gcompris-objects",
}
"""GCompris activities whose pictures are photographs (the others: drawings, paintings
cut into puzzles, braille charts), by family."""


def _gcompris(path: str) -> str | None:
    archive = path.split(":", 1)[0]
    if ":" not in path or not archive.endswith(".rcc"):
        return None
    activity = Path(archive).stem
    return _GCOMPRIS_FAMILIES.get(activity)


_BODIES = frozenset(
    (
        *("mercury", "venus", "earth", "earthcld", "clouds", "moon", "mars", "phobos"),
        *("deimos", "jupiter", "io", "europa", "ganymede", "callisto", "saturn", "titan"),
        *("rhea", "dione", "tethys", "promethe", "janus", "hyperion", "uranus", "neptune"),
        *("triton", "proteus", "pluto", "charon", "asteroid", "castalia", "gaspra"),
        *("toutatis", "m31", "m33", "mw"),
    )
)
"""OpenUniverse's maps of planets, moons, asteroids and galaxies (its other textures are
its own spacecraft, glows and title screens)."""


@dataclass(frozen=True)
class Source:
    """A Debian package and which of its files belong to which family (None: not read)."""

    package: str
    version: str
    family: Callable[[str], str | None]


SOURCES = (
    Source("gcompris-qt-data", "3.1-2", _gcompris),
    Source(
        "openuniverse-common",
        "1.0beta3.1+dfsg-7.1",
        lambda p: "astronomy" if "/textures/" in p and Path(p).stem in _BODIES else None,
    ),
    Source("xplanet-images", "1.3.1-3", lambda p: "astronomy" if "/images/" in p else None),
    Source(
        "palapeli-data",
        "4:22.12.3-1",
        lambda p: "palapeli" if "/palapeli/collection/" in p else None,
    ),
)
for _source in SOURCES:
    assert not any(x in _source.package for x in EXCLUDED), _source.package


@dataclass(frozen=True)
class Entry:
    """One listed photo."""

    family: str
    package: str
    version: str
    file: str
    sha256: str

    @property
    def cached(self) -> Path:
        suffix = Path(self.file.rsplit(":", 1)[-1]).suffix.lower()
        return CACHE / "photos" / self.family / f"{self.sha256[:16]}{suffix}"


def read_list(path: Path = LIST) -> list[Entry]:
    with path.open(encoding="utf-8", newline="") as f:
        return [Entry(**row) for row in csv.DictReader(f, delimiter="\t")]


def _write_list(entries: list[Entry], path: Path = LIST) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(("family", "package", "version", "file", "sha256"))
        w.writerows((e.family, e.package, e.version, e.file, e.sha256) for e in entries)


def extracted(package: str, version: str, cache: Path = CACHE) -> Path:
    """The Debian package ``package=version`` unpacked under ``cache`` (downloaded with
    ``apt-get download`` first if need be; unpacked into a temporary name, then renamed,
    so an interrupted run leaves nothing that looks complete)."""
    out = cache / "extract" / f"{package}_{version}"
    if out.exists():
        return out
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = list(debs.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=debs, check=True)
        found = list(debs.glob(f"{package}_*.deb"))
    tmp = out.parent / f"{out.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(found[0]), str(tmp)], check=True)
    tmp.rename(out)
    return out


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every image file of an unpacked package, and every image inside its .rcc files."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        if path.suffix.lower() in _IMAGE_SUFFIXES:
            yield rel, path.read_bytes()
        elif path.suffix == ".rcc":
            for name, data in members(path.read_bytes()):
                if Path(name).suffix.lower() in _IMAGE_SUFFIXES:
                    yield f"{rel}:{name}", data


def rejection(data: bytes) -> str | None:
    """Why the file is not taken as a photograph (rules 1-3 above), or None."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            image = ImageOps.exif_transpose(img)
    except Exception:  # any decoder error: not a photo we can use
        return "does not decode"
    return image_rejection(image)


def image_rejection(image: Image.Image) -> str | None:
    """Rules 2-3 and the size of rule 1 on a decoded, upright image."""
    if min(image.size) < 128:
        return "smaller than 128 px"
    if "A" in image.getbands() or "transparency" in image.info:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if int(alpha.min()) < 250:
            return "transparent"
    thumb = image.convert("L")
    thumb.thumbnail((128, 128))
    if len(np.unique(np.asarray(thumb))) < 64:
        return "few grey levels"
    return None


def select() -> list[Entry]:
    """Pick the photos from the packages (rules 1-4), in a stable order."""
    import hashes
    from benchmarks._matching import min_distances

    picked: list[Entry] = []
    stored: list[list[str]] = []
    checked: list[list[str]] = []
    reasons: dict[str, int] = {}
    for source in SOURCES:
        root = extracted(source.package, source.version)
        for rel, data in _files(root):
            family = source.family(rel)
            if family is None:
                continue
            reason = rejection(data)
            if reason is None:
                h = hashes.hash_bytes(data)
                s, c = list(h.pdq_stored), list(h.pdq_variants)
                if stored and (
                    min_distances([c], stored).min() <= 31
                    or min_distances(checked, [s]).min() <= 31
                ):
                    reason = "near-duplicate"
            reasons[reason or "kept"] = reasons.get(reason or "kept", 0) + 1
            if reason is None:
                picked.append(
                    Entry(
                        family,
                        source.package,
                        source.version,
                        rel,
                        hashlib.sha256(data).hexdigest(),
                    )
                )
                stored.append(s)
                checked.append(c)
    print(reasons)
    return picked


def fetch(entries: list[Entry]) -> None:
    """Write every listed photo to the cache, checking its SHA-256."""
    by_package: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        by_package.setdefault((e.package, e.version), []).append(e)
    for (package, version), rows in by_package.items():
        root = extracted(package, version)
        wanted = {e.file: e for e in rows if not e.cached.exists()}
        if not wanted:
            continue
        for rel, data in _files(root):
            entry = wanted.pop(rel, None)
            if entry is None:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.sha256:
                raise SystemExit(f"{package} {rel}: SHA-256 {digest}, listed {entry.sha256}")
            entry.cached.parent.mkdir(parents=True, exist_ok=True)
            entry.cached.write_bytes(data)
        if wanted:
            raise SystemExit(f"{package} {version} lacks {sorted(wanted)[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--select", action="store_true", help="re-pick the list (rules 1-4)")
    args = parser.parse_args()
    if args.select:
        entries = select()
        _write_list(entries)
    entries = read_list()
    fetch(entries)
    families: dict[str, int] = {}
    for e in entries:
        families[e.family] = families.get(e.family, 0) + 1
    print(f"{len(entries)} photos in {CACHE / 'photos'}: {families}")


if __name__ == "__main__":
    main()
