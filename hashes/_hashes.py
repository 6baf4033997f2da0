"""The Hashes value object and the hash_bytes / hash_file entry points.

PLACEHOLDER implementation (skeleton): safe decoding, variants and speed-ups are
being built in their own modules; the public signatures here are the contract.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps

from hashes._errors import CorruptImage

__all__ = ["Hashes", "hash_bytes", "hash_file"]


@dataclass(frozen=True)
class Hashes:
    """Every signal hashbank derives from one image; all values are lowercase hex.

    ``pdq_variants`` are the PDQ hashes a check compares against the bank (first is
    ``pdq``); ``pdq_stored`` are those a report stores (first is ``pdq``), computed
    lazily on first access so that a check never pays for them.
    """

    pdq: str
    pdq_quality: int
    pdq_variants: tuple[str, ...]
    phash: str
    md5: str
    sha256: str
    width: int
    height: int
    format: str
    _stored: Callable[[], tuple[str, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    @functools.cached_property
    def pdq_stored(self) -> tuple[str, ...]:
        """The PDQ hashes a report puts in the bank, ``pdq`` first."""
        if self._stored is None:
            return (self.pdq,)
        return self._stored()


def _bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def hash_bytes(data: bytes) -> Hashes:
    """Hash an image given as bytes.

    Raises:
        ImageError: one of its subclasses when the image cannot be hashed.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or "?"
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except Exception as exc:  # placeholder: replaced by the safe decoder
        raise CorruptImage(f"cannot decode image: {exc}") from exc
    pixels = np.asarray(rgb)
    bits, quality = pdqhash.compute(pixels)
    pdq = _bits_to_hex(bits)
    variants, _ = pdqhash.compute_dihedral(pixels)
    hexes = [pdq] + [h for h in (_bits_to_hex(v) for v in variants) if h != pdq]
    return Hashes(
        pdq=pdq,
        pdq_quality=int(quality),
        pdq_variants=tuple(dict.fromkeys(hexes)),
        phash=str(imagehash.phash(rgb)),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        width=rgb.width,
        height=rgb.height,
        format=fmt,
    )


def hash_file(path: str | os.PathLike[str]) -> Hashes:
    """Read a file into memory and hash it (see :func:`hash_bytes`)."""
    with open(path, "rb") as fh:
        return hash_bytes(fh.read())
