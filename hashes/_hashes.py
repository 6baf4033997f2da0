"""The Hashes value object and the hash_bytes / hash_file entry points.

``hash_bytes`` = safe decoding (``_decode``) + PDQ (``_pdq``) + variants
(``_variants``) + pHash (imagehash) + MD5/SHA-256 of the exact bytes.
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
from PIL import Image

from hashes._decode import DecodeLimits, decode
from hashes._decode import wipe as wipe_buffer
from hashes._errors import CorruptImage, ImageTooLarge, UnsupportedImage
from hashes._pdq import pdq_with_quality
from hashes._variants import DENSITIES, check_variants, stored_variants, work_pixels

__all__ = ["DecodeLimits", "Hashes", "hash_bytes", "hash_file", "warm_up"]


@dataclass(frozen=True)
class Hashes:
    """Every signal hashbank derives from one image; all hash values are lowercase hex.

    ``pdq_variants`` are the PDQ hashes a check compares against the bank (first is
    ``pdq``); ``pdq_stored`` are those a report stores (first is ``pdq``), computed
    lazily on first access (about 20 ms) so that a check never pays for them.
    ``width`` and ``height`` are the image's oriented size in pixels; ``format`` the
    Pillow name of its format (``JPEG``, ``PNG``, ``WEBP``, ``GIF``, ``BMP``, ``TIFF``,
    ``HEIF``).
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


def hash_bytes(
    data: bytes | bytearray,
    *,
    limits: DecodeLimits | None = None,
    density: str = "default",
    wipe: bool = False,
) -> Hashes:
    """Hash an image held in memory; nothing is written anywhere.

    Args:
        data: the image file's bytes (a ``bytearray`` is read in place, not copied).
        limits: byte and pixel limits checked before decoding (defaults: 32 MB, 100 MP).
        density: the variant plan, a key of ``hashes._variants.DENSITIES``.
        wipe: overwrite ``data`` (when a ``bytearray``) with zeros once it is hashed, or
            refused: the caller's copy of the image is gone when this returns or raises.
            The decoded pixels this function owns are zeroed in any case.

    Returns:
        The image's :class:`Hashes`.

    Raises:
        CorruptImage: empty, truncated or undecodable data.
        UnsupportedImage: not an allowed format, too small, or an extreme aspect ratio.
        ImageTooLarge: over the byte or pixel limit (decompression bombs included).
        ValueError: an unknown ``density``.
    """
    plan = DENSITIES.get(density)
    if plan is None:
        raise ValueError(f"unknown density {density!r}; expected one of {sorted(DENSITIES)}")
    try:
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        sha256 = hashlib.sha256(data).hexdigest()
        decoded = decode(data, limits)
    finally:
        if wipe and isinstance(data, bytearray):
            wipe_buffer(data)
    try:
        pdq, quality = pdq_with_quality(decoded.pixels)
        work = work_pixels(decoded.image)
        variants = check_variants(pdq, work, plan)
        phash = str(imagehash.phash(decoded.image))
    except MemoryError as exc:
        raise UnsupportedImage("the image needs more memory than is available") from exc
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
        raise CorruptImage(f"the decoded image cannot be hashed ({type(exc).__name__})") from exc
    finally:
        if decoded.array is not None:
            wipe_buffer(decoded.array)  # libpng's pixels, ours alone (the image is a copy)
    return Hashes(
        pdq=pdq,
        pdq_quality=quality,
        pdq_variants=variants,
        phash=phash,
        md5=md5,
        sha256=sha256,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        _stored=functools.partial(stored_variants, pdq, work, plan),
    )


def hash_file(path: str | os.PathLike[str], *, limits: DecodeLimits | None = None) -> Hashes:
    """Read a file into memory and hash it (see :func:`hash_bytes`).

    Raises:
        OSError: the file cannot be read.
        ImageTooLarge: the file is over ``limits.max_bytes`` (checked before reading it).
        ImageError: as :func:`hash_bytes`.
    """
    limits = limits or DecodeLimits()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_bytes:
            raise ImageTooLarge(f"the file has {size} bytes, the limit is {limits.max_bytes}")
        data = fh.read(limits.max_bytes + 1)
    return hash_bytes(data, limits=limits)


def warm_up() -> None:
    """Compile (or load from numba's cache) the hashing kernels now.

    The first image hashed otherwise pays for it (~15 s without a cache on a slow core):
    a service calls this before it reports ready. It hashes a small made-up PNG (the
    libpng path: writable pixels) and JPEG (Pillow's path: read-only pixels, which numba
    compiles apart), in memory.
    """
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 96, 3), np.uint8))
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        noise.save(buf, fmt)
        hash_bytes(buf.getvalue()).pdq_stored  # noqa: B018 - computed for its compilation
