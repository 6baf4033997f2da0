"""VideoFrames: the frames of every stored vPDQ value, in an exact HashIndex of their own.

A stored ``vpdq`` signal contributes its distinct frame hashes (vPDQ de-duplicates
identical hashes, keeping the first) to one :class:`hashes.HashIndex`, each under the id
``signal_id << FRAME_BITS | position``, so a hit names its video and frame with no
look-up table. Per video the qualities and times of those frames are kept in two small
arrays: a bank's quality floor is applied at check time (the index holds every frame),
and the counts a match percentage needs are read from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import hashes

__all__ = ["FRAME_BITS", "FrameHit", "StoredVideo", "VideoFrames"]

FRAME_BITS = 16
"""Frame positions take the low 16 bits of an index id (vPDQ values hold <= 36,000)."""
_MASK = (1 << FRAME_BITS) - 1


@dataclass(frozen=True, slots=True)
class StoredVideo:
    """A stored vPDQ value's distinct frames (in order) as the matcher needs them."""

    qualities: npt.NDArray[np.int16]
    seconds: npt.NDArray[np.float64]
    frames: int  # frames the value lists (duplicates included)

    @property
    def duration(self) -> float:
        """The last sampled frame's time (vPDQ values carry no duration of their own)."""
        return float(self.seconds.max()) if self.seconds.size else 0.0

    def count(self, quality_floor: int) -> int:
        """How many distinct frames reach ``quality_floor`` (vPDQ's stored-side total)."""
        return int(np.count_nonzero(self.qualities >= quality_floor))

    def nearest(self, seconds: float) -> int:
        """The position of the frame sampled nearest to ``seconds``."""
        return int(np.argmin(np.abs(self.seconds - seconds)))


@dataclass(frozen=True, slots=True)
class FrameHit:
    """A stored frame within the searched radius of query row ``query``."""

    signal_id: int
    position: int
    distance: int
    query: int


def frame_rows(value: str) -> tuple[npt.NDArray[np.uint8], StoredVideo]:
    """The distinct frames of a parsed vPDQ value as hash rows, and their details."""
    frames = hashes.parse_vpdq(value)
    distinct = hashes.prepare_frames(frames, quality_floor=0)
    rows = np.frombuffer(bytes.fromhex("".join(f.pdq for f in distinct)), dtype=np.uint8)
    video = StoredVideo(
        np.fromiter((f.quality for f in distinct), dtype=np.int16, count=len(distinct)),
        np.fromiter((f.seconds for f in distinct), dtype=np.float64, count=len(distinct)),
        len(frames),
    )
    return rows.reshape(len(distinct), 32), video


class VideoFrames:
    """Frames of the stored videos: add and remove whole videos, search frames."""

    def __init__(self) -> None:
        self.index = hashes.HashIndex(bits=256)
        self.videos: dict[int, StoredVideo] = {}

    def add(self, videos: Iterable[tuple[int, str]]) -> None:
        """Add (signal id, vPDQ value) pairs (ids not held; upserts remove first)."""
        ids: list[npt.NDArray[np.int64]] = []
        rows: list[npt.NDArray[np.uint8]] = []
        for signal_id, value in videos:
            frame_hashes, video = frame_rows(value)
            self.videos[signal_id] = video
            n = frame_hashes.shape[0]
            ids.append((np.int64(signal_id) << FRAME_BITS) | np.arange(n, dtype=np.int64))
            rows.append(frame_hashes)
        if ids:
            self.index.add(np.concatenate(ids), np.concatenate(rows))

    def remove(self, signal_ids: Iterable[int]) -> None:
        gone: list[npt.NDArray[np.int64]] = []
        for signal_id in signal_ids:
            video = self.videos.pop(signal_id, None)
            if video is not None:
                n = video.qualities.shape[0]
                gone.append((np.int64(signal_id) << FRAME_BITS) | np.arange(n, dtype=np.int64))
        if gone:
            self.index.remove(np.concatenate(gone))

    def search(self, values: Sequence[str], radius: int) -> list[FrameHit]:
        """Every stored frame within ``radius`` of any of ``values`` (PDQ hex)."""
        if not values or not self.videos:
            return []
        rows = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8)
        results = self.index.search(rows.reshape(len(values), 32), radius)
        out: list[FrameHit] = []
        for qi, (fids, dists) in enumerate(results):
            for fid, d in zip(fids.tolist(), dists.tolist(), strict=True):
                out.append(FrameHit(fid >> FRAME_BITS, fid & _MASK, d, qi))
        return out

    def get(self, signal_id: int) -> StoredVideo | None:
        return self.videos.get(signal_id)

    def __len__(self) -> int:
        return len(self.index)
