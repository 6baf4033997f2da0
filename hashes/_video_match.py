"""vPDQ's matching rule extended by frame variants: the rule hashbank's checks apply.

:func:`hashes.match_percentages` is Meta's rule on plain frames. A video reported through
hashbank also stores variants of its distinct frames (mirrored, trimmed, crops), and a
check hashes variants of its own (trimmed, windows); with them a frame of a mirrored,
cropped or letterboxed copy still finds its original.

:func:`match_with_variants`: after vPDQ's filtering of each side (quality floor,
identical hashes once), a **query frame matches** when its PDQ, or any check variant of
the distinct frame that represents it, is within ``distance`` of any stored frame or
stored variant. A frame is represented by the last entry of its side's
``frame_variants`` at or before its time (``hash_video`` gives near-identical
consecutive frames one set). The stored side's share is the same rule the other way.
With no variants on either side it equals :func:`hashes.match_percentages`.

**The share a match needs** (:func:`variant_match_percent`): vPDQ's 80 % is for plain
frame lists. A check with frame variants needs ``VARIANT_SHARE`` (3/4) of it, 60 % at
the default. Why: the copies variants are made for (letterboxed, inside a screen
recording, a caption band, a watermark) add edges to the frame, so a frame the report
ignores (PDQ quality under 50: a dark or soft shot) turns into a counted query frame
that has nothing to match; a report whose shots are a third of such frames fails at
80 % even when every other frame matches. Lowering the share is safe because a
query frame matches only within PDQ 31 of the report's own frames and variants, which
unrelated footage does not reach: on ``benchmarks/video_accuracy.py``'s unrelated set
the highest share with variants is far below 60 % (docs/benchmarks.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from hashes._video import FrameVariants
from hashes._vpdq import FRAME_DISTANCE, QUALITY_FLOOR, VideoMatch, VpdqFrame, prepare_frames

__all__ = ["VARIANT_SHARE", "match_with_variants", "variant_match_percent"]

VARIANT_SHARE = 0.75
"""A check with frame variants matches at this share of the bank's query-match percent."""


def variant_match_percent(percent: float) -> float:
    """The query-match percent a check with frame variants needs, for a bank's ``percent``
    (vPDQ's rule for plain frames): ``percent * VARIANT_SHARE`` (80 -> 60)."""
    return percent * VARIANT_SHARE


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _bits(hexes: Sequence[str]) -> np.ndarray:
    if not hexes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, 32)


def _groups(frames: list[VpdqFrame], variants: Sequence[FrameVariants]) -> list[tuple[str, ...]]:
    """Per frame, its own PDQ then the variants of the frame that represents it."""
    times = [v.seconds for v in variants]
    out = []
    for f in frames:
        i = bisect.bisect_right(times, f.seconds + 1e-6) - 1
        extra = variants[i].pdq if i >= 0 else ()
        out.append((f.pdq, *extra))
    return out


def _share(groups: list[tuple[str, ...]], targets: np.ndarray, distance: int) -> float:
    """The share (0-100) of groups with a hash within ``distance`` of a target."""
    if not groups or not len(targets):
        return 0.0
    hits = 0
    for group in groups:
        a = _bits(group)
        d = _POPCOUNT[a[:, None, :] ^ targets[None, :, :]].sum(axis=2, dtype=np.int32)
        hits += bool((d <= distance).any())
    return hits * 100 / len(groups)


def match_with_variants(
    query: Sequence[VpdqFrame],
    stored: Sequence[VpdqFrame],
    *,
    query_variants: Sequence[FrameVariants] = (),
    stored_variants: Sequence[FrameVariants] = (),
    quality_floor: int = QUALITY_FLOOR,
    distance: int = FRAME_DISTANCE,
) -> VideoMatch:
    """Each side's share of frames (0-100) matching the other, variants included.

    Args:
        query: the checked video's frames (its plain vPDQ).
        stored: the stored video's frames.
        query_variants: the check's ``frame_variants`` (``hash_video(variants="check")``).
        stored_variants: the report's ``frame_variants`` (``variants="stored"``).
        quality_floor: frames of lower quality are ignored (vPDQ's 50).
        distance: the frame PDQ distance (vPDQ's 31).

    Returns:
        ``VideoMatch(query_percent, stored_percent)``; 0 % for a side with no frame
        left after filtering.
    """
    q = prepare_frames(query, quality_floor)
    s = prepare_frames(stored, quality_floor)
    if not q or not s:
        return VideoMatch(0.0, 0.0)
    q_groups = _groups(q, query_variants)
    s_groups = _groups(s, stored_variants)
    s_all = _bits(list(dict.fromkeys(h for g in s_groups for h in g)))
    q_all = _bits(list(dict.fromkeys(h for g in q_groups for h in g)))
    return VideoMatch(_share(q_groups, s_all, distance), _share(s_groups, q_all, distance))
