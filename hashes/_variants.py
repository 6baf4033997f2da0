"""Extra PDQ hashes of edited versions of an image, so that edited re-uploads still match.

Two sides, one structure:

* a **check** (an upload compared with the bank) hashes the upload undone in every
  way we can undo cheaply: the 8 dihedral transforms of the actual pixels (flips and
  90-degree rotations; ``pdqhash.compute_dihedral`` works in the DCT domain and is not
  the same, see ``benchmarks/accuracy.py``) and the photo with uniform borders,
  letterbox bars, a screenshot frame or a caption band trimmed away (``_trim``);
* a **report** (an image put in the bank) stores what an uploader may cut the image
  down to: the trimmed photo and slightly cropped versions.

A :class:`VariantPlan` lists the variants of each side; :data:`DENSITIES` names the
plans, ``"default"`` chosen with ``benchmarks/accuracy.py`` (recall against impostor
matches at the service's PDQ threshold 31). Variants are hashed on a working copy of
the pixels box-reduced to at most :data:`WORK_MAX_SIDE` px, which PDQ (itself a
64x64 downsample) barely notices and which makes each one cost about 3 ms.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hashes._pdq import pdq_hex
from hashes._trim import content_box

__all__ = [
    "DENSITIES",
    "DIHEDRAL",
    "WORK_MAX_SIDE",
    "AspectCrop",
    "Crop",
    "Reduce",
    "VariantPlan",
    "Work",
    "check_variants",
    "stored_variants",
    "work_pixels",
]

WORK_MAX_SIDE = 512

Transform = Callable[[np.ndarray], np.ndarray]

DIHEDRAL: dict[str, Transform] = {
    "identity": lambda a: a,
    "rotate90": lambda a: np.rot90(a, 1),
    "rotate180": lambda a: np.rot90(a, 2),
    "rotate270": lambda a: np.rot90(a, 3),
    "flip_x": lambda a: a[:, ::-1],
    "flip_y": lambda a: a[::-1],
    "transpose": lambda a: a.transpose(1, 0, 2),
    "transverse": lambda a: np.rot90(a, 2).transpose(1, 0, 2),
}
"""The 8 symmetries of the rectangle, applied to ``(h, w, 3)`` pixel arrays."""

_ANCHORS = {
    "center": (0.5, 0.5),
    "top_left": (0.0, 0.0),
    "top_right": (0.0, 1.0),
    "bottom_left": (1.0, 0.0),
    "bottom_right": (1.0, 1.0),
    "top": (0.0, 0.5),
    "bottom": (1.0, 0.5),
    "left": (0.5, 0.0),
    "right": (0.5, 1.0),
}


@dataclass(frozen=True)
class Crop:
    """Keep ``keep`` of each side of the image, placed at ``anchor`` (see ``_ANCHORS``)."""

    keep: float
    anchor: str = "center"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """Return the cropped view of ``(h, w, ...)`` pixels."""
        h, w = pixels.shape[:2]
        ch, cw = max(1, round(h * self.keep)), max(1, round(w * self.keep))
        fy, fx = _ANCHORS[self.anchor]
        top, left = round((h - ch) * fy), round((w - cw) * fx)
        return pixels[top : top + ch, left : left + cw]


@dataclass(frozen=True)
class AspectCrop:
    """The largest centred crop of aspect ``width / height`` (apps crop to 1:1 or 4:5).

    ``apply`` returns None when the image already has that aspect (within 3 %).
    """

    aspect: float

    def apply(self, pixels: np.ndarray) -> np.ndarray | None:
        """Return the centred crop view, or None when it would be (nearly) the image."""
        h, w = pixels.shape[:2]
        if abs(w / h - self.aspect) <= 0.03 * self.aspect:
            return None
        if w / h > self.aspect:
            cw = round(h * self.aspect)
            left = (w - cw) // 2
            return pixels[:, left : left + cw]
        ch = round(w / self.aspect)
        top = (h - ch) // 2
        return pixels[top : top + ch]


@dataclass(frozen=True)
class Reduce:
    """The image box-reduced by an integer ``factor`` (re-uploads are often downsized).

    ``apply`` returns None when the result would be under 64 px on a side.
    """

    factor: int

    def apply(self, pixels: np.ndarray) -> np.ndarray | None:
        """Return the reduced pixels, or None for a too small result."""
        h, w = pixels.shape[:2]
        if min(h, w) // self.factor < 64:
            return None
        return np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).reduce(self.factor))


Region = Crop | AspectCrop | Reduce


@dataclass(frozen=True)
class VariantPlan:
    """Which variants each side hashes.

    ``dihedral``: check side, the 7 flips/rotations besides the image itself.
    ``trim``: both sides, the photo with uniform surroundings cut away.
    ``trim_dihedral``: check side, also the 7 flips/rotations of the trimmed photo.
    ``stored_crops``: report side, crops of the image (and of the trimmed photo).
    """

    dihedral: bool = True
    trim: bool = True
    trim_dihedral: bool = False
    stored_crops: tuple[Region, ...] = ()


_CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
_DEFAULT_CROPS: tuple[Region, ...] = (
    AspectCrop(1.0),
    AspectCrop(0.8),
    AspectCrop(1.25),
    *(Crop(0.96, a) for a in _ANCHORS),
)

DENSITIES: dict[str, VariantPlan] = {
    "none": VariantPlan(dihedral=False, trim=False),
    "light": VariantPlan(),
    "default": VariantPlan(stored_crops=_DEFAULT_CROPS),
    "dense": VariantPlan(
        trim_dihedral=True,
        stored_crops=(
            *_DEFAULT_CROPS,
            *(Crop(0.98, a) for a in _CORNERS),
            *(Crop(0.93, a) for a in _CORNERS),
        ),
    ),
}
"""Named plans, from no variants at all to many (more recall, more false matches)."""


class Work:
    """The working pixels variants are hashed from, and their trimmed photo (found once)."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels

    @functools.cached_property
    def trimmed(self) -> np.ndarray | None:
        """The photo inside uniform surroundings, or None when there is nothing to trim."""
        box = content_box(self.pixels)
        if box is None:
            return None
        top, bottom, left, right = box
        return self.pixels[top:bottom, left:right]


