"""What an exact radius-31 search of 1M PDQ hashes costs in other index layouts.

Usage: .venv/bin/python benchmarks/index_layouts.py [--size 1000000] [--queries 20000] [--write]

Issue 7 asks for 100,000 hashes/s through ``/v1/check/batch`` on 2 cores with a 1M-hash
bank, that is <= 20 µs of CPU per hash for everything: HTTP, JSON, validation and the
search (``benchmarks/load.py`` measures the rest). This benchmark measures how fast the
search alone can get, in the same run and on the same random hashes (half the queries
with a planted near-duplicate at distance 0-39):

- ``HashIndex``: the shipped index (11 chunks of 23-24 bits, 17-bit bucket prefixes and
  the residual bits packed with the row number: ~90 B per hash).
- ``sketch, per query``: 16 chunks of 16 bits with budget 1 each (the pigeonhole bound
  ``16 x 2 = 32 > 31``, HMA's split), and every bucket entry carries 96 other bits of its
  hash inline (16 B per entry per chunk: ~300 B per hash), so a candidate is rejected
  without a random read of its hash.
- ``sketch, batch join``: the same tables, searched chunk by chunk for B queries at once,
  the probes radix-sorted by bucket so the tables are read in order.

Both experimental layouts report exactly the ``(query, hash)`` pairs that ``HashIndex``
reports (checked here, every query). They are not shipped: they cost 3-4x the memory per
hash, and even the fastest stays above the search budget that the goal leaves.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashes import HashIndex
from hashes._mih_kernels import _popcount, _prefetch

RADIUS = 31
CHUNKS = 16  # 16 bits each, budget 1: 16 * (1 + 1) = 32 > RADIUS
PROBES = 17  # the chunk's own bucket and its 16 one-bit neighbours
LOW32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def build(words: Any) -> Any:  # pragma: no cover - compiled by numba
    """Per chunk: bucket offsets (65,537) and entries (sketch word, sketch 32 bits | row)."""
    n = words.shape[0]
    dirs = np.zeros((CHUNKS, 65537), np.int64)
    ents = np.empty((CHUNKS, n, 2), np.uint64)
    for c in range(CHUNKS):
        w = c >> 2
        sh = np.uint64((c & 3) * 16)
        sw = 2 if c < 8 else 0  # the half of the hash the chunk is not in
        for i in range(n):
            dirs[c, ((words[i, w] >> sh) & np.uint64(0xFFFF)) + 1] += 1
        for b in range(65536):
            dirs[c, b + 1] += dirs[c, b]
        fill = dirs[c, :-1].copy()
        for i in range(n):
            key = (words[i, w] >> sh) & np.uint64(0xFFFF)
            p = fill[key]
            fill[key] = p + 1
            ents[c, p, 0] = words[i, sw]
            ents[c, p, 1] = (words[i, sw + 1] & LOW32) | (np.uint64(i) << np.uint64(32))
    return dirs, ents


@njit(cache=True, inline="always")
def _check(q: Any, words: Any, row: int, c: int, out: Any, nout: int, qi: int) -> int:
    """Verify a candidate on the whole hash; keep it only from the first chunk within 1."""
    d = 0
    for w in range(4):
        d += _popcount(q[w] ^ words[row, w])
    if d > RADIUS:
        return nout
    for c2 in range(c):
        x = ((q[c2 >> 2] ^ words[row, c2 >> 2]) >> np.uint64((c2 & 3) * 16)) & np.uint64(0xFFFF)
        if _popcount(x) <= 1:
            return nout  # reported from chunk c2
    if nout < out.shape[0]:
        out[nout, 0] = qi
        out[nout, 1] = row
    return nout + 1


@njit(cache=True, nogil=True)
def search_each(queries: Any, words: Any, dirs: Any, ents: Any) -> Any:  # pragma: no cover
    """One query after the other: its 272 bucket bounds first (prefetching each bucket),
    then ~4,150 inline sketch checks at 1M."""
    out = np.empty((queries.shape[0] * 8, 2), np.int64)
    nout = 0
    lo = np.empty((CHUNKS, PROBES), np.int64)
    hi = np.empty((CHUNKS, PROBES), np.int64)
    for qi in range(queries.shape[0]):
        q = queries[qi]
        for c in range(CHUNKS):
            flat = ents[c].reshape(-1)
            key = np.int64((q[c >> 2] >> np.uint64((c & 3) * 16)) & np.uint64(0xFFFF))
            for t in range(PROBES):
                b = key if t == 0 else key ^ (1 << (t - 1))
                lo[c, t] = dirs[c, b]
                hi[c, t] = dirs[c, b + 1]
                _prefetch(flat, lo[c, t] * 2)
        for c in range(CHUNKS):
            sw = 2 if c < 8 else 0
            s0 = q[sw]
            s1 = q[sw + 1] & LOW32
            e = ents[c]
            for t in range(PROBES):
                left = RADIUS - (t > 0)
                for p in range(lo[c, t], hi[c, t]):
                    d = _popcount(s0 ^ e[p, 0]) + _popcount((s1 ^ e[p, 1]) & LOW32)
                    if d <= left:
                        row = np.int64(e[p, 1] >> np.uint64(32))
                        nout = _check(q, words, row, c, out, nout, qi)
    return out[: min(nout, out.shape[0])], nout


@njit(cache=True, nogil=True)
def search_join(queries: Any, words: Any, dirs: Any, ents: Any) -> Any:  # pragma: no cover
    """All queries chunk by chunk, the probes radix-sorted by bucket (tables read in order)."""
    nq = queries.shape[0]
    out = np.empty((nq * 8, 2), np.int64)
    nout = 0
    total = nq * PROBES
    keys = np.empty(total, np.int64)
    tmp = np.empty(total, np.int64)
    count = np.empty(257, np.int64)
    for c in range(CHUNKS):
        sw = 2 if c < 8 else 0
        e = ents[c]
        flat = e.reshape(-1)
        k = 0
        for qi in range(nq):  # probe = bucket << 24 | query << 5 | flipped bit + 1
            key = np.int64((queries[qi, c >> 2] >> np.uint64((c & 3) * 16)) & np.uint64(0xFFFF))
            for t in range(PROBES):
                b = key if t == 0 else key ^ (1 << (t - 1))
                keys[k] = (b << 24) | (qi << 5) | t
                k += 1
        src, dst = keys, tmp
        for shift in (24, 32):  # LSD radix sort on the 16-bit bucket
            count[:] = 0
            for i in range(total):
                count[((src[i] >> shift) & 255) + 1] += 1
            for i in range(256):
                count[i + 1] += count[i]
            for i in range(total):
                digit = (src[i] >> shift) & 255
                dst[count[digit]] = src[i]
                count[digit] += 1
            src, dst = dst, src
        for i in range(total):
            if i + 8 < total:
                _prefetch(flat, dirs[c, src[i + 8] >> 24] * 2)
            v = src[i]
            b = v >> 24
            qi = (v >> 5) & 0x7FFFF
            left = RADIUS - ((v & 31) > 0)
            s0 = queries[qi, sw]
            s1 = queries[qi, sw + 1] & LOW32
            for p in range(dirs[c, b], dirs[c, b + 1]):
                d = _popcount(s0 ^ e[p, 0]) + _popcount((s1 ^ e[p, 1]) & LOW32)
                if d <= left:
                    row = np.int64(e[p, 1] >> np.uint64(32))
                    nout = _check(queries[qi], words, row, c, out, nout, qi)
    return out[: min(nout, out.shape[0])], nout


def planted(rng: np.random.Generator, bank: npt.NDArray[np.uint8], q: int) -> Any:
    """Random queries, every other one a copy of a bank hash with 0-39 bits flipped."""
    queries = rng.integers(0, 256, (q, 32), dtype=np.uint8)
    for i in range(0, q, 2):
        bits = np.unpackbits(bank[rng.integers(bank.shape[0])])
        bits[rng.choice(256, int(rng.integers(0, 40)), replace=False)] ^= 1
        queries[i] = np.packbits(bits)
    return queries


def pairs(found: Any) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in found}


def run(size: int, nq: int) -> str:
    rng = np.random.default_rng(7)
    bank = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    queries = planted(rng, bank, nq)
    words = bank.view("<u8").copy()
    qwords = queries.view("<u8").copy()

    index = HashIndex(256)
    index.add(np.arange(size), bank)
    index.search(queries[:10], RADIUS)  # compiled and warm
    t0 = time.perf_counter()
    results = index.search(queries, RADIUS)
    base = (time.perf_counter() - t0) / nq * 1e6
    truth = {(qi, int(i)) for qi, (ids, _) in enumerate(results) for i in ids}

    build(words[:1000])  # compile
    dirs, ents = build(words)
    sketch_bytes = (dirs.nbytes + ents.nbytes + words.nbytes) / size
    rows = [
        "| layout | µs per query | vs HashIndex | bytes per hash | same pairs as HashIndex |",
        "|---|---:|---:|---:|---|",
        f"| HashIndex (shipped), one call | {base:.1f} | 1.0x | "
        f"{index.memory_bytes() / size:.0f} | {len(truth):,} pairs |",
    ]
    cases: list[tuple[str, Any, int]] = [("sketch, per query", search_each, nq)]
    cases += [(f"sketch, batch join of {b:,}", search_join, b) for b in (100, 1000, 10000)]
    for name, fn, batch in cases:
        fn(qwords[:8], words, dirs, ents)  # compile
        found: set[tuple[int, int]] = set()
        t0 = time.perf_counter()
        for s in range(0, nq, batch):
            part, _ = fn(qwords[s : s + batch], words, dirs, ents)
            found |= {(qi + s, row) for qi, row in pairs(part)}
        us = (time.perf_counter() - t0) / nq * 1e6
        same = "yes" if found == truth else f"NO ({len(found):,})"
        rows.append(
            f"| {name} | {us:.1f} | {base / us:.1f}x faster | {sketch_bytes:.0f} | {same} |"
        )
        print(rows[-1], flush=True)
    head = (
        f"{size:,} random hashes, {nq:,} queries (half with a planted near-duplicate), "
        f"radius {RADIUS}, one core, all layouts in the same run:\n\n"
    )
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = run(args.size, args.queries)
    text = (
        "Run: `.venv/bin/python benchmarks/index_layouts.py --write`. "
        "See the module's docstring for the layouts.\n\n" + text
    )
    print(text)
    if args.write:
        from benchmarks._report import write_section

        write_section("index-layouts", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
