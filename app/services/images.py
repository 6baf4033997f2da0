"""Hashing uploaded images in memory; the bytes are never stored and are dropped at once."""

from __future__ import annotations

import hashes
from app.errors import InvalidInput, PayloadTooLarge

__all__ = ["hash_image"]


def hash_image(
    data: bytes, *, max_bytes: int, max_pixels: int, name: str = "image"
) -> hashes.Hashes:
    """Hash one uploaded image held in memory.

    Raises:
        PayloadTooLarge: over the byte or pixel limit.
        InvalidInput: not an image hashbank accepts (corrupt, unsupported, too small).
    """
    limits = hashes.DecodeLimits(max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        return hashes.hash_bytes(data, limits=limits)
    except hashes.ImageTooLarge as exc:
        raise PayloadTooLarge(f"{name}: {exc}") from exc
    except hashes.ImageError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
