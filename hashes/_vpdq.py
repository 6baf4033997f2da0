"""Video signal types: whole-file MD5/SHA-256 and Meta's vPDQ, with vPDQ's matching rule.

A ``vpdq`` value is Meta's serialisation, the one python-threatexchange's ``VPDQSignal``
stores: a JSON array of ``"pdq_hex,quality,seconds"`` strings, one per sampled frame.
hashbank accepts that string or the list itself, and writes it back the way pytx does
(``str(VpdqCompactFeature)``: seconds with three significant digits), so a value made
by Meta's tools, by HMA or by hashbank is exchanged unchanged.

:func:`match_percentages` is vPDQ's brute-force rule (pytx's ``match_VPDQ_hash_brute``):
frames of quality below a floor are ignored, identical frame hashes counted once, and the
share of each side's frames within a PDQ distance of any frame of the other side is
returned. It is the reference that an indexed matcher must equal.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hashes._errors import InvalidHash
from hashes._hex import hamming, parse_hex
from hashes._spec import SignalSpec

__all__ = [
    "FRAME_DISTANCE",
    "MAX_FRAMES",
    "QUALITY_FLOOR",
    "QUERY_MATCH_PERCENT",
    "VIDEO_MD5",
    "VIDEO_SHA256",
    "VPDQ",
    "VideoMatch",
    "VpdqFrame",
    "VpdqSpec",
    "append_frames",
    "format_vpdq",
    "match_percentages",
    "parse_vpdq",
    "prepare_frames",
]

QUALITY_FLOOR = 50
"""vPDQ's default: frames of a lower quality are ignored when matching."""
FRAME_DISTANCE = 31
"""vPDQ's default: two frames match at this PDQ distance or less."""
QUERY_MATCH_PERCENT = 80.0
"""vPDQ's default: a video matches when this share of the query's frames match."""
MAX_FRAMES = 36_000
"""The most frames a value may list (10 hours at vPDQ's default one frame per second)."""


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One sampled frame: its PDQ hash (lowercase hex), quality (0-100) and time."""

    pdq: str
    quality: int
    seconds: float

    def __str__(self) -> str:
        # pytx's VpdqCompactFeature.__str__: three significant digits, as Meta writes it
        return f"{self.pdq},{self.quality},{self.seconds:.3}"


def _frame(text: object, position: int) -> VpdqFrame:
    where = f"vpdq frame {position}"
    if not isinstance(text, str):
        raise InvalidHash(f"{where} must be a string 'pdq_hex,quality,seconds'")
    parts = text.split(",")
    if len(parts) != 3:
        raise InvalidHash(f"{where} must be 'pdq_hex,quality,seconds', got {len(parts)} fields")
    pdq = parse_hex(where, parts[0], 64)
    try:
        quality = int(parts[1])
        seconds = float(parts[2])
    except ValueError:
        raise InvalidHash(f"{where}: quality must be a whole number, seconds a number") from None
    if not 0 <= quality <= 100:
        raise InvalidHash(f"{where}: quality must be 0-100")
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidHash(f"{where}: seconds must be a finite number >= 0")
    return VpdqFrame(pdq, quality, seconds)


def parse_vpdq(value: Any, *, max_frames: int = MAX_FRAMES) -> tuple[VpdqFrame, ...]:
    """The frames of a vPDQ value: Meta's JSON string, or the list of frame strings.

    Raises:
        InvalidHash: not JSON, not a list of ``"pdq_hex,quality,seconds"`` strings, no
            frame, more than ``max_frames``, or a frame out of bounds (the message names
            the frame).
    """
    items: object = value
    if isinstance(value, str):
        if len(value) > max_frames * 100:
            raise InvalidHash(f"a vpdq value may list at most {max_frames} frames")
        try:
            items = json.loads(value)
        except (ValueError, RecursionError):  # deep nesting ("[[[[...") too
            raise InvalidHash(
                "a vpdq value is a JSON array of 'pdq_hex,quality,seconds' strings"
            ) from None
    if not isinstance(items, list):
        raise InvalidHash("a vpdq value is a list of 'pdq_hex,quality,seconds' strings")
    if not items:
        raise InvalidHash("a vpdq value needs at least one frame")
    if len(items) > max_frames:
        raise InvalidHash(f"a vpdq value may list at most {max_frames} frames")
    return tuple(_frame(item, i) for i, item in enumerate(items))


def format_vpdq(frames: Iterable[VpdqFrame]) -> str:
    """Meta's serialisation of ``frames`` (what pytx's ``vpdq_to_json`` writes)."""
    return json.dumps([str(f) for f in frames])


def append_frames(
    video: Sequence[VpdqFrame], part: Sequence[VpdqFrame]
) -> tuple[VpdqFrame, ...] | None:
    """The frames of ``video`` with ``part`` (more frames of the same video, in time
    order) put in their place; None when ``part`` adds nothing (each of its frames,
    counted with repeats, is in ``video`` already: a part sent again).

    A long video sent in parts (a request of the reporting page stays under 16 KB) is
    joined with this. ``part`` goes in whole, after the last frame of ``video`` that is
    not later than ``part``'s first frame: parts that cut one frame list in pieces join
    back into exactly that list, whatever order they come in. (Not a sort of all frames:
    Meta's text writes times to three significant digits, so from 1,000 s on frames ten
    seconds apart share a time, and a sort would mix the ends of two parts.) Frames are
    not de-duplicated one by one either: distinct frames of a static scene can be equal.
    """
    if not Counter(part) - Counter(video):
        return None
    start = part[0].seconds
    at = len(video)
    while at and video[at - 1].seconds > start:
        at -= 1
    return (*video[:at], *part, *video[at:])


def prepare_frames(
    frames: Iterable[VpdqFrame], quality_floor: int = QUALITY_FLOOR
) -> list[VpdqFrame]:
    """The frames vPDQ compares: identical hashes once (the first), then quality >= floor.

    pytx's matcher de-duplicates before it filters; the order matters when a hash repeats
    with different qualities, and is kept here.
    """
    seen: set[str] = set()
    unique: list[VpdqFrame] = []
    for frame in frames:
        if frame.pdq not in seen:
            seen.add(frame.pdq)
            unique.append(frame)
    return [f for f in unique if f.quality >= quality_floor]


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """How much of two videos match: each side's share of frames (0-100)."""

    query_percent: float
    stored_percent: float


