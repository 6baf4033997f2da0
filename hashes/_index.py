"""HashIndex: exact radius search over binary hashes (multi-index hashing).

``add(ids, hashes)``, ``remove(ids)``, ``len(index)`` and
``search(queries, radius) -> list[tuple[ids, distances]]``: every stored hash within
``radius`` bits of each query row, with its distance, sorted by (distance, id). Exact by
construction (see :mod:`hashes._mih_kernels`) and checked against brute force by the
property tests.

Layout, LSM-style: a *main* segment with one bucketed table per chunk (built in O(n) by
counting sort, later rows merged into its buckets), a small *delta* segment scanned
linearly, and tombstones (an ``alive`` byte per row). Adds go to the delta; when it
outgrows ``delta_limit`` the two are merged into a new main segment. Removals mark rows
dead; the main segment is compacted once a quarter of it is dead.

Snapshots: :meth:`HashIndex.export` hands out the arrays of a compacted main segment
holding every live row, and :meth:`HashIndex.adopt` takes such arrays back, for instance
memory-mapped read-only from a file that every process of a machine shares. The adopted
arrays are never written: removals flip a private ``alive`` byte, adds go to the private
delta (allowed to grow to 1/16 of the mapped segment before a merge copies it all).

Concurrency: searches read an immutable snapshot and never block; ``add``/``remove``
serialise on a lock and publish a new snapshot. Rows are only ever appended past a
snapshot's count or flipped dead in place, so a search concurrent with a change sees the
index either before or after it. The kernels release the GIL.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hashes import _mih_kernels as k

__all__ = ["HashIndex"]

Result = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]

# Cost model (nanoseconds) deciding between multi-index probing and a linear scan for a
# query; both are exact, so a wrong guess only costs time.
_NS_BUCKET = 25.0
_NS_CANDIDATE = 20.0
_NS_SCAN_WORD = 0.5


def _default_chunks(bits: int) -> int:
    return max(1, round(bits / 23))


@dataclass(frozen=True)
class _Main:
    words: npt.NDArray[np.uint64]  # (n, W)
    ids: npt.NDArray[np.int64]
    alive: npt.NDArray[np.uint8]
    prefixes: npt.NDArray[np.int64]
    dir_offsets: npt.NDArray[np.int64]
    directories: npt.NDArray[np.uint32]
    entries: npt.NDArray[np.uint32]  # (m, n): row << shift | residual, bucket order
    dead: list[int] = field(default_factory=lambda: [0])  # rows marked dead (mutable cell)
    mapped: bool = False  # adopted arrays (shared, read-only): merge into private memory late
    # radius -> (chunk budgets, whether to probe rather than scan), filled on first use
    plans: dict[int, tuple[npt.NDArray[np.int64], bool]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class _Delta:
    words: npt.NDArray[np.uint64]  # capacity rows; the first ``count`` are valid
    ids: npt.NDArray[np.int64]
    alive: npt.NDArray[np.uint8]
    count: int


@dataclass(frozen=True)
class _Snapshot:
    main: _Main
    delta: _Delta
    size: int  # live rows


class HashIndex:
    """Every stored hash within ``radius`` bits of a query, with its distance (exact).

    ``bits`` is the hash length (a multiple of 8: 256 for PDQ, 64 for pHash). ``chunks``
    is how many pieces the bits are cut into (default: about 23 bits per chunk, the best
    trade-off at millions of hashes in ``benchmarks/index.py``). ``bucket_size`` is the
    mean entries per bucket the main segment aims at, ``delta_limit`` how many rows the
    linearly scanned delta holds before it is merged into the main segment.

    ``strategy`` picks how the main segment is searched: ``"auto"`` (a cost model
    chooses per call between multi-index probing and a linear scan), ``"mih"`` or
    ``"scan"``. All three return the same, exact results; the tests force each.

    Ids are the caller's: ``add`` does not look for an id already present (``remove``
    takes out every row with the id, so update = remove + add).
    """

    def __init__(
        self,
        bits: int = 256,
        *,
        chunks: int | None = None,
        bucket_size: int = 8,
        delta_limit: int = 4_096,
        strategy: Literal["auto", "mih", "scan"] = "auto",
    ) -> None:
        if strategy not in ("auto", "mih", "scan"):
            raise ValueError("strategy must be 'auto', 'mih' or 'scan'")
        self.strategy = strategy
        if bits <= 0 or bits % 8:
            raise ValueError("bits must be a positive multiple of 8")
        self.bits = bits
        self.nbytes = bits // 8
        self._words = (bits + 63) // 64
        m = chunks or _default_chunks(bits)
        if not 1 <= m <= bits or math.ceil(bits / m) > 32:
            raise ValueError(f"chunks must be between {math.ceil(bits / 32)} and {bits}")
        base, extra = divmod(bits, m)
        # longer chunks first: they get the larger budgets (fewer candidates per probe)
        self._lengths = np.array([base + 1] * extra + [base] * (m - extra), dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self._lengths)[:-1]]).astype(np.int64)
        self.bucket_size = bucket_size
        self.delta_limit = delta_limit
        self._lock = threading.Lock()
        self._snap = _Snapshot(
            self._build(self._empty_words(0), np.zeros(0, np.int64)), self._empty_delta(), 0
        )

    @staticmethod
    def compile() -> None:
        """Compile (or load from numba's cache) every kernel now.

        The first use otherwise pays for it (~3 s without a cache): a service calls this
        before it reports ready. Read-only (adopted, memory-mapped) arrays are a kernel
        signature of their own, compiled here too.
        """
        for strategy in ("mih", "scan"):
            index = HashIndex(64, strategy=strategy)
            index.add(np.arange(4), np.zeros((4, 8), np.uint8))
            index.search(np.zeros((1, 8), np.uint8), 3)
            index.remove([1])
            arrays = index.export()()
            for array in arrays.values():
                array.flags.writeable = False
            index.adopt(arrays)
            index.search(np.zeros((1, 8), np.uint8), 3)
            index.remove([2])
            index.add([5], np.ones((1, 8), np.uint8))
            index.export()()  # merged into read-only arrays

    # -- snapshots -----------------------------------------------------------------------
    EXPORTED = ("words", "ids", "prefixes", "dir_offsets", "directories", "entries")

    def export(self) -> Callable[[], dict[str, npt.NDArray[Any]]]:
        """Take the index's state now; return a function that builds the arrays of a main
        segment holding exactly the rows live at that moment, by name (:attr:`EXPORTED`),
        for :meth:`adopt`.

        Only the liveness bytes and the delta are copied now (call it under the lock that
        keeps the index in step with whatever else is saved); the building, O(n) when
        the index changed since it was built or adopted, happens when the function is
        called, with changes and searches going on. Unchanged, the function returns the
        main segment's own arrays: do not write to them.
        """
        with self._lock:
            snap = self._snap
            main_alive = snap.main.alive.view(bool).copy()
            delta = snap.delta
            keep = delta.alive[: delta.count].view(bool)
            delta_words = delta.words[: delta.count][keep]
            delta_ids = delta.ids[: delta.count][keep]
        main = snap.main

        def build() -> dict[str, npt.NDArray[Any]]:
            built = main
            if not main_alive.all() or delta_ids.shape[0]:
                built = self._rebuild(main, main_alive, delta_words, delta_ids)
            return {name: getattr(built, name) for name in self.EXPORTED}

        return build

    def adopt(self, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        """Replace the contents with a main segment from :meth:`export` of an index of
        the same ``bits`` and ``chunks``: the arrays are used as they are (memory-mapped
        read-only ones stay shared) and never written.

        Raises:
            ValueError: the arrays do not fit this index (shape, dtype, chunking).
        """
        words, ids = arrays["words"], arrays["ids"]
        prefixes, dir_offsets = arrays["prefixes"], arrays["dir_offsets"]
        directories, entries = arrays["directories"], arrays["entries"]
        n, m = int(ids.shape[0]), self.chunks
        expected = {
            "words": ((n, self._words), np.uint64),
            "ids": ((n,), np.int64),
            "prefixes": ((m,), np.int64),
            "dir_offsets": ((m + 1,), np.int64),
            "entries": ((m, n), np.uint32),
        }
        for name, (shape, dtype) in expected.items():
            array = arrays[name]
            if array.shape != shape or array.dtype != dtype:
                raise ValueError(f"{name}: {array.dtype}{array.shape}, expected {shape}")
        if (
            directories.dtype != np.uint32
            or not (prefixes >= 0).all()
            or not (prefixes <= self._lengths).all()
            or dir_offsets[0] != 0
            or not np.array_equal(np.diff(dir_offsets), (1 << prefixes) + 1)
            or directories.shape != (int(dir_offsets[-1]),)
        ):
            raise ValueError("directories do not match the chunking")
        main = _Main(
            words=np.asarray(words, dtype=np.uint64),
            ids=np.asarray(ids, dtype=np.int64),
            alive=np.ones(n, dtype=np.uint8),  # private: removals write it
            prefixes=np.asarray(prefixes, dtype=np.int64),
            dir_offsets=np.asarray(dir_offsets, dtype=np.int64),
            directories=np.asarray(directories, dtype=np.uint32),
            entries=np.asarray(entries, dtype=np.uint32),
            mapped=True,
        )
        with self._lock:
            self._snap = _Snapshot(main, self._empty_delta(), n)

    # -- sizes ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._snap.size

    @property
    def chunks(self) -> int:
        return int(self._lengths.shape[0])

    def memory_bytes(self) -> int:
        """Bytes held by the index's arrays (main and delta segments)."""
        s = self._snap
        main = s.main
        arrays = (
            main.words, main.ids, main.alive, main.directories, main.entries,
            s.delta.words, s.delta.ids, s.delta.alive,
        )  # fmt: skip
        return int(sum(a.nbytes for a in arrays))

    @property
    def mapped(self) -> bool:
        """Whether the main segment is adopted arrays (see :meth:`adopt`)."""
        return self._snap.main.mapped

    @property
    def delta_rows(self) -> int:
        """Rows in the delta segment (private memory, scanned linearly)."""
        return self._snap.delta.count

    # -- changes -------------------------------------------------------------------------
    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Add hashes (uint8 array of shape (n, bits/8)) under int64 ``ids``."""
        ids_a = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        rows = self._to_words(hashes)
        if ids_a.shape[0] != rows.shape[0]:
            raise ValueError("ids and hashes differ in length")
        if not ids_a.shape[0]:
            return
        with self._lock:
            snap = self._snap
            delta = snap.delta
            if delta.count + rows.shape[0] > self._delta_cap(snap.main):
                self._merge(snap, ids_a, rows)
                return
            need = delta.count + rows.shape[0]
            if need > delta.ids.shape[0]:
                delta = self._grow_delta(delta, need, snap.main)
            end = delta.count + rows.shape[0]
            delta.words[delta.count : end] = rows
            delta.ids[delta.count : end] = ids_a
            delta.alive[delta.count : end] = 1
            new_delta = _Delta(delta.words, delta.ids, delta.alive, end)
            self._snap = _Snapshot(snap.main, new_delta, snap.size + rows.shape[0])

    def remove(self, ids: npt.ArrayLike) -> None:
        """Remove every stored hash whose id is in ``ids`` (unknown ids are ignored)."""
        targets = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        if not targets.shape[0]:
            return
        with self._lock:
            snap = self._snap
            removed = 0
            main_rows = k.find_rows(snap.main.ids, snap.main.n, targets)
            main_rows = main_rows[snap.main.alive[main_rows] == 1]
            snap.main.alive[main_rows] = 0
            snap.main.dead[0] += int(main_rows.shape[0])
            removed += int(main_rows.shape[0])
            delta_rows = k.find_rows(snap.delta.ids, snap.delta.count, targets)
            delta_rows = delta_rows[snap.delta.alive[delta_rows] == 1]
            snap.delta.alive[delta_rows] = 0
            removed += int(delta_rows.shape[0])
            self._snap = _Snapshot(snap.main, snap.delta, snap.size - removed)
            if snap.main.dead[0] > max(1024, snap.main.n // (2 if snap.main.mapped else 4)):
                self._merge(self._snap, np.zeros(0, np.int64), self._empty_words(0))

    # -- search --------------------------------------------------------------------------
    def search(self, queries: npt.ArrayLike, radius: int) -> list[Result]:
        """Return, per query row, (ids, distances) of every stored hash within ``radius``.

        All query rows (e.g. the dihedral variants of one image) are answered in one call.
        Each result is sorted by distance, then id.
        """
        q = self._to_words(queries)
        radius = int(radius)
        nq = q.shape[0]
        if radius < 0 or not nq:
            return [(np.zeros(0, np.int64), np.zeros(0, np.int32)) for _ in range(nq)]
        snap = self._snap
        main, delta = snap.main, snap.delta
        parts_q, parts_id, parts_d = [], [], []
        if main.n:
            plan = main.plans.get(radius)
            if plan is None:  # per segment and radius: the cost model runs once
                budgets = self._budgets(min(radius, self.bits))
                plan = main.plans[radius] = (budgets, self._use_mih(main, budgets))
            budgets, use_mih = plan
            if use_mih:
                qi, rows, d = k.mih_search(
                    q, radius, main.words, main.alive, self._starts, self._lengths,
                    main.prefixes, budgets, main.dir_offsets, main.directories, main.entries,
                )  # fmt: skip
            else:
                qi, rows, d = k.brute_search(q, radius, main.words, main.alive, main.n)
            parts_q.append(qi)
            parts_id.append(main.ids[rows])
            parts_d.append(d)
        if delta.count:
            qi, rows, d = k.brute_search(q, radius, delta.words, delta.alive, delta.count)
            parts_q.append(qi)
            parts_id.append(delta.ids[rows])
            parts_d.append(d)
        if sum(part.shape[0] for part in parts_q) == 0:  # the common case: no match
            return [(np.zeros(0, np.int64), np.zeros(0, np.int32)) for _ in range(nq)]
        all_q = np.concatenate(parts_q)
        all_id = np.concatenate(parts_id)
        all_d = np.concatenate(parts_d)
        order = np.lexsort((all_id, all_d, all_q))
        all_q, all_id, all_d = all_q[order], all_id[order], all_d[order]
        bounds = np.searchsorted(all_q, np.arange(nq + 1))
        return [
            (all_id[bounds[i] : bounds[i + 1]], all_d[bounds[i] : bounds[i + 1]]) for i in range(nq)
        ]

    # -- internals -----------------------------------------------------------------------
    def _delta_cap(self, main: _Main) -> int:
        """Rows the delta may hold: ``delta_limit``, more for a big main segment (fewer
        O(n) merges under a stream of adds, at most ~1/128 of the main scan per query).
        A mapped segment's delta may grow to 1/16 of it: a merge would copy the shared
        arrays into this process's memory (a fresh snapshot replaces them first)."""
        if main.mapped:
            return max(self.delta_limit, main.n // 16)
        return max(self.delta_limit, min(main.n // 128, 8 * self.delta_limit))

    def _budgets(self, radius: int) -> npt.NDArray[np.int64]:
        """Per-chunk radii with sum(r_c + 1) = radius + 1 (pigeonhole: exact)."""
        m = self.chunks
        base, extra = divmod(radius + 1, m)
        return np.array([base + (c < extra) - 1 for c in range(m)], dtype=np.int64)

    def _use_mih(self, main: _Main, budgets: npt.NDArray[np.int64]) -> bool:
        if self.strategy != "auto":
            return self.strategy == "mih"
        n = main.n
        cost = 0.0
        for c, budget in enumerate(budgets.tolist()):
            if budget < 0:
                continue
            p = int(main.prefixes[c])
            length = int(self._lengths[c])
            buckets = sum(math.comb(p, t) for t in range(min(budget, p) + 1))
            share = sum(math.comb(length, t) for t in range(budget + 1)) / 2.0**length
            cost += buckets * _NS_BUCKET + n * share * _NS_CANDIDATE
        return cost < n * self._words * _NS_SCAN_WORD

    def _to_words(self, hashes: npt.ArrayLike) -> npt.NDArray[np.uint64]:
        data = np.asarray(hashes, dtype=np.uint8)
        if data.ndim == 1:
            data = data.reshape(1, -1)
        if data.ndim != 2 or data.shape[1] != self.nbytes:
            raise ValueError(f"hashes must have shape (n, {self.nbytes})")
        width = self._words * 8
        if data.shape[1] != width:
            padded = np.zeros((data.shape[0], width), dtype=np.uint8)
            padded[:, : data.shape[1]] = data
            data = padded
        # a copy: the index must not share memory with the caller's array
        return np.ascontiguousarray(data).view("<u8").astype(np.uint64)

    def _empty_words(self, n: int) -> npt.NDArray[np.uint64]:
        return np.zeros((n, self._words), dtype=np.uint64)

    def _empty_delta(self, capacity: int = 1024) -> _Delta:
        return _Delta(
            self._empty_words(capacity),
            np.zeros(capacity, np.int64),
            np.zeros(capacity, np.uint8),
            0,
        )

    def _grow_delta(self, delta: _Delta, need: int, main: _Main) -> _Delta:
        cap = min(max(need, 2 * delta.ids.shape[0]), max(need, self._delta_cap(main)))
        grown = self._empty_delta(cap)
        grown.words[: delta.count] = delta.words[: delta.count]
        grown.ids[: delta.count] = delta.ids[: delta.count]
        grown.alive[: delta.count] = delta.alive[: delta.count]
        return _Delta(grown.words, grown.ids, grown.alive, delta.count)

    def _prefix(self, length: int, n: int) -> int:
        """Directory bits for a chunk: about ``bucket_size`` rows per bucket.

        The residual (``length - prefix`` bits) shares a uint32 with the row number, so
        it gets at most ``32 - bit_length(n)`` bits.
        """
        want = round(math.log2(max(n, 1) / self.bucket_size)) if n > self.bucket_size else 0
        room = 32 - max(n - 1, 1).bit_length()
        return int(min(length, max(length - room, want)))

    def _prefixes(self, n: int) -> npt.NDArray[np.int64]:
        return np.array([self._prefix(int(ln), n) for ln in self._lengths], dtype=np.int64)

    def _build(self, words: npt.NDArray[np.uint64], ids: npt.NDArray[np.int64]) -> _Main:
        n = int(ids.shape[0])
        m = self.chunks
        prefixes = self._prefixes(n)
        dir_offsets = np.zeros(m + 1, dtype=np.int64)
        dir_offsets[1:] = np.cumsum((1 << prefixes) + 1)
        directories = np.empty(int(dir_offsets[-1]), dtype=np.uint32)
        entries = np.empty((m, n), dtype=np.uint32)
        for c in range(m):
            if not n:  # an empty index needs no kernel (and no numba start-up: ~0.8 s)
                directories[dir_offsets[c] : dir_offsets[c + 1]] = 0
                continue
            d, e = k.build_chunk(
                words, int(self._starts[c]), int(self._lengths[c]), int(prefixes[c])
            )
            directories[dir_offsets[c] : dir_offsets[c + 1]] = d
            entries[c] = e
        return _Main(
            words=words,
            ids=ids,
            alive=np.ones(n, dtype=np.uint8),
            prefixes=prefixes,
            dir_offsets=dir_offsets,
            directories=directories,
            entries=entries,
        )

    def _rebuild(
        self,
        main: _Main,
        keep: npt.NDArray[np.bool_],
        words: npt.NDArray[np.uint64],
        ids: npt.NDArray[np.int64],
    ) -> _Main:
        """The main segment of ``main``'s rows where ``keep``, then the rows ``words`` /
        ``ids``: exactly the arrays :meth:`_build` gives for them, by :meth:`_merged` while
        the directories keep their sizes (the prefixes move with the row count only in
        steps of 2x), else built anew."""
        n = int(np.count_nonzero(keep)) + int(ids.shape[0])
        if main.n and n and np.array_equal(self._prefixes(n), main.prefixes):
            return self._merged(main, keep, words, ids)
        return self._build(
            np.concatenate([main.words[keep], words]), np.concatenate([main.ids[keep], ids])
        )

    def _merged(
        self,
        main: _Main,
        keep: npt.NDArray[np.bool_],
        words: npt.NDArray[np.uint64],
        ids: npt.NDArray[np.int64],
    ) -> _Main:
        """:meth:`_rebuild` when the prefixes stay ``main``'s: each chunk's new rows are
        merged into its old buckets (:func:`merge_chunk`: sequential copying, ~5-10x less
        CPU at 10M rows than sorting every row again, and far less memory traffic for the
        processes sharing the machine)."""
        kept = int(np.count_nonzero(keep))
        all_words = np.concatenate([main.words[keep], words])
        all_ids = np.concatenate([main.ids[keep], ids])
        n = int(all_ids.shape[0])
        dead_bits = np.zeros(0, dtype=np.uint64)
        dead_before = np.zeros(0, dtype=np.int64)
        if kept < main.n:
            packed = np.packbits(~keep, bitorder="little")
            dead_bits = np.zeros((main.n + 63) // 64, dtype=np.uint64)
            dead_bits.view(np.uint8)[: packed.shape[0]] = packed
            dead_before = np.zeros(dead_bits.shape[0], dtype=np.int64)
            np.cumsum(np.bitwise_count(dead_bits)[:-1], out=dead_before[1:])
        directories = np.empty_like(main.directories)
        entries = np.empty((self.chunks, n), dtype=np.uint32)
        for c in range(self.chunks):
            lo, hi = int(main.dir_offsets[c]), int(main.dir_offsets[c + 1])
            start, length = int(self._starts[c]), int(self._lengths[c])
            directories[lo:hi] = k.merge_chunk(
                main.directories[lo:hi],
                main.entries[c],
                dead_bits,
                dead_before,
                k.chunk_keys(words, start, length),
                kept,
                length - int(main.prefixes[c]),
                entries[c],
            )
        return _Main(
            words=all_words,
            ids=all_ids,
            alive=np.ones(n, dtype=np.uint8),
            prefixes=np.array(main.prefixes, dtype=np.int64),
            dir_offsets=np.array(main.dir_offsets, dtype=np.int64),
            directories=directories,
            entries=entries,
        )

    def _merge(
        self, snap: _Snapshot, ids: npt.NDArray[np.int64], rows: npt.NDArray[np.uint64]
    ) -> None:
        """New main segment = live main rows + live delta rows + ``rows`` (under the lock)."""
        main, delta = snap.main, snap.delta
        if main.n >= 2**32 - 1:
            raise ValueError("an index holds at most 2**32 - 2 rows")
        keep_main = main.alive.view(bool)
        keep_delta = delta.alive[: delta.count].view(bool)
        if main.dead[0] == 0 and not delta.count and not main.n:
            built = self._build(np.ascontiguousarray(rows), ids.copy())
        else:
            words = np.concatenate([delta.words[: delta.count][keep_delta], rows])
            new_ids = np.concatenate([delta.ids[: delta.count][keep_delta], ids])
            built = self._rebuild(main, keep_main, words, new_ids)
        self._snap = _Snapshot(built, self._empty_delta(), built.n)
