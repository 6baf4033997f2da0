"""Video matching: a video against stored videos (vPDQ), and across media.

Three questions, each answered from the replica's indexes with one search per distinct
hash, never a scan of the stored videos:

- **video against videos** (:meth:`VideoMatcher.videos`): vPDQ's rule per bank (frames
  below the bank's quality floor ignored, identical frame hashes counted once, a frame
  matches within the bank's ``vpdq`` threshold, a video matches when at least the bank's
  query-match percent of the query's frames match); the result equals
  :func:`hashes.match_percentages`, the brute-force reference. A stored video's frame
  variants (PDQ hashes with ``seconds``) count as its frames; a query with frame
  variants of its own needs :func:`hashes.variant_match_percent` of the bank's percent
  (60 % for vPDQ's 80 %), as :func:`hashes.match_with_variants`' callers do;
- **an image inside a stored video** (:meth:`VideoMatcher.image_in_videos`): a PDQ hash
  of the image within the frame distance of a stored frame (or frame variant) of a bank
  that allows it; the answer names the frame's time;
- **a stored image inside a video** (:meth:`VideoMatcher.images_in_video`): the video's
  frames match a stored image's PDQ hashes (its variants and windows included) for at
  least the bank's number of seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

import hashes
from app.index.replica import BankInfo, IndexReplica, StoredVideo
from app.index.signals import SignalInfo

__all__ = ["VideoDetail", "VideoHit", "VideoMatcher", "VideoQuery", "percentages"]


@dataclass(frozen=True, slots=True)
class VideoDetail:
    """Where two media met: times in seconds; percentages of a video against a video."""

    seconds: float | None = None  # the stored video's first matched frame time
    interval: tuple[float, float] | None = None  # stored video: first..last matched frame
    query_interval: tuple[float, float] | None = None  # the checked video's matched span
    query_percent: float | None = None
    stored_percent: float | None = None


@dataclass(frozen=True, slots=True)
class VideoHit:
    """A stored signal a video (or an image's frame) matched in one bank."""

    signal_id: int
    signal_type: str
    distance: int
    query_value: str
    info: SignalInfo
    bank: BankInfo
    detail: VideoDetail
    query: int = 0  # the position of the query value (image in video: which hash)


@dataclass(frozen=True)
class VideoQuery:
    """A checked video: its vPDQ frames and, per distinct frame, more PDQ hashes of it
    (the check-side variants of a video hashed by the server)."""

    frames: tuple[hashes.VpdqFrame, ...]
    digest: str  # the match log's query value (SHA-256 of the canonical vPDQ text)
    variants: dict[float, tuple[str, ...]] = field(default_factory=dict)  # seconds -> PDQs
    distinct: list[hashes.VpdqFrame] = field(init=False)
    # per distinct frame: the times of every sampled frame with that hash
    times: list[list[float]] = field(init=False)

    def __post_init__(self) -> None:
        distinct = hashes.prepare_frames(self.frames, quality_floor=0)
        position = {f.pdq: i for i, f in enumerate(distinct)}
        times: list[list[float]] = [[] for _ in distinct]
        for f in self.frames:
            times[position[f.pdq]].append(f.seconds)
        object.__setattr__(self, "distinct", distinct)
        object.__setattr__(self, "times", times)

    @classmethod
    def of(cls, value: str, variants: Sequence[tuple[float, str]] = ()) -> VideoQuery:
        """The query of a parsed vPDQ value, with (seconds, pdq) variants of its frames."""
        by_time: dict[float, list[str]] = {}
        for secs, pdq in variants:
            by_time.setdefault(secs, []).append(pdq)
        return cls(
            hashes.parse_vpdq(value),
            hashlib.sha256(value.encode()).hexdigest(),
            {t: tuple(v) for t, v in by_time.items()},
        )

    def search_values(self) -> tuple[list[str], list[int]]:
        """The hashes to search (each distinct frame's, then its variants') and, for each,
        the distinct frame it stands for."""
        values = [f.pdq for f in self.distinct]
        owner = list(range(len(values)))
        if self.variants:
            seconds = np.fromiter((f.seconds for f in self.distinct), dtype=np.float64)
            for secs, pdqs in self.variants.items():
                nearest = int(np.argmin(np.abs(seconds - secs)))
                values.extend(pdqs)
                owner.extend([nearest] * len(pdqs))
        return values, owner

    def match_percent(self, percent: float) -> float:
        """The query-match percent this query needs in a bank asking ``percent``: vPDQ's
        for plain frames, :func:`hashes.variant_match_percent` with frame variants."""
        return hashes.variant_match_percent(percent) if self.variants else percent

    def qualities(self) -> npt.NDArray[np.int16]:
        return np.fromiter((f.quality for f in self.distinct), dtype=np.int16)


def percentages(
    query_qualities: npt.NDArray[np.int16],
    video: StoredVideo,
    hits: Sequence[tuple[int, int, int]],
    *,
    quality_floor: int,
    distance: int,
) -> tuple[float, float, set[int], set[int]]:
    """vPDQ's two shares from index hits (query frame, stored frame, distance).

    Returns (query percent, stored percent, matched query frames, matched stored frames);
    (0, 0) when either side has no frame at the floor, as :func:`hashes.match_percentages`.
    """
    q_ok = query_qualities >= quality_floor
    nq = int(np.count_nonzero(q_ok))
    ns = video.count(quality_floor)
    if not nq or not ns:
        return 0.0, 0.0, set(), set()
    stored_q = video.qualities
    mq: set[int] = set()
    ms: set[int] = set()
    for qi, pos, d in hits:
        if d <= distance and q_ok[qi] and stored_q[pos] >= quality_floor:
            mq.add(qi)
            ms.add(pos)
    return len(mq) * 100 / nq, len(ms) * 100 / ns, mq, ms


def _span(times: Sequence[float]) -> tuple[float, float] | None:
    return (min(times), max(times)) if times else None


class VideoMatcher:
    """The three video questions against one replica, each bank's settings applied."""

    def __init__(self, replica: IndexReplica, frame_distance: int, pdq_distance: int) -> None:
        """``frame_distance``/``pdq_distance``: the defaults of banks with no own ``vpdq``
        and ``pdq`` thresholds (the services' defaults)."""
        self.replica = replica
        self.default = {"vpdq": frame_distance, "pdq": pdq_distance}

    def threshold(self, kind: str, bank: BankInfo) -> int:
        own = bank.thresholds.get(kind)
        return self.default[kind] if own is None else own

    def radius(self, kind: str) -> int:
        """The widest distance any bank accepts (search once, filter per bank)."""
        radius = self.default[kind]
        for bank in list(self.replica.banks.values()):
            radius = max(radius, self.threshold(kind, bank))
        return radius

    def _pdq(self, values: Sequence[str], radius: int) -> list[tuple[int, int, int]]:
        """(signal id, distance, query) of stored PDQ hashes near ``values``."""
        if "pdq" not in self.replica.types:
            return []
        return [
            (h.signal_id, h.distance, h.query) for h in self.replica.search("pdq", values, radius)
        ]

    def _where(self, signal_id: int) -> tuple[SignalInfo, BankInfo] | None:
        info = self.replica.info(signal_id)
        if info is None:
            return None
        bank = self.replica.bank(info.bank_id)
        return None if bank is None else (info, bank)

    def videos(self, query: VideoQuery) -> list[VideoHit]:
        """Stored videos the query matches under their bank's vPDQ settings."""
        values, owner = query.search_values()
        radius = self.radius("vpdq")
        per_video: dict[int, list[tuple[int, int, int]]] = {}
        for h in self.replica.search_frames(values, radius):
            per_video.setdefault(h.signal_id, []).append((owner[h.query], h.position, h.distance))
        for sid, d, qi in self._pdq(values, radius):  # stored frame variants
            secs = self.replica.frame_seconds(sid)
            info = self.replica.info(sid)
            if secs is None or info is None:
                continue
            for vid in self.replica.videos_of_case(info.case_id):
                video = self.replica.video(vid)
                if video is not None:
                    per_video.setdefault(vid, []).append((owner[qi], video.nearest(secs), d))
        qualities = query.qualities()
        out: list[VideoHit] = []
        for sid, hits in sorted(per_video.items()):
            where = self._where(sid)
            video = self.replica.video(sid)
            if where is None or video is None:
                continue
            info, bank = where
            qp, sp, mq, ms = percentages(
                qualities,
                video,
                hits,
                quality_floor=bank.video_quality_floor,
                distance=self.threshold("vpdq", bank),
            )
            if not mq or qp < query.match_percent(bank.video_match_percent):
                continue
            stored_times = [float(video.seconds[p]) for p in ms]
            query_times = [t for qi in mq for t in query.times[qi]]
            detail = VideoDetail(
                seconds=min(stored_times),
                interval=_span(stored_times),
                query_interval=_span(query_times),
                query_percent=round(qp, 2),
                stored_percent=round(sp, 2),
            )
            out.append(VideoHit(sid, "vpdq", round(100 - qp), query.digest, info, bank, detail))
        return out

    def images_in_video(self, query: VideoQuery) -> list[VideoHit]:
        """Stored images (PDQ hashes of no video) shown in the checked video for at least
        their bank's number of seconds; one hit per case (or bank entry): the closest."""
        values, owner = query.search_values()
        groups: dict[tuple[int | None, int], tuple[set[float], tuple[int, int, int]]] = {}
        for sid, d, qi in self._pdq(values, self.radius("pdq")):
            if self.replica.frame_seconds(sid) is not None:
                continue  # a frame of a stored video: the video question
            where = self._where(sid)
            if where is None:
                continue
            info, bank = where
            frame = query.distinct[owner[qi]]
            if (
                not bank.video_has_image
                or d > self.threshold("pdq", bank)
                or frame.quality < bank.video_quality_floor
            ):
                continue
            key = (info.case_id, info.bank_id if info.case_id is None else 0)
            times, best = groups.setdefault(key, (set(), (sid, d, qi)))
            times.update(query.times[owner[qi]])
            if (d, sid) < (best[1], best[0]):
                groups[key] = (times, (sid, d, qi))
        out: list[VideoHit] = []
        for times, (sid, d, qi) in groups.values():
            where = self._where(sid)
            if where is None or len(times) < where[1].video_image_seconds:
                continue
            detail = VideoDetail(query_interval=_span(sorted(times)))
            out.append(VideoHit(sid, "pdq", d, values[qi], where[0], where[1], detail))
        return out

    def image_in_videos(self, values: Sequence[str]) -> list[VideoHit]:
        """Stored video frames within their bank's frame distance of an image's PDQ
        hashes (``values``), where the bank allows it; per video, the closest frame."""
        best: dict[int, VideoHit] = {}
        for h in self.replica.search_frames(values, self.radius("vpdq")):
            where = self._where(h.signal_id)
            video = self.replica.video(h.signal_id)
            if where is None or video is None:
                continue
            info, bank = where
            if (
                not bank.image_in_video
                or h.distance > self.threshold("vpdq", bank)
                or video.qualities[h.position] < bank.video_quality_floor
            ):
                continue
            secs = float(video.seconds[h.position])
            hit = VideoHit(
                h.signal_id,
                "vpdq",
                h.distance,
                values[h.query],
                info,
                bank,
                VideoDetail(seconds=secs, interval=(secs, secs)),
                h.query,
            )
            old = best.get(h.signal_id)
            if old is None or (hit.distance, secs) < (old.distance, old.detail.seconds or 0):
                best[h.signal_id] = hit
        return list(best.values())
