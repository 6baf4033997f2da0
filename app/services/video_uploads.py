"""Videos hashed by the server, in memory: the signals of one uploaded video.

The bytes come from the multipart reader (app/api/uploads.py: a ``bytearray`` of ours,
never spooled) and are handed to :func:`hashes.hash_video`, which FFmpeg reads from
memory through PyAV (no temporary file); the caller zeroes the buffer afterwards.
"""

from __future__ import annotations

from typing import Literal

import hashes
from app.errors import InvalidInput, PayloadTooLarge
from app.services.inputs import HashInput

__all__ = ["hash_video_upload", "video_items"]


def hash_video_upload(
    data: bytes | bytearray,
    *,
    limits: hashes.VideoLimits,
    variants: Literal["none", "check", "stored"],
    name: str = "video",
) -> hashes.VideoHashes:
    """Hash one uploaded video held in memory.

    Raises:
        PayloadTooLarge: over the byte limit (413).
        InvalidInput: over the duration or frame limit, or not a video hashbank reads
            (corrupt, unsupported container or codec): 422 naming the reason.
    """
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"{name}: a video may be at most {limits.max_bytes} bytes")
    try:
        return hashes.hash_video(data, limits=limits, variants=variants)
    except hashes.VideoTooLarge as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
    except hashes.VideoError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc


def video_items(h: hashes.VideoHashes, types: hashes.SignalRegistry) -> list[HashInput]:
    """The signals of a hashed video, of the enabled types: its vPDQ (Meta's text), the
    file's MD5 and SHA-256, and each frame variant as a PDQ hash with its time."""
    items = [
        HashInput("vpdq", hashes.format_vpdq(h.frames)),
        HashInput("video_md5", h.md5),
        HashInput("video_sha256", h.sha256),
    ]
    for fv in h.frame_variants:
        items += [HashInput("pdq", pdq, None, fv.seconds) for pdq in fv.pdq[1:]]
    return [item for item in items if item.type in types]
