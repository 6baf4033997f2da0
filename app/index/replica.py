"""IndexReplica: this process's in-memory copy of every matchable signal.

It loads the matchable signals from the database once, then follows the change log
(polling every ``sync_interval`` seconds, woken early by PostgreSQL NOTIFY when
available) so that every process and replica converges within about a second.
Perceptual signals live in a :class:`hashes.HashIndex` per type; exact ones in a dict.
Every change is idempotent (add = upsert, remove of an unknown id is a no-op), so
replaying a change the initial load already saw is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import hashes
from app.index.notify import ChangeListener
from app.storage.db import Database
from app.storage.models import BankPolicy, ChangeOp
from app.storage.repositories import (
    BankRepository,
    ChangeRepository,
    IndexedSignal,
    SignalRepository,
)

__all__ = ["BankInfo", "Hit", "IndexReplica", "SignalInfo"]

log = logging.getLogger(__name__)

PERCEPTUAL_MAX_RADIUS = {"pdq": 48, "phash": 12}


@dataclass(frozen=True, slots=True)
class BankInfo:
    id: int
    name: str
    policy: BankPolicy
    pdq_threshold: int | None
    phash_threshold: int | None


@dataclass(frozen=True, slots=True)
class SignalInfo:
    type: str
    bank_id: int
    case_id: int | None
    status: str  # case status, or "bank" for a signal entered straight into a bank


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
    """Matchable signals of this process, kept current from the change log."""

    def __init__(self, db: Database, *, sync_interval: float = 0.5) -> None:
        self.db = db
        self.sync_interval = sync_interval
        self.perceptual: dict[str, hashes.HashIndex] = {
            "pdq": hashes.HashIndex(bits=256),
            "phash": hashes.HashIndex(bits=64),
        }
        self.exact: dict[tuple[str, str], set[int]] = {}
        self.signals: dict[int, SignalInfo] = {}
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
        """Read every matchable signal (batched) and the banks; remember the log head."""
        started = time.perf_counter()
        with self.db.read() as session:
            head = ChangeRepository(session).head()
            self._load_banks(BankRepository(session).list())
            for batch in SignalRepository(session).iter_matchable():
                with self._lock:
                    self._upsert(batch)
        with self._lock:
            self.seq = max(self.seq, head)
            self.head_seen = head
            self.loaded = True
            self.last_sync_ok = time.monotonic()
        self.sync()
        log.info(
            "index loaded",
            extra={"signals": len(self.signals), "seconds": time.perf_counter() - started},
        )

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
                banks = BankRepository(session).list() if needs_banks else None
            with self._lock:
                if banks is not None:
                    self._load_banks(banks)
                adds: list[IndexedSignal] = []
                for change in changes:
                    if change.op == ChangeOp.BANK or change.signal_id is None:
                        continue
                    if change.op == ChangeOp.REMOVE:
                        self._flush_adds(adds)
                        self._remove([change.signal_id])
                    elif change.op == ChangeOp.UPDATE and change.signal_id in self.signals:
                        old = self.signals[change.signal_id]
                        self.signals[change.signal_id] = SignalInfo(
                            old.type, old.bank_id, old.case_id, change.status or old.status
                        )
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

    def stop(self) -> None:
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
    def _load_banks(self, banks: Iterable[object]) -> None:
        self.banks = {
            b.id: BankInfo(b.id, b.name, BankPolicy(b.policy), b.pdq_threshold, b.phash_threshold)  # type: ignore[attr-defined]
            for b in banks
        }

    def _upsert(self, batch: Sequence[IndexedSignal]) -> None:
        existing = [s.id for s in batch if s.id in self.signals]
        if existing:
            self._remove(existing)
        by_type: dict[str, list[IndexedSignal]] = {}
        for sig in batch:
            self.signals[sig.id] = SignalInfo(sig.type, sig.bank_id, sig.case_id, sig.status)
            by_type.setdefault(sig.type, []).append(sig)
        for kind, sigs in by_type.items():
            index = self.perceptual.get(kind)
            if index is not None:
                ids = np.fromiter((s.id for s in sigs), dtype=np.int64, count=len(sigs))
                index.add(ids, _rows([s.value for s in sigs], index.bits // 8))
            else:
                for s in sigs:
                    self.exact.setdefault((kind, s.value), set()).add(s.id)

    def _remove(self, ids: Sequence[int]) -> None:
        by_type: dict[str, list[int]] = {}
        for signal_id in ids:
            info = self.signals.pop(signal_id, None)
            if info is not None:
                by_type.setdefault(info.type, []).append(signal_id)
        for kind, sids in by_type.items():
            index = self.perceptual.get(kind)
            if index is not None:
                index.remove(np.asarray(sids, dtype=np.int64))
        if "md5" in by_type or "sha256" in by_type:
            gone = set(ids)
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
        radius = min(radius, PERCEPTUAL_MAX_RADIUS[signal_type])
        results = index.search(_rows(values, index.bits // 8), radius)
        for qi, (ids, dists) in enumerate(results):
            hits.extend(Hit(int(i), int(d), qi) for i, d in zip(ids, dists, strict=True))
        return hits

    def info(self, signal_id: int) -> SignalInfo | None:
        return self.signals.get(signal_id)

    def bank(self, bank_id: int) -> BankInfo | None:
        return self.banks.get(bank_id)

    @property
    def lag(self) -> int:
        """Changes known to exist that this replica has not applied yet."""
        return max(0, self.head_seen - self.seq)

    def size(self) -> dict[str, int]:
        """Signals held per signal type."""
        with self._lock:
            sizes = dict.fromkeys(("pdq", "phash", "md5", "sha256"), 0)
            for info in self.signals.values():
                sizes[info.type] = sizes.get(info.type, 0) + 1
            return sizes
