"""The check use cases, one call per request: an upload's hashes, its image, or a batch.

Each decides what the router used to: the hash budget of one upload, the PDQ variant
density and ``stored=False`` for an image, whether a search runs on the event loop or in
a worker thread. A search (in memory, microseconds) runs on the event loop; only a match
goes to a thread, to be logged (:meth:`CheckService.record`), so the common answer, no
match, costs no thread hop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from anyio import to_thread

import hashes
from app import metrics
from app.errors import InvalidInput
from app.services.checks import Candidate, CheckResult, CheckService
from app.services.images import DecodeSlots, hash_image
from app.services.inputs import HashInput, from_hashes, join_parts, validate_hashes
from app.services.records import CheckCounter
from app.services.video_uploads import hash_video_upload, video_items

__all__ = ["CheckLimits", "Checker"]


@dataclass(frozen=True)
class CheckLimits:
    """The limits and choices of checks (from Settings)."""

    max_image_bytes: int
    max_image_pixels: int
    density: str = "default"  # the PDQ variant plan of an image checked (HASHBANK_PDQ_VARIANTS)
    max_hashes: int = 64  # one upload's hashes: PDQ variants, pHash, MD5, SHA-256
    inline_search: int = 64  # a batch with more hashes in all is searched in a thread
    max_video_frames: int = hashes.MAX_FRAMES  # of the vpdq values of one request
    max_video_bytes: int = 512 * 1024 * 1024  # a video hashed by the server
    max_video_seconds: float = 36_000.0
    frame_variants: int = 16  # PDQ hashes with seconds per frame of a video checked


class Checker:
    """Checks as the API receives them; every answer of a check comes from here."""

    def __init__(
        self,
        checks: CheckService,
        decodes: DecodeSlots,
        limits: CheckLimits,
        types: hashes.SignalRegistry = hashes.BUILTINS,
        counter: CheckCounter | None = None,
    ) -> None:
        self.checks = checks
        # each upload checked, per client and day, for the platform records
        self.counter = counter or CheckCounter()
        self.types = types  # the enabled signal types
        self.decodes = decodes
        self.limits = limits

    async def check_hashes(
        self, items: Sequence[HashInput], client_id: int | None
    ) -> CheckResult | None:
        """Check one upload's hashes (as sent: validated here); None when nothing matched.

        Raises:
            InvalidInput: more hashes than one upload has, or an invalid one.
            RateLimited: the client is probing (see :class:`ProbePolicy`).
        """
        framed = sum(1 for item in items if item.seconds is not None)
        if len(items) - framed > self.limits.max_hashes:
            raise InvalidInput(
                f"a check holds at most {self.limits.max_hashes} hashes (one upload)"
            )
        valid = join_parts(validate_hashes(items, self.types))
        frames = self._frames([valid])
        if framed > self.limits.frame_variants * frames:
            raise InvalidInput(
                f"a check holds at most {self.limits.frame_variants} pdq hashes with seconds "
                "per frame of its vpdq value"
            )
        if frames > self.limits.inline_search:  # a long video searches off the event loop
            found = await to_thread.run_sync(self.checks.find, valid)
            return await self._record(found, client_id)
        return await self._check(valid, client_id)

    def _frames(self, batch: Sequence[Sequence[HashInput]]) -> int:
        """The frames of the vpdq values of a request, within the limit.

        Raises:
            InvalidInput: more than ``max_video_frames`` in all.
        """
        frames = sum(
            len(hashes.parse_vpdq(item.value))
            for items in batch
            for item in items
            if self.types.get(item.type).bits is None
        )
        if frames > self.limits.max_video_frames:
            raise InvalidInput(
                f"the vpdq values of one request hold at most {self.limits.max_video_frames} "
                f"frames ({frames} sent; HASHBANK_MAX_VIDEO_FRAMES)"
            )
        return frames

    async def check_image(
        self, data: bytes | bytearray, client_id: int | None
    ) -> CheckResult | None:
        """Hash one uploaded image in memory (a ``bytearray`` is zeroed once read) with
        every PDQ variant of the density, and check it; None when nothing matched.

        Raises:
            Busy: every decoding slot stayed taken.
            PayloadTooLarge, InvalidInput: see :func:`hash_image`.
            RateLimited: the client is probing.
        """
        h = await self.hash_upload(data)
        # the variants of the image checked (``stored=False``), not the ones a report keeps
        return await self._check(from_hashes(h, stored=False, types=self.types), client_id)

    async def check_video(
        self, data: bytes | bytearray, client_id: int | None
    ) -> CheckResult | None:
        """Hash one uploaded video in memory (vPDQ with the check-side frame variants,
        MD5, SHA-256) in a worker thread holding a decoding slot, and check it; None when
        nothing matched. The caller zeroes ``data``.

        Raises:
            Busy: every decoding slot stayed taken.
            PayloadTooLarge: over HASHBANK_MAX_VIDEO_BYTES.
            InvalidInput: over the duration or frame limit, or not a video hashbank reads.
            RateLimited: the client is probing.
        """
        limits = self.limits
        video_limits = hashes.VideoLimits(
            max_bytes=limits.max_video_bytes,
            max_seconds=limits.max_video_seconds,
            max_frames=limits.max_video_frames,
        )
        async with self.decodes.hold():
            h = await to_thread.run_sync(
                lambda: hash_video_upload(data, limits=video_limits, variants="check")
            )
        items = video_items(h, self.types)
        found = await to_thread.run_sync(self.checks.find, items)
        return await self._record(found, client_id)

    async def hash_upload(self, data: bytes | bytearray) -> hashes.Hashes:
        """Hash one uploaded image in memory (a ``bytearray`` is zeroed once read) in a
        worker thread, holding a decoding slot; nothing is checked.

        Raises:
            Busy: every decoding slot stayed taken.
            PayloadTooLarge, InvalidInput: see :func:`hash_image`.
        """
        limits = self.limits
        async with self.decodes.hold():
            return await to_thread.run_sync(
                lambda: hash_image(
                    data,
                    max_bytes=limits.max_image_bytes,
                    max_pixels=limits.max_image_pixels,
                    density=limits.density,
                )
            )

    async def _check(self, items: list[HashInput], client_id: int | None) -> CheckResult | None:
        # in memory, microseconds: no thread hop
        return await self._record(self.checks.find(items), client_id)

    async def _record(self, found: list[Candidate], client_id: int | None) -> CheckResult | None:
        self.counter.add(client_id)
        if not found:
            metrics.CHECKS_NONE.inc()
            return None
        results = await to_thread.run_sync(self.checks.record, [found], client_id)
        _count(results)
        return results[0]

    async def check_batch(
        self, batch: Sequence[Sequence[HashInput]], client_id: int | None
    ) -> list[CheckResult] | None:
        """Check many uploads' hashes, one result per item in order; None when no item
        matched.

        Raises:
            InvalidInput: an invalid hash.
            RateLimited: the client is probing.
        """
        valid = [join_parts(validate_hashes(items, self.types)) for items in batch]
        frames = self._frames(valid)
        # one index search per signal type; a big batch searches off the event loop (the
        # kernels release the GIL), so that single checks on this process keep flowing
        if sum(len(items) for items in valid) + frames > self.limits.inline_search:
            found = await to_thread.run_sync(self.checks.find_many, valid)
        else:
            found = self.checks.find_many(valid)
        self.counter.add(client_id, len(found))
        if not any(found):
            metrics.CHECKS_NONE.inc(len(found))
            return None
        results = await to_thread.run_sync(self.checks.record, found, client_id)
        _count(results)
        return results


def _count(results: list[CheckResult]) -> None:
    matched = [r for r in results if r.match]
    metrics.CHECKS_NONE.inc(len(results) - len(matched))
    metrics.CHECKS_MATCH.inc(len(matched))
    for r in matched:
        metrics.MATCHES.labels(r.action).inc()