def work_pixels(image: Image.Image) -> Work:
    """Box-reduce ``image`` by an integer factor to at most :data:`WORK_MAX_SIDE` px.

    Returns:
        The working pixels, ``(h, w, 3)`` uint8 (the image's own when small enough).
    """
    k = math.ceil(max(image.size) / WORK_MAX_SIDE)
    return Work(np.asarray(image.reduce(k) if k > 1 else image))


def _unique(hashes: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hashes))


def check_variants(pdq: str, work: Work, plan: VariantPlan) -> tuple[str, ...]:
    """The PDQ hashes a check compares with the bank, ``pdq`` first, without repeats.

    Args:
        pdq: the image's own PDQ (hashed at full hashing size).
        work: the working pixels from :func:`work_pixels`.
        plan: which variants to hash.
    """
    out = [pdq]
    if plan.dihedral:
        out += [pdq_hex(t(work.pixels)) for name, t in DIHEDRAL.items() if name != "identity"]
    if plan.trim and (inner := work.trimmed) is not None:
        transforms = DIHEDRAL.values() if plan.trim_dihedral else [DIHEDRAL["identity"]]
        out += [pdq_hex(t(inner)) for t in transforms]
    return _unique(out)


def stored_variants(pdq: str, work: Work, plan: VariantPlan) -> tuple[str, ...]:
    """The PDQ hashes a report puts in the bank, ``pdq`` first, without repeats.

    Crops are taken from the trimmed photo when the image has uniform surroundings
    (cropping a border away changes nothing), else from the image itself.
    """
    out = [pdq]
    base = work.pixels
    if plan.trim and (inner := work.trimmed) is not None:
        out.append(pdq_hex(inner))
        base = inner
    for crop in plan.stored_crops:
        region = crop.apply(base)
        if region is not None and min(region.shape[:2]) >= 16:
            out.append(pdq_hex(region))
    return _unique(out)
