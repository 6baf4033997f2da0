"""The Hashes value object and the hash_bytes / hash_file entry points.

PLACEHOLDER implementation (skeleton): safe decoding, variants and speed-ups are
being built in their own modules; the public signatures here are the contract.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps

from hashes._errors import CorruptImage, ImageTooLarge, UnsupportedImage

__all__ = ["DecodeLimits", "Hashes", "hash_bytes", "hash_file"]

_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


@dataclass(frozen=True)
class DecodeLimits:
    """Limits checked before decoding: bytes of the file, pixels of the image."""

    max_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 100_000_000


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
    _stored: Callable[[], tuple[str, ...]] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def pdq_stored(self) -> tuple[str, ...]:
        """The PDQ hashes a report puts in the bank, ``pdq`` first."""
        if self._stored is None:
            return (self.pdq,)
        return self._stored()


def _bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def hash_bytes(data: bytes, *, limits: DecodeLimits | None = None) -> Hashes:
    """Hash an image given as bytes.

    Raises:
        ImageError: one of its subclasses when the image cannot be hashed.
    """
    limits = limits or DecodeLimits()
    if not data:
        raise CorruptImage("empty file")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the file has {len(data)} bytes, the limit is {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or "?"
                if fmt not in _FORMATS:
                    raise UnsupportedImage(f"{fmt} images are not supported")
                if img.width * img.height > limits.max_pixels:
                    raise ImageTooLarge(
                        f"the image has {img.width}x{img.height} pixels, over the limit"
                    )
                if min(img.size) < 16:
                    raise UnsupportedImage("the image is smaller than 16 pixels on a side")
                rgb = ImageOps.exif_transpose(img).convert("RGB")
    except (UnsupportedImage, ImageTooLarge):
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from exc
    except Exception as exc:  # placeholder: replaced by the safe decoder
        raise CorruptImage(f"cannot decode image: {type(exc).__name__}") from exc
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


def hash_file(path: str | os.PathLike[str], *, limits: DecodeLimits | None = None) -> Hashes:
    """Read a file into memory and hash it (see :func:`hash_bytes`)."""
    with open(path, "rb") as fh:
        return hash_bytes(fh.read(), limits=limits)
