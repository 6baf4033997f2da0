"""IndexReplica: this process's in-memory copy of every matchable signal.

It loads the matchable signals from the database once, then follows the change log
(polling every ``sync_interval`` seconds, woken early by PostgreSQL NOTIFY when
available) so that every process and replica converges within about a second.
Perceptual signals live in a :class:`hashes.HashIndex` per type, exact ones in a dict,
and what a check needs of each signal (type, bank, case, status) in a columnar
:class:`~app.index.signals.SignalTable`.
Every change is idempotent (add = upsert, remove of an unknown id is a no-op), so
replaying a change the initial load already saw is harmless. With a snapshot store
(:mod:`app.index.snapshots`) the load maps the newest valid snapshot instead and replays
the change log after it; its :class:`~app.index.snapshots.Refresher` keeps it recent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

import hashes
from app.index.signals import SignalInfo, SignalTable
from app.index.videos import FrameHit, StoredVideo, VideoFrames
from app.storage.db import Database
from app.storage.models import BankPolicy, ChangeOp
from app.storage.notify import ChangeListener
from app.storage.repositories import (
    BankRepository,
    BankThresholdRepository,
    ChangeRepository,
    IndexedSignal,
    MatchableColumns,
    SignalRepository,
)

if TYPE_CHECKING:
    from app.index.snapshots import Refresher, SnapshotInfo, SnapshotStore
    from app.storage import Session

__all__ = ["BankInfo", "FrameHit", "Hit", "IndexReplica", "SignalInfo", "StoredVideo"]

log = logging.getLogger(__name__)

# index rows read during the initial load, added in one go: type -> (ids, rows) chunks
_Staged = dict[str, tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.uint8]]]]


@dataclass(frozen=True, slots=True)
class BankInfo:
    id: int
    name: str
    policy: BankPolicy
    # the bank's own match distance per signal type; a type not here uses the default
    thresholds: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    phash_block: bool = False  # a pHash-only match may block (else it answers review)
    video_quality_floor: int = hashes.QUALITY_FLOOR
    video_match_percent: int = int(hashes.QUERY_MATCH_PERCENT)
    image_in_video: bool = True  # an image checked may match a stored video's frames
    video_has_image: bool = True  # a video checked may match a stored image
    video_image_seconds: int = 2  # ... shown for at least this many sampled seconds


@dataclass(frozen=True, slots=True)
class Hit:
    """A stored signal within the searched radius of one query."""

    signal_id: int
    distance: int
    query: int  # position of the query in the searched list


def _rows(values: Sequence[str], nbytes: int) -> npt.NDArray[np.uint8]:
    buf = bytes.fromhex("".join(values))
    return np.frombuffer(buf, dtype=np.uint8).reshape(len(values), nbytes)


class IndexReplica:
    """Matchable signals of this process, kept current from the change log.

    ``types`` are the enabled signal types (default: the built-in ones): one
    :class:`hashes.HashIndex` per perceptual type, exact look-up for the others. Stored
    signals of a type that is not enabled are not loaded (they match nothing).
    """

    def __init__(
        self,
        db: Database,
        *,
        types: hashes.SignalRegistry = hashes.BUILTINS,
        sync_interval: float = 0.5,
        snapshots: SnapshotStore | None = None,
        chunks: Mapping[str, int] | None = None,
    ) -> None:
        self.db = db
        self.snapshots = snapshots
        self.snapshot: SnapshotInfo | None = None  # the snapshot the load mapped
        self.refresher: Refresher | None = None
        self.types = types
        self.sync_interval = sync_interval
        self.chunks = dict(chunks or {})  # type -> chunk count (else the index's default)
        self.perceptual: dict[str, hashes.HashIndex] = {
            s.name: hashes.HashIndex(bits=s.bits, chunks=self.chunks.get(s.name))
            for s in types
            if s.perceptual and s.bits is not None
        }
        self.max_radius = {s.name: s.max_threshold for s in types if s.perceptual}
        self.exact: dict[tuple[str, str], set[int]] = {}
        # types of their own serialisation (vpdq): their frames, in an index of their own
        self.videos = VideoFrames()
        self.video_types = frozenset(s.name for s in types if s.bits is None)
        # frame variants: signal id -> its time in its case's video; case -> its videos
        self.seconds: dict[int, float] = {}
        self.case_videos: dict[int, set[int]] = {}
        self.signals = SignalTable(types=types.names)
        self.banks: dict[int, BankInfo] = {}
        self.seq = 0
        self.head_seen = 0
        self.loaded = False
        self.last_sync_ok = 0.0
        self.last_error: str | None = None
        self._lock = threading.RLock()  # guards the maps and indexes while they change
        self._sync_lock = threading.Lock()  # one sync at a time, so changes apply in order
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: ChangeListener | None = None

    # -- loading and following -------------------------------------------------------
    def load(self) -> None:
        """Map the newest valid snapshot, or else read every matchable signal (batched);
        read the banks; replay the change log."""
        started = time.perf_counter()
        hashes.HashIndex.compile()  # before ready: no check pays for the compilation
        if self.snapshots is not None:
            self.snapshot = self.snapshots.restore(self)
        if self.snapshot is None:
            self._load_database()
        else:
            self._load_media()
        self.loaded = True
        self.sync()
        log.info(
            "index loaded",
            extra={
                "signals": len(self.signals),
                "seconds": round(time.perf_counter() - started, 3),
                "source": "database" if self.snapshot is None else self.snapshot.path.name,
            },
        )

    def _load_database(self) -> None:
        staged: _Staged = {}
        with self.db.read() as session:
            head = ChangeRepository(session).head()
            self._load_banks(session)
            for columns in SignalRepository(session).iter_matchable_columns():
                with self._lock:
                    self._load_columns(columns, staged)
        with self._lock:
            # one add per index: a single O(n) build instead of one merge per batch
            for kind, (ids, rows) in staged.items():
                self.perceptual[kind].add(np.concatenate(ids), np.concatenate(rows))
            self.seq = max(self.seq, head)
            self.head_seen = head
            self.last_sync_ok = time.monotonic()

    def _load_media(self) -> None:
        """What a snapshot does not hold: the frames of stored videos and the times of
        frame variants, read from the few rows that have them (a partial index), for the
        signals the snapshot holds; those added after it come with the replayed log."""
        with self.db.read() as session:
            for cols in SignalRepository(session).iter_matchable_columns(media_only=True):
                with self._lock:
                    videos: list[tuple[int, str, int | None]] = []
                    for sid, kind, value, case, secs in zip(
                        cols.ids, cols.types, cols.values, cols.cases, cols.seconds, strict=True
                    ):
                        if kind not in self.types or self.signals.get(int(sid)) is None:
                            continue  # added after the snapshot: its replayed change adds it
                        if secs is not None:
                            self.seconds[int(sid)] = float(secs)
                        if kind in self.video_types:
                            videos.append((int(sid), value, case))
                    self._add_videos(videos)

    def sync(self, limit: int = 20_000) -> int:
        """Apply every change after the last one seen; return how many were applied."""
        with self._sync_lock:
            return self._sync(limit)

    def _sync(self, limit: int) -> int:
        applied = 0
        while True:
            with self.db.read() as session:
                repo = ChangeRepository(session)
                changes = repo.after(self.seq, limit)
                head = repo.head() if len(changes) < limit else 0
                needs_banks = any(c.op == ChangeOp.BANK for c in changes)
                if needs_banks:
                    self._load_banks(session)
            with self._lock:
                adds: list[IndexedSignal] = []
                removes: list[int] = []
                for change in changes:
                    if change.op in (ChangeOp.BANK, ChangeOp.MATCH) or change.signal_id is None:
                        continue
                    if change.op != ChangeOp.REMOVE and change.signal_type not in self.types:
                        continue  # a type not enabled here: it matches nothing
                    if change.op == ChangeOp.REMOVE:
                        self._flush_adds(adds)
                        removes.append(change.signal_id)
                        continue
                    self._flush_removes(removes)
                    if change.op == ChangeOp.UPDATE and self.signals.get(change.signal_id):
                        if change.status:
                            self.signals.set_status(change.signal_id, change.status)
                    else:  # ADD, or UPDATE of a signal this replica does not hold yet
                        adds.append(
                            IndexedSignal(
                                change.signal_id,
                                change.signal_type or "",
                                change.value or "",
                                change.bank_id or 0,
                                change.case_id,
                                change.status or "pending",
                                change.seconds,
                            )
                        )
                self._flush_adds(adds)
                self._flush_removes(removes)
                if changes:
                    self.seq = changes[-1].seq
                self.head_seen = max(self.head_seen, head, self.seq)
                self.last_sync_ok = time.monotonic()
                self.last_error = None
            applied += len(changes)
            if len(changes) < limit:
                return applied

    def _flush_adds(self, adds: list[IndexedSignal]) -> None:
        if adds:
            self._upsert(adds)
            adds.clear()

    def _flush_removes(self, removes: list[int]) -> None:
        if removes:
            self._remove(removes)
            removes.clear()

    def start(self) -> None:
        """Follow the change log in a daemon thread until :meth:`stop`.

        On PostgreSQL a LISTEN connection wakes the follower as soon as a change
        commits; polling every ``sync_interval`` remains the fallback.
        """
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="index-sync", daemon=True)
            self._thread.start()
            if not self.db.sqlite:
                self._listener = ChangeListener(self.db.url, self.wake)
                self._listener.start()
            if self.refresher is not None:
                self.refresher.start()

    def stop(self) -> None:
        if self.refresher is not None:
            self.refresher.stop()
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        """Ask the follower to sync now (e.g. on a NOTIFY)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.sync_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
            except Exception as exc:  # the database may be restarting: keep trying
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("index sync failed", extra={"error": self.last_error})

    # -- mutation (under self._lock) -----------------------------------------------------
    def _load_banks(self, session: Session) -> None:
        thresholds = BankThresholdRepository(session).all()
        banks = {
            b.id: BankInfo(
                b.id,
                b.name,
                BankPolicy(b.policy),
                MappingProxyType(thresholds.get(b.id, {})),
                bool(b.phash_block),
                b.video_quality_floor,
                b.video_match_percent,
                b.image_in_video,
                b.video_has_image,
                b.video_image_seconds,
            )
            for b in BankRepository(session).list()
        }
        with self._lock:
            self.banks = banks

    def _load_columns(self, cols: MatchableColumns, staged: _Staged) -> None:
        """Initial load of one batch (ids unique and new): table rows now, index rows staged
        for one bulk add per index."""
        if not set(cols.types) <= set(self.types.names):  # types not enabled: left out
            keep = [i for i, kind in enumerate(cols.types) if kind in self.types]
            cols = MatchableColumns(
                [cols.ids[i] for i in keep],
                [cols.types[i] for i in keep],
                [cols.values[i] for i in keep],
                [cols.banks[i] for i in keep],
                [cols.cases[i] for i in keep],
                [cols.statuses[i] for i in keep],
                [cols.seconds[i] for i in keep] if cols.seconds else (),
            )
        ids = np.asarray(cols.ids, dtype=np.int64)
        self.signals.put(ids, cols.types, cols.banks, cols.cases, cols.statuses)
        for i, secs in enumerate(cols.seconds):
            if secs is not None:
                self.seconds[int(cols.ids[i])] = float(secs)
        types = np.asarray(cols.types, dtype=object)
        for kind in set(cols.types):
            picked = np.flatnonzero(types == kind)
            index = self.perceptual.get(kind)
            if kind in self.video_types:
                self._add_videos(
                    [(int(cols.ids[i]), cols.values[i], cols.cases[i]) for i in picked.tolist()]
                )
            elif index is not None:
                values = [cols.values[i] for i in picked.tolist()]
                staged.setdefault(kind, ([], []))
                staged[kind][0].append(ids[picked])
                staged[kind][1].append(_rows(values, index.bits // 8))
            else:
                for i in picked.tolist():
                    self.exact.setdefault((kind, cols.values[i]), set()).add(int(ids[i]))

    def _upsert(self, batch: Sequence[IndexedSignal]) -> None:
        """Insert or replace signals."""
        latest = list({sig.id: sig for sig in batch}.values())  # last write wins
        ids = np.fromiter((s.id for s in latest), dtype=np.int64, count=len(latest))
        held = self.signals.held(ids)
        if held.any():
            self._remove(ids[held].tolist())
        # the table first: a search that finds an id in an index can always look it up
        self.signals.put(
            ids,
            [s.type for s in latest],
            [s.bank_id for s in latest],
            [s.case_id for s in latest],
            [s.status for s in latest],
        )
        by_type: dict[str, list[IndexedSignal]] = {}
        for sig in latest:
            by_type.setdefault(sig.type, []).append(sig)
        for sig in latest:
            if sig.seconds is not None:
                self.seconds[sig.id] = float(sig.seconds)
        for kind, sigs in by_type.items():
            index = self.perceptual.get(kind)
            if kind in self.video_types:
                self._add_videos([(s.id, s.value, s.case_id) for s in sigs])
            elif index is not None:
                sids = np.fromiter((s.id for s in sigs), dtype=np.int64, count=len(sigs))
                rows = _rows([s.value for s in sigs], index.bits // 8)
                index.add(sids, rows)
            else:
                for s in sigs:
                    self.exact.setdefault((kind, s.value), set()).add(s.id)

    def _add_videos(self, videos: Sequence[tuple[int, str, int | None]]) -> None:
        """Index the frames of stored videos (signal id, vPDQ value, case id or -1)."""
        good = []
        for sid, value, case_id in videos:
            try:
                hashes.parse_vpdq(value)
            except hashes.InvalidHash:
                log.warning("unreadable vpdq value left out", extra={"signal_id": sid})
                continue
            good.append((sid, value))
            if case_id is not None and case_id >= 0:
                self.case_videos.setdefault(case_id, set()).add(sid)
        self.videos.add(good)

    def _remove(self, ids: Sequence[int]) -> None:
        cases = {sid: info.case_id for sid in ids if (info := self.signals.get(sid)) is not None}
        by_type = self.signals.remove(np.asarray(ids, dtype=np.int64))
        for sid in ids:
            self.seconds.pop(sid, None)
        for kind, sids in by_type.items():
            index = self.perceptual.get(kind)
            if index is not None:
                index.remove(np.asarray(sids, dtype=np.int64))
            elif kind in self.video_types:
                self.videos.remove(sids)
                for sid in sids:
                    held = self.case_videos.get(cases.get(sid) or -1)
                    if held is not None:
                        held.discard(sid)
                        if not held:
                            del self.case_videos[cases.get(sid) or -1]
        gone = {
            sid
            for kind, sids in by_type.items()
            if kind not in self.perceptual and kind not in self.video_types
            for sid in sids
        }
        if gone:
            for key in [k for k, v in self.exact.items() if v & gone]:
                self.exact[key] -= gone
                if not self.exact[key]:
                    del self.exact[key]

    # -- queries -----------------------------------------------------------------------
    def search(self, signal_type: str, values: Sequence[str], radius: int) -> list[Hit]:
        """Every matchable signal of ``signal_type`` within ``radius`` of any value."""
        if not values:
            return []
        index = self.perceptual.get(signal_type)
        hits: list[Hit] = []
        if index is None:
            for qi, value in enumerate(values):
                # tuple() copies the set atomically (under the GIL) against the follower
                for sid in tuple(self.exact.get((signal_type, value), ())):
                    hits.append(Hit(sid, 0, qi))
            return hits
        radius = min(radius, self.max_radius[signal_type])
        results = index.search(_rows(values, index.bits // 8), radius)
        for qi, (ids, dists) in enumerate(results):
            hits.extend(Hit(int(i), int(d), qi) for i, d in zip(ids, dists, strict=True))
        return hits

    def search_frames(self, values: Sequence[str], radius: int) -> list[FrameHit]:
        """Every stored video frame within ``radius`` of any of ``values`` (PDQ hex)."""
        radius = min(radius, max((self.max_radius[k] for k in self.video_types), default=0))
        return self.videos.search(values, radius)

    def video(self, signal_id: int) -> StoredVideo | None:
        """A stored video's frames' qualities and times, if held."""
        return self.videos.get(signal_id)

    def videos_of_case(self, case_id: int | None) -> tuple[int, ...]:
        """The stored videos (signal ids) of a case."""
        return () if case_id is None else tuple(self.case_videos.get(case_id, ()))

    def frame_seconds(self, signal_id: int) -> float | None:
        """A frame variant's time in its case's video (None for any other signal)."""
        return self.seconds.get(signal_id)

    def info(self, signal_id: int) -> SignalInfo | None:
        return self.signals.get(signal_id)

    def bank(self, bank_id: int) -> BankInfo | None:
        return self.banks.get(bank_id)

    @property
    def sync_age(self) -> float:
        """Seconds since the last successful sync with the change log."""
        return time.monotonic() - self.last_sync_ok

    @property
    def lag(self) -> int:
        """Changes known to exist that this replica has not applied yet."""
        return max(0, self.head_seen - self.seq)

    def size(self) -> dict[str, int]:
        """Signals held per signal type."""
        with self._lock:
            return self.signals.counts()
