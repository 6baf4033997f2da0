"""Numba kernels behind :class:`hashes.HashIndex` (multi-index hashing, exact).

Hashes are rows of ``W`` uint64 words; bit ``i`` of a hash is bit ``i % 64`` of word
``i // 64``. The bits are cut into ``m`` contiguous chunks. For each chunk the main
segment keeps a CSR table: rows bucketed by the chunk's top ``p`` bits (``directory`` holds
the bucket offsets, ``perm`` the rows, ``residual`` the chunk's remaining low bits).

Search with radius ``r`` gives chunk ``c`` a budget ``r_c`` with ``sum(r_c + 1) >= r + 1``
(generalised pigeonhole): a hash within ``r`` of the query is within ``r_c`` of it on at
least one chunk, so visiting, per chunk, every bucket within ``r_c`` bit flips of the
query's bucket and keeping entries whose residual is within the remaining budget finds
every such hash. A candidate is verified with a popcount over the whole hash and reported
only from the first chunk that can find it, so each hit appears once without a set.

Every kernel is compiled with ``nogil=True``: searches run in parallel with each other and
with the writer in other threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "brute_search",
    "build_chunk",
    "chunk_keys",
    "find_rows",
    "merge_chunk",
    "mih_search",
]


@intrinsic
def _popcount(typingctx: Any, x: Any) -> Any:  # pragma: no cover - compiled by numba
    """Hardware popcount of a uint64 (LLVM ``ctpop``)."""
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [args[0]])

    return sig, codegen


@intrinsic
def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover - compiled by numba
    """Hint the CPU to load ``arr[idx]`` into cache (LLVM ``prefetch``; never faults)."""
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


_AHEAD = 12  # how many visits / candidates ahead to prefetch


@njit(cache=True, inline="always")
def _extract(words: Any, start: int, length: int) -> Any:
    """Bits ``[start, start + length)`` of one row of words, as a uint64 (length <= 32)."""
    w = start >> 6
    off = start & 63
    v = words[w] >> np.uint64(off)
    if off + length > 64:
        v |= words[w + 1] << np.uint64(64 - off)
    return v & np.uint64((1 << length) - 1)


@njit(cache=True, nogil=True)
def chunk_keys(words: Any, start: int, length: int) -> Any:
    """The chunk key of every row (uint32)."""
    n = words.shape[0]
    out = np.empty(n, dtype=np.uint32)
    for i in range(n):
        out[i] = np.uint32(_extract(words[i], start, length))
    return out


@njit(cache=True, nogil=True)
def build_chunk(words: Any, start: int, length: int, prefix: int) -> Any:
    """Counting sort of the rows by the chunk's top ``prefix`` bits.

    Returns (directory uint32[2**prefix + 1], entries uint32[n]); an entry packs
    ``row << shift | residual`` where ``shift = length - prefix`` (the caller checks that
    ``n <= 2**(32 - shift)``), so one load gives both the row and the residual bits.
    """
    n = words.shape[0]
    shift = length - prefix
    rmask = np.uint32((1 << shift) - 1)
    nb = 1 << prefix
    keys = chunk_keys(words, start, length)
    directory = np.zeros(nb + 1, dtype=np.uint32)
    for i in range(n):
        directory[(keys[i] >> shift) + 1] += 1
    for b in range(nb):
        directory[b + 1] += directory[b]
    fill = directory[:-1].copy()
    entries = np.empty(n, dtype=np.uint32)
    for i in range(n):
        b = keys[i] >> shift
        pos = fill[b]
        fill[b] = pos + 1
        entries[pos] = (np.uint32(i) << np.uint32(shift)) | (keys[i] & rmask)
    return directory, entries


@njit(cache=True, nogil=True)
def merge_chunk(
    directory: Any,
    entries: Any,
    dead_bits: Any,
    dead_before: Any,
    keys: Any,
    base: int,
    shift: int,
    out: Any,
) -> Any:
    """What :func:`build_chunk` gives for a chunk's rows renumbered and added to, from its
    old ``directory`` and ``entries`` instead of a new counting sort (same ``prefix``).

    The rows are the old ones still live, in their old order, then ``keys.shape[0]`` new
    ones numbered from ``base`` (``keys``: their chunk keys, :func:`chunk_keys`). The dead
    old rows are bits of ``dead_bits`` (uint64 words, row ``r`` is bit ``r % 64`` of word
    ``r // 64``; empty: none dead, every row keeps its number), ``dead_before[w]`` how
    many are in the words before ``w``: a live row's new number is its old one less the
    dead before it, found in tables of ~1/32 of a byte per row that stay in the cache.
    Within a bucket the counting sort keeps rows in increasing order, which renumbering
    keeps and the new rows (numbered past every old one) follow: each bucket is its old
    entries, then its new rows. Fills ``out`` (uint32[base + len(keys)]) and returns the
    directory; sequential copying (a memory copy when no row died) where the counting
    sort writes every entry to a random place.
    """
    nb = directory.shape[0] - 1
    count = keys.shape[0]
    rmask = np.uint32((1 << shift) - 1)
    # the new rows in bucket order (a counting sort of ``count`` keys: stable)
    starts = np.zeros(nb + 1, dtype=np.int64)
    for j in range(count):
        starts[(keys[j] >> shift) + 1] += 1
    for b in range(nb):
        starts[b + 1] += starts[b]
    order = np.empty(count, dtype=np.int64)
    fill = starts[:-1].copy()
    for j in range(count):
        b = keys[j] >> shift
        order[fill[b]] = j
        fill[b] += 1
    out_dir = np.empty(nb + 1, dtype=np.uint32)
    if dead_bits.shape[0] == 0:  # no old row died: the old entries as they are, spliced
        for b in range(nb + 1):
            out_dir[b] = np.uint32(directory[b] + starts[b])
        src = 0
        pos = 0
        for t in range(count):
            j = order[t]
            end = directory[(keys[j] >> shift) + 1]
            size = end - src
            out[pos : pos + size] = entries[src:end]
            pos += size
            src = end
            out[pos] = (np.uint32(base + j) << np.uint32(shift)) | (keys[j] & rmask)
            pos += 1
        size = entries.shape[0] - src
        out[pos : pos + size] = entries[src:]
        return out_dir
    pos = 0
    for b in range(nb):
        out_dir[b] = pos
        for i in range(directory[b], directory[b + 1]):
            e = entries[i]
            row = np.int64(e >> np.uint32(shift))
            word = dead_bits[row >> 6]
            below = word & ((np.uint64(1) << np.uint64(row & 63)) - np.uint64(1))
            if not (word >> np.uint64(row & 63)) & np.uint64(1):
                row -= dead_before[row >> 6] + np.int64(_popcount(below))
                out[pos] = (np.uint32(row) << np.uint32(shift)) | (e & rmask)
                pos += 1
        for t in range(starts[b], starts[b + 1]):
            j = order[t]
            out[pos] = (np.uint32(base + j) << np.uint32(shift)) | (keys[j] & rmask)
            pos += 1
    out_dir[nb] = pos
    return out_dir


@njit(cache=True, inline="always")
def _grow(buf: Any, need: int) -> Any:
    if need <= buf.shape[0]:
        return buf
    out = np.empty(max(need, 2 * buf.shape[0]), dtype=buf.dtype)
    out[: buf.shape[0]] = buf
    return out


@njit(cache=True, inline="always")
def _emit(out_q: Any, out_row: Any, out_d: Any, nout: int, qi: int, row: int, d: int) -> Any:
    """Append one (query, row, distance) result, growing the buffers when full."""
    if nout == out_q.shape[0]:
        out_q = _grow(out_q, nout + 1)
        out_row = _grow(out_row, nout + 1)
        out_d = _grow(out_d, nout + 1)
    out_q[nout] = qi
    out_row[nout] = row
    out_d[nout] = d
    return out_q, out_row, out_d, nout + 1


@njit(cache=True, nogil=True)
def mih_search(
    queries: Any,
    radius: int,
    words: Any,
    alive: Any,
    starts: Any,
    lengths: Any,
    prefixes: Any,
    budgets: Any,
    dir_offsets: Any,
    directories: Any,
    entries: Any,
) -> Any:
    """Every live main-segment row within ``radius`` of each query.

    Returns (query index int32[k], row int64[k], distance int32[k]), grouped by query.
    ``budgets[c]`` is the per-chunk radius (-1 skips the chunk).

    Each query runs in phases whose loads are independent of each other (bucket list,
    bucket bounds, bucket entries, candidate rows), so the CPU overlaps the cache misses
    instead of waiting for them one by one.
    """
    m = starts.shape[0]
    n = words.shape[0]
    nw = words.shape[1]
    flat_words = words.reshape(-1)
    flat_entries = entries.reshape(-1)
    out_q = np.empty(64, dtype=np.int32)
    out_row = np.empty(64, dtype=np.int64)
    out_d = np.empty(64, dtype=np.int32)
    nout = 0
    v_bucket = np.empty(4096, dtype=np.int64)
    v_left = np.empty(4096, dtype=np.int32)
    v_chunk = np.empty(4096, dtype=np.int32)
    v_lo = np.empty(4096, dtype=np.int64)
    v_hi = np.empty(4096, dtype=np.int64)
    cand_rows = np.empty(4096, dtype=np.int64)
    cand_chunk = np.empty(4096, dtype=np.int32)
    flips = np.empty(64, dtype=np.int64)
    qres = np.empty(m, dtype=np.uint64)
    for qi in range(queries.shape[0]):
        q = queries[qi]
        # phase 1: the buckets to visit, with the residual budget left in each
        nv = 0
        for c in range(m):
            budget = budgets[c]
            if budget < 0:
                continue
            length = lengths[c]
            prefix = prefixes[c]
            shift = length - prefix
            key = _extract(q, starts[c], length)
            qbucket = np.int64(key >> np.uint64(shift))
            qres[c] = key & np.uint64((1 << shift) - 1)
            base = dir_offsets[c]
            for t in range(min(budget, prefix) + 1):
                count = 1
                for j in range(t):
                    count = count * (prefix - j) // (j + 1)
                if nv + count > v_bucket.shape[0]:
                    v_bucket = _grow(v_bucket, nv + count)
                    v_left = _grow(v_left, nv + count)
                    v_chunk = _grow(v_chunk, nv + count)
                for j in range(t):
                    flips[j] = j
                while True:
                    bucket = qbucket
                    for j in range(t):
                        bucket ^= np.int64(1) << flips[j]
                    v_bucket[nv] = base + bucket
                    v_left[nv] = budget - t
                    v_chunk[nv] = c
                    nv += 1
                    j = t - 1
                    while j >= 0 and flips[j] == prefix - t + j:
                        j -= 1
                    if j < 0:
                        break
                    flips[j] += 1
                    for i in range(j + 1, t):
                        flips[i] = flips[i - 1] + 1
        # phase 2: bucket bounds, as positions in the flat entries array
        if nv > v_lo.shape[0]:
            v_lo = _grow(v_lo, nv)
            v_hi = _grow(v_hi, nv)
        total = 0
        for i in range(nv):
            c = v_chunk[i]
            base = c * n
            v_lo[i] = base + directories[v_bucket[i]]
            v_hi[i] = base + directories[v_bucket[i] + 1]
            total += v_hi[i] - v_lo[i]
        # phase 3: entries whose residual is within the budget left (branch-free)
        if total > cand_rows.shape[0]:
            cand_rows = _grow(cand_rows, total)
            cand_chunk = _grow(cand_chunk, total)
        ncand = 0
        for i in range(nv):
            if i + _AHEAD < nv:
                _prefetch(flat_entries, v_lo[i + _AHEAD])
            c = v_chunk[i]
            shift = np.uint64(lengths[c] - prefixes[c])
            rmask = (np.uint64(1) << shift) - np.uint64(1)
            left = v_left[i]
            qr = qres[c]
            for pos in range(v_lo[i], v_hi[i]):
                e = np.uint64(flat_entries[pos])
                cand_rows[ncand] = np.int64(e >> shift)
                cand_chunk[ncand] = c
                ncand += _popcount((e & rmask) ^ qr) <= left
        # phase 4: verify the full distance; report from the first chunk that finds the row
        for i in range(ncand):
            if i + _AHEAD < ncand:
                _prefetch(flat_words, cand_rows[i + _AHEAD] * nw)
            row = cand_rows[i]
            at = row * nw
            d = 0
            for w in range(nw):
                d += _popcount(q[w] ^ flat_words[at + w])
            if d > radius or not alive[row]:
                continue
            x = words[row]
            first = cand_chunk[i]
            dup = False
            for c in range(first):
                if budgets[c] >= 0:
                    cd = _popcount(
                        _extract(q, starts[c], lengths[c]) ^ _extract(x, starts[c], lengths[c])
                    )
                    if cd <= budgets[c]:
                        dup = True
                        break
            if dup:
                continue
            out_q, out_row, out_d, nout = _emit(out_q, out_row, out_d, nout, qi, row, d)
    return out_q[:nout], out_row[:nout], out_d[:nout]


@njit(cache=True, nogil=True)
def brute_search(queries: Any, radius: int, words: Any, alive: Any, count: int) -> Any:
    """Linear scan of the first ``count`` rows (the delta segment, or a small index)."""
    out_q = np.empty(64, dtype=np.int32)
    out_row = np.empty(64, dtype=np.int64)
    out_d = np.empty(64, dtype=np.int32)
    nout = 0
    nw = words.shape[1]
    flat_words = words.reshape(-1)
    # The scan only notes the rows within reach; results are appended after it. Growing
    # the output arrays inside the scan made every row pay for their reference counts
    # (~5x slower).
    hits = np.empty(max(count, 1), dtype=np.int64)
    hit_d = np.empty(max(count, 1), dtype=np.int32)
    for qi in range(queries.shape[0]):
        nhit = 0
        for row in range(count):
            at = row * nw
            d = 0
            for w in range(nw):
                d += _popcount(queries[qi, w] ^ flat_words[at + w])
            if d <= radius:
                hits[nhit] = row
                hit_d[nhit] = d
                nhit += 1
        for i in range(nhit):
            if alive[hits[i]]:
                out_q, out_row, out_d, nout = _emit(
                    out_q, out_row, out_d, nout, qi, hits[i], hit_d[i]
                )
    return out_q[:nout], out_row[:nout], out_d[:nout]


@njit(cache=True, nogil=True)
def find_rows(ids: Any, count: int, targets_sorted: Any) -> Any:
    """Rows among the first ``count`` whose id is in ``targets_sorted`` (binary search)."""
    out = np.empty(16, dtype=np.int64)
    n = 0
    k = targets_sorted.shape[0]
    if k == 0:
        return out[:0]
    lo_id = targets_sorted[0]
    hi_id = targets_sorted[k - 1]
    for row in range(count):
        v = ids[row]
        if v < lo_id or v > hi_id:
            continue
        lo = 0
        hi = k
        while lo < hi:
            mid = (lo + hi) >> 1
            if targets_sorted[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        if lo < k and targets_sorted[lo] == v:
            if n == out.shape[0]:
                out = _grow(out, n + 1)
            out[n] = row
            n += 1
    return out[:n]
