"""Hashing uploaded images in memory; the bytes are never stored and are dropped at once."""

from __future__ import annotations

import hashes
from app.errors import InvalidInput, PayloadTooLarge
from app.services.inputs import DEFAULT_MIN_PDQ_QUALITY, HashInput, weakness

__all__ = ["hash_image", "refuse_trivial"]


def hash_image(
    data: bytes, *, max_bytes: int, max_pixels: int, name: str = "image", density: str = "default"
) -> hashes.Hashes:
    """Hash one uploaded image held in memory, with the variant plan ``density``.

    Raises:
        PayloadTooLarge: over the byte or pixel limit.
        InvalidInput: not an image hashbank accepts (corrupt, unsupported, too small).
    """
    limits = hashes.DecodeLimits(max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        return hashes.hash_bytes(data, limits=limits, density=density)
    except hashes.ImageTooLarge as exc:
        raise PayloadTooLarge(f"{name}: {exc}") from exc
    except hashes.ImageError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc


def refuse_trivial(
    h: hashes.Hashes, *, name: str = "image", min_pdq_quality: int = DEFAULT_MIN_PDQ_QUALITY
) -> None:
    """Refuse to report an image too plain to identify (uniform, near-blank, two-tone).

    Its PDQ quality is under the floor or its perceptual hashes are degenerate, so
    its hashes would match other blank frames: reporting it would poison the bank.

    Raises:
        InvalidInput: the image is trivial.
    """
    for item in (HashInput("pdq", h.pdq, h.pdq_quality), HashInput("phash", h.phash)):
        reason = weakness(item, min_pdq_quality=min_pdq_quality)
        if reason is not None:
            raise InvalidInput(
                f"{name}: the image is too plain to identify (uniform, blank or nearly so; "
                f"{reason}): its hashes would match unrelated images",
                weak=[{"type": item.type, "reason": reason}],
            )
