"""Plain input values the services accept (the API and CLI build them)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import hashes
from app.errors import InvalidInput

__all__ = [
    "DEFAULT_MIN_PDQ_QUALITY",
    "HashInput",
    "from_hashes",
    "inherit_frame_quality",
    "join_parts",
    "refuse_weak",
    "validate_hashes",
    "weakness",
]

DEFAULT_MIN_PDQ_QUALITY = 50
MAX_SECONDS = 36_000.0  # a frame's time: vPDQ's longest value at one frame per second
_NO_QUALITY = "hash needs its quality (0-100, at least {}); one sent without counts as 0"


@dataclass(frozen=True, slots=True)
class HashInput:
    """One hash of one signal type, lowercase hex (a vPDQ value: Meta's serialisation),
    with an optional PDQ quality; ``seconds``: a PDQ hash of one frame of the video the
    same request reports, at that time in the video (a frame variant); ``part_of``: a
    vPDQ value that is a part of the video whose file has this SHA-256 (the case's
    ``video_sha256``): the parts of one video are joined into one stored value."""

    type: str
    value: str
    quality: int | None = None
    seconds: float | None = None
    part_of: str | None = None


def inherit_frame_quality(items: Sequence[HashInput]) -> list[HashInput]:
    """``items`` with each PDQ frame variant (a hash with ``seconds``) sent without a
    quality given the quality of the frame nearest its time in the request's vPDQ value
    (a variant is judged as its frame: one of a blank frame is refused as weak). With no
    vPDQ value in ``items`` they stay as they are. ``items`` must be valid."""
    frames = [f for item in items if item.type == "vpdq" for f in hashes.parse_vpdq(item.value)]
    if not frames or not any(i.seconds is not None and i.quality is None for i in items):
        return list(items)
    times = sorted((f.seconds, f.quality) for f in frames)
    keys = [t for t, _ in times]

    def quality_at(seconds: float) -> int:
        at = bisect.bisect_left(keys, seconds)
        near = [j for j in (at - 1, at) if 0 <= j < len(times)]
        return times[min(near, key=lambda j: abs(keys[j] - seconds))][1]

    return [
        HashInput(i.type, i.value, quality_at(i.seconds), i.seconds)
        if i.seconds is not None and i.quality is None
        else i
        for i in items
    ]


def validate_hashes(
    items: Iterable[HashInput], types: hashes.SignalRegistry = hashes.BUILTINS
) -> list[HashInput]:
    """Normalize hash strings; a type not in ``types`` (the enabled ones), a wrong length
    or text the type cannot parse is InvalidInput."""
    out: list[HashInput] = []
    for i, item in enumerate(items):
        try:
            value = types.parse(item.type, item.value)
        except hashes.InvalidHash as exc:
            raise InvalidInput(f"hashes[{i}]: {exc}") from exc
        if item.quality is not None and not 0 <= item.quality <= 100:
            raise InvalidInput(f"hashes[{i}]: quality must be between 0 and 100")
        if item.seconds is not None:
            spec = types.get(item.type)
            if not spec.perceptual or spec.bits is None:
                raise InvalidInput(
                    f"hashes[{i}]: seconds belongs to a frame's perceptual hash (pdq), "
                    f"not to {item.type}"
                )
            if not math.isfinite(item.seconds) or not 0 <= item.seconds <= MAX_SECONDS:
                raise InvalidInput(f"hashes[{i}]: seconds must be between 0 and {MAX_SECONDS}")
        part_of = None
        if item.part_of is not None:
            if types.get(item.type).bits is not None:
                raise InvalidInput(
                    f"hashes[{i}]: part_of belongs to a vpdq value (a part of a video's "
                    f"frame list), not to {item.type}"
                )
            try:
                part_of = hashes.VIDEO_SHA256.parse(item.part_of)
            except hashes.InvalidHash as exc:
                raise InvalidInput(
                    f"hashes[{i}]: part_of is the video's SHA-256 (its video_sha256): {exc}"
                ) from exc
        # valid: a type name
        out.append(HashInput(str(item.type), value, item.quality, item.seconds, part_of))
    return out


def join_parts(items: Sequence[HashInput]) -> list[HashInput]:
    """``items`` with the vPDQ parts of one video (the same ``part_of``) joined into one
    value, in the place of its first part (:func:`hashes.append_frames`: time order, a
    repeated part once). ``items`` must be valid."""
    first: dict[str, int] = {}
    frames: dict[str, tuple[hashes.VpdqFrame, ...]] = {}
    out: list[HashInput] = []
    for item in items:
        key = item.part_of
        if key is None:
            out.append(item)
            continue
        part = hashes.parse_vpdq(item.value)
        if key not in first:
            first[key] = len(out)
            frames[key] = part
            out.append(item)
            continue
        frames[key] = hashes.append_frames(frames[key], part) or frames[key]
    for key, at in first.items():
        out[at] = replace(out[at], value=hashes.format_vpdq(frames[key]))
    return out


def from_hashes(
    h: hashes.Hashes, *, stored: bool, types: hashes.SignalRegistry = hashes.BUILTINS
) -> list[HashInput]:
    """The signals of one hashed image, of the types enabled in ``types``.

    ``pdq_stored`` for a report (``stored=True``), ``pdq_variants`` for a check.
    """
    pdqs: Sequence[str] = h.pdq_stored if stored else h.pdq_variants
    items = [HashInput("pdq", v, h.pdq_quality) for v in pdqs]
    items += [HashInput("phash", h.phash), HashInput("md5", h.md5), HashInput("sha256", h.sha256)]
    return [item for item in items if item.type in types]


def weakness(
    item: HashInput,
    *,
    min_pdq_quality: int = DEFAULT_MIN_PDQ_QUALITY,
    quality_required: bool = False,
    types: hashes.SignalRegistry = hashes.BUILTINS,
) -> str | None:
    """Why ``item`` must not enter a bank, or None when it may.

    Refused: a PDQ quality below ``min_pdq_quality``; a PDQ hash with no quality when
    ``quality_required`` (it counts as the lowest: anonymous reports must send it, else
    leaving it out would slip any hash past the floor; trusted callers such as ``report``
    keys and imports may omit it, and it is then not judged); a PDQ hash with fewer than
    16 or more than 240 of its 256 bits set, a pHash with fewer than 4 or more than 60 of
    its 64, and any hash that is all zeros or all ones: each type's spec has the rule
    (:meth:`hashes.SignalSpec.weakness`), and the quality floor applies to every type
    whose spec says its values have a quality. ``item`` must already be valid (see
    :func:`validate_hashes`).
    """
    spec = types.get(item.type)
    degenerate = spec.weakness(item.value)
    if degenerate is not None:
        return degenerate
    if not spec.has_quality or spec.bits is None:
        return None  # (a vPDQ value carries each frame's quality: its spec judges them)
    label = spec.label or spec.name
    if item.quality is not None and item.quality < min_pdq_quality:
        return f"{label} quality {item.quality} is below {min_pdq_quality}"
    if item.quality is None and quality_required and min_pdq_quality > 0:
        return f"a {label} " + _NO_QUALITY.format(min_pdq_quality)
    return None


def refuse_weak(
    items: Sequence[HashInput],
    *,
    min_pdq_quality: int = DEFAULT_MIN_PDQ_QUALITY,
    quality_required: bool = False,
    types: hashes.SignalRegistry = hashes.BUILTINS,
) -> None:
    """Refuse hashes that would match unrelated images (see :func:`weakness`).

    Raises:
        InvalidInput: one or more weak hashes; ``weak`` lists each one's position and why.
    """
    weak = [
        {"index": i, "type": item.type, "reason": reason}
        for i, item in enumerate(items)
        if (
            reason := weakness(
                item,
                min_pdq_quality=min_pdq_quality,
                quality_required=quality_required,
                types=types,
            )
        )
        is not None
    ]
    if weak:
        first = weak[0]
        if str(first["reason"]).endswith(_NO_QUALITY.format(min_pdq_quality)):
            raise InvalidInput(f"hashes[{first['index']}]: {first['reason']}", weak=weak)
        raise InvalidInput(
            f"hashes[{first['index']}] would match unrelated images: {first['reason']}; "
            "blank, uniform or near-blank images cannot be reported",
            weak=weak,
        )
