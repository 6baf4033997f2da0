"""Real photographs for the benchmarks, read from installed packages and test data only.

* scikit-image ships a few photos inside its wheel (``skimage/data/*.png|jpg``); we read
  those files directly, never ``skimage.data.<name>()``, some of which download.
* ``tests/data/pdq-reference/images`` holds Meta's PDQ reference photos (vendored); their
  12-megapixel phone photo is not vendored and is read from ``../shared/pdq-reference``
  when that folder sits beside the repository.

``family_photos`` adds the wider set of issue 23 (``photo_set.py``: photos from
Debian's data packages, rebuilt into a cache outside the repository), by family.

Synthetic pictures (colour wheel, logo, chessboard, phantom, horse silhouette), the
right half of the motorcycle stereo pair (a near-duplicate of the left) and reference
images that are edits of the bridge photo are left out: an impostor must be a
different photo.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PDQ_REFERENCE = REPO / "tests" / "data" / "pdq-reference" / "images"  # vendored
# where a reference photo is looked for: the vendored set, then the team's shared folder
REFERENCE_DIRS = (PDQ_REFERENCE, SHARED / "pdq-reference" / "images")

SKIMAGE_PHOTOS = (
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "moon.png",
    "coins.png",
    "ihc.png",
    "clock_motion.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "page.png",
    "text.png",
    "cell.png",
    "microaneurysms.png",
)
REFERENCE_PHOTOS = (
    "bridge-mods/aaa-orig.jpg",
    "reg-test-input/exif-rotn/exif-rotn-1.jpg",
    "reg-test-input/labelme-subset/q0122.jpg",
    "reg-test-input/labelme-subset/q0291.jpg",
    "reg-test-input/labelme-subset/q0746.jpg",
    "reg-test-input/labelme-subset/q1050.jpg",
    "reg-test-input/labelme-subset/q2821.jpg",
    "misc-images/c.png",
)


@dataclass(frozen=True)
class Photo:
    """One photograph: its file bytes as shipped, and its decoded oriented RGB image."""

    name: str
    data: bytes
    image: Image.Image
    family: str = "ours"


def _skimage_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def _load(name: str, path: Path, family: str = "ours") -> Photo:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        rgb = ImageOps.exif_transpose(img).convert("RGB")
    return Photo(name=name, data=data, image=rgb, family=family)


def photos(limit: int | None = None) -> list[Photo]:
    """The benchmark photos, scikit-image's first, then the PDQ reference ones if present."""
    out = [_load(n.rsplit(".", 1)[0], _skimage_dir() / n) for n in SKIMAGE_PHOTOS]
    for rel in REFERENCE_PHOTOS:
        path = next((d / rel for d in REFERENCE_DIRS if (d / rel).exists()), None)
        if path is not None:
            out.append(_load(path.stem, path))
    return out[:limit] if limit else out


def family_photos(families: set[str] | None = None) -> list[Photo]:
    """The wider set (``benchmarks/photo_set.py``) from its cache, by family.

    Raises:
        SystemExit: the set was not fetched yet.
    """
    from benchmarks.photo_set import CACHE, read_list

    out = []
    for entry in read_list():
        if families is not None and entry.family not in families:
            continue
        if not entry.cached.exists():
            raise SystemExit(
                f"{entry.cached} is missing: run .venv/bin/python benchmarks/photo_set.py "
                f"(it rebuilds the set in {CACHE})"
            )
        stem = entry.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        out.append(_load(f"{entry.family}/{stem}", entry.cached, entry.family))
    return out
