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

__all__ = ["BankInfo", "Hit", "IndexReplica", "SignalInfo"]

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
    ) -> None:
        self.db = db
        self.snapshots = snapshots
        self.snapshot: SnapshotInfo | None = None  # the snapshot the load mapped
        self.refresher: Refresher | None = None
        self.types = types
        self.sync_interval = sync_interval
        self.perceptual: dict[str, hashes.HashIndex] = {
            s.name: hashes.HashIndex(bits=s.bits)
            for s in types
            if s.perceptual and s.bits is not None
        }
        self.max_radius = {s.name: s.max_threshold for s in types if s.perceptual}
        self.exact: dict[tuple[str, str], set[int]] = {}
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
                    if change.op == ChangeOp.BANK or change.signal_id is None:
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
            )
        ids = np.asarray(cols.ids, dtype=np.int64)
        self.signals.put(ids, cols.types, cols.banks, cols.cases, cols.statuses)
        types = np.asarray(cols.types, dtype=object)
        for kind in set(cols.types):
            picked = np.flatnonzero(types == kind)
            index = self.perceptual.get(kind)
            if index is not None:
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
        for kind, sigs in by_type.items():
            index = self.perceptual.get(kind)
            if index is not None:
                sids = np.fromiter((s.id for s in sigs), dtype=np.int64, count=len(sigs))
                rows = _rows([s.value for s in sigs], index.bits // 8)
                index.add(sids, rows)
            else:
                for s in sigs:
                    self.exact.setdefault((kind, s.value), set()).add(s.id)

    def _remove(self, ids: Sequence[int]) -> None:
        by_type = self.signals.remove(np.asarray(ids, dtype=np.int64))
        for kind, sids in by_type.items():
            index = self.perceptual.get(kind)
            if index is not None:
                index.remove(np.asarray(sids, dtype=np.int64))
        gone = {
            sid for kind, sids in by_type.items() if kind not in self.perceptual for sid in sids
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
