"""Closest distances between groups of hashes, all pairs at once (numba).

A report stores a group of hashes, a check sends a group; the two images match when
some pair is within the threshold. :func:`min_distances` gives, for every check group
and every stored group, the smallest Hamming distance between them: what the accuracy
benchmark needs for every impostor pair, in one compiled pass instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from hashes._mih_kernels import _popcount


def words(hexes: Sequence[str]) -> np.ndarray:
    """Hex hashes as rows of uint64 words (big-endian bytes, zero-padded to 8)."""
    if not hexes:
        return np.zeros((0, 1), np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(len(hexes), -1)
    pad = (-raw.shape[1]) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), np.uint8)], axis=1)
    return np.ascontiguousarray(raw).view(">u8").astype(np.uint64)


def _flatten(groups: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    flat = [h for g in groups for h in g]
    offsets = np.zeros(len(groups) + 1, np.int64)
    offsets[1:] = np.cumsum([len(g) for g in groups])
    return words(flat), offsets


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _kernel(qw, qo, sw, so, bits):  # type: ignore[no-untyped-def]  # pragma: no cover
    nq, ns, nw = qo.shape[0] - 1, so.shape[0] - 1, qw.shape[1]
    out = np.full((nq, ns), bits + 1, np.int32)
    for i in range(nq):
        for j in range(ns):
            best = bits + 1
            for a in range(qo[i], qo[i + 1]):
                for b in range(so[j], so[j + 1]):
                    d = 0
                    for w in range(nw):
                        d += _popcount(qw[a, w] ^ sw[b, w])
                    if d < best:
                        best = d
            out[i, j] = best
    return out


def min_distances(
    checks: Sequence[Sequence[str]], stored: Sequence[Sequence[str]], bits: int = 256
) -> np.ndarray:
    """``out[i, j]``: min distance between check group ``i`` and stored group ``j``
    (``bits + 1`` where a group is empty)."""
    qw, qo = _flatten(checks)
    sw, so = _flatten(stored)
    return np.asarray(_kernel(qw, qo, sw, so, bits))
