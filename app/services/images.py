"""Hashing uploaded images in memory; the bytes are never stored and are dropped at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import hashes
from app.errors import Busy, InvalidInput, PayloadTooLarge
from app.services.inputs import DEFAULT_MIN_PDQ_QUALITY, HashInput, weakness

__all__ = ["DecodeSlots", "hash_image", "refuse_trivial"]


class DecodeSlots:
    """At most ``limit`` requests of this process decode images at once.

    Decoding is CPU and memory heavy, and the thread pool (40 threads) would otherwise
    let 40 large images decode at once on a 2-core machine, each holding its pixels. A
    request past the limit waits for a slot up to ``wait_seconds`` (in line, on the
    event loop: a waiting request holds no thread and no pixels), then is refused with
    503 + Retry-After, so a flood of uploads cannot stall checks of hashes or grow
    memory without bound, while an ordinary burst of a platform's parallel checks is
    queued instead of refused.
    """

    def __init__(self, limit: int, wait_seconds: float = 10.0) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold one slot for the block, waiting up to ``wait_seconds`` for one.

        Raises:
            Busy: no slot came free in time.
        """
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._free.acquire()
        except TimeoutError:
            raise Busy(
                f"this server is decoding {self.limit} images already; retry in a moment"
            ) from None
        try:
            yield
        finally:
            self._free.release()


def hash_image(
    data: bytes | bytearray,
    *,
    max_bytes: int,
    max_pixels: int,
    name: str = "image",
    density: str = "default",
) -> hashes.Hashes:
    """Hash one uploaded image held in memory, with the variant plan ``density``; a
    ``bytearray`` is zeroed once read (hashed or refused).

    Raises:
        PayloadTooLarge: over the byte or pixel limit.
        InvalidInput: not an image hashbank accepts (corrupt, unsupported, too small).
    """
    limits = hashes.DecodeLimits(max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        return hashes.hash_bytes(data, limits=limits, density=density, wipe=True)
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