def match_percentages(
    query: Sequence[VpdqFrame],
    stored: Sequence[VpdqFrame],
    *,
    quality_floor: int = QUALITY_FLOOR,
    distance: int = FRAME_DISTANCE,
) -> VideoMatch:
    """vPDQ's brute-force comparison of two frame lists (the reference for any index).

    A side left with no frame after filtering matches nothing (0 %), where pytx would
    divide by zero.
    """
    q = prepare_frames(query, quality_floor)
    s = prepare_frames(stored, quality_floor)
    if not q or not s:
        return VideoMatch(0.0, 0.0)

    def share(a: list[VpdqFrame], b: list[VpdqFrame]) -> float:
        hits = sum(any(hamming(x.pdq, y.pdq) <= distance for y in b) for x in a)
        return hits * 100 / len(a)

    return VideoMatch(share(q, s), share(s, q))


class VpdqSpec(SignalSpec):
    """The ``vpdq`` type: a list of frame hashes in Meta's serialisation (``bits=None``).

    ``parse`` gives the canonical text (Meta's JSON, as pytx writes it); ``distance`` is
    100 minus the query side's match percentage at vPDQ's defaults, so 0 means every
    frame of ``a`` is in ``b``. The threshold of this type is the frame distance.
    """

    def parse(self, value: Any) -> str:
        return format_vpdq(parse_vpdq(value))

    def distance(self, a: str, b: str) -> int:
        got = match_percentages(parse_vpdq(a), parse_vpdq(b))
        return round(100 - got.query_percent)

    def weakness(self, value: str) -> str | None:
        frames = prepare_frames(parse_vpdq(value))
        if not frames:
            return f"a vpdq value with no frame of quality {QUALITY_FLOOR} or more"
        return None


VPDQ = VpdqSpec(
    name="vpdq",
    bits=None,
    perceptual=True,
    default_threshold=FRAME_DISTANCE,
    max_threshold=48,
    has_quality=True,
    exchange_names={"threatexchange": "vpdq"},
    label="vPDQ",
)
VIDEO_MD5 = SignalSpec(
    name="video_md5",
    bits=128,
    perceptual=False,
    default_threshold=0,
    max_threshold=0,
    exchange_names={"threatexchange": "video_md5", "stopncii": "VideoMD5"},
    label="Video MD5",
)
VIDEO_SHA256 = SignalSpec(
    name="video_sha256",
    bits=256,
    perceptual=False,
    default_threshold=0,
    max_threshold=0,
    label="Video SHA-256",
)
