"""A long video sent in parts is one stored video.

A request of the reporting page stays under 16 KB, so a long video's vPDQ frame list
(more than about 150 frames) goes in several ``vpdq`` values. Each names the video it is
a part of: ``part_of``, the SHA-256 of the video file, which is the case's
``video_sha256`` value (sent in the same request or an earlier one of the same case).
The first part of a video is stored as the case's ``vpdq`` signal with that key
(``Signal.video_key``); each later part is appended to that signal's value, so the index,
the dashboard, the feed and the exports see one video with all its frames.

The rules, kept here:

- a part joins a video **of its own case** only: ``part_of`` must be a ``video_sha256``
  of the case (the link is looked up among the case's own hashes, so no request can
  reach another case's video, whatever SHA-256 it names); a ``part_of`` that is another
  kind of hash of the case (an image's ``sha256``) is refused as not a video;
- frames are joined in time order, and a part sent again (every frame of it already in
  the video) changes nothing (:func:`hashes.append_frames`);
- the joined video holds at most ``max_frames`` frames (``HASHBANK_MAX_VIDEO_FRAMES``).

How an append reaches the replicas and the feed is the caller's
(:meth:`app.services.cases.CaseService.add_hashes`): a ``remove`` of the signal's old
value and an ``add`` of the joined one, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import hashes
from app.errors import InvalidInput
from app.services.inputs import HashInput
from app.storage.models import Signal

__all__ = ["PartsPlan", "check_links", "plan_parts"]

VIDEO_TYPE = "video_sha256"


@dataclass
class PartsPlan:
    """What a request's hashes do to a case: new signals, and joined values of videos
    the case holds already (the stored signal, its new value)."""

    new: list[HashInput] = field(default_factory=list)
    appends: list[tuple[Signal, str]] = field(default_factory=list)
    frames_added: int = 0


def _short(value: str) -> str:
    return value[:12] + "…"


def check_links(items: Sequence[HashInput], held: Iterable[tuple[str, str]]) -> None:
    """Refuse a part whose ``part_of`` is no ``video_sha256`` of the case.

    ``held``: the (type, value) of the case's stored hashes (none for a new case); the
    request's own ``items`` count too.

    Raises:
        InvalidInput: ``part_of`` names no hash of the case, or a hash that is not a
            video's ``video_sha256``.
    """
    kinds: dict[str, set[str]] = {}
    for kind, value in [*held, *((i.type, i.value) for i in items)]:
        kinds.setdefault(value, set()).add(kind)
    for item in items:
        if item.part_of is None:
            continue
        found = kinds.get(item.part_of, set())
        if VIDEO_TYPE in found:
            continue
        if found:
            raise InvalidInput(
                f"part_of {_short(item.part_of)} is a {' and '.join(sorted(found))} hash of "
                "this case, not a video: a vpdq part joins the video whose video_sha256 the "
                "case holds"
            )
        raise InvalidInput(
            f"part_of {_short(item.part_of)} names no video_sha256 of this case: send the "
            "video's video_sha256 in the same request as its first part, or before it"
        )


def _limit(frames: int, max_frames: int) -> None:
    if frames > max_frames:
        raise InvalidInput(
            f"a video may list at most {max_frames} frames (HASHBANK_MAX_VIDEO_FRAMES); "
            f"its parts would make {frames}"
        )


def plan_parts(
    items: Sequence[HashInput],
    held: Sequence[Signal],
    *,
    max_frames: int,
) -> PartsPlan:
    """Split ``items`` (valid, de-duplicated, the parts of a video within the request
    joined: :func:`app.services.inputs.join_parts`) into new signals and appends to the
    case's stored videos (``held``: the case's live signals).

    A hash the case holds already is left out, as before; a part is never compared with
    the case's other values (it belongs to its video, not to the case's set of hashes).

    Raises:
        InvalidInput: a bad ``part_of`` (see :func:`check_links`), or a video over
            ``max_frames`` frames.
    """
    check_links(items, ((s.type, s.full_value) for s in held))
    have = {(s.type, s.full_value) for s in held}
    videos = {s.video_key: s for s in held if s.video_key is not None}
    out = PartsPlan()
    for item in items:
        if item.part_of is None:
            if (item.type, item.value) not in have:
                out.new.append(item)
            continue
        part = hashes.parse_vpdq(item.value)
        stored = videos.get(item.part_of)
        if stored is None:
            _limit(len(part), max_frames)
            out.new.append(item)
            out.frames_added += len(part)
            continue
        before = hashes.parse_vpdq(stored.full_value)
        joined = hashes.append_frames(before, part)
        if joined is None:
            continue  # a part sent again
        _limit(len(joined), max_frames)
        out.appends.append((stored, hashes.format_vpdq(joined)))
        out.frames_added += len(joined) - len(before)
    return out
