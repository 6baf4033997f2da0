"""Meta's reference PDQ (as ``pdqhash.compute`` runs it) in numba, float for float.

Every floating-point operation of the reference happens here in the same order and
precision, so the 16x16 DCT output is bitwise the reference's (``tests/hashes/
test_pdq_port.py`` compares it with ``pdqhash.compute_float`` on photos, noise and odd
sizes). What changes is only the order in which independent values are computed:

* luma as ``pdqhash``'s wrapper computes it: ``(0.299 R + 0.587 G) + 0.114 B`` in
  float64, rounded to float32, in one pass (the wrapper makes five full-size
  float64 temporaries);
* the box filters along columns run over all columns at once, row after row, instead
  of one column at a time down the image, and those along rows run on tiles of 16 rows
  turned into columns (each running sum sees exactly the same additions, subtractions
  and divisions, but the CPU does 8 or 16 of them per instruction);
* of the last two box passes only what the 64x64 decimation reads is written: the
  third pass still runs every row's running sum to its end but stores the 64 sampled
  columns, and the fourth runs down those 64 columns only.

A 1 MP image hashes in about a quarter of ``pdqhash.compute``'s time
(``benchmarks/hashing.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "DCT_MATRIX",
    "MIN_HASHABLE_DIM",
    "dct64to16",
    "downsample",
    "luma",
    "luma_contiguous",
    "quality",
]

MIN_HASHABLE_DIM = 5
"""The reference hashes smaller images as all zeros with quality 0."""


def _dct_matrix() -> np.ndarray:
    # The reference: a float scale times a double cosine, stored as float.
    scale = float(np.float32(math.sqrt(2.0 / 64.0)))
    out = np.empty((16, 64), np.float32)
    for i in range(16):
        for j in range(64):
            out[i, j] = scale * math.cos((math.pi / 2 / 64.0) * (i + 1) * (2 * j + 1))
    return out


DCT_MATRIX = _dct_matrix()
"""Rows 1-16 of the 64-point DCT-II, float32, as the reference fills it."""


@njit(cache=True, nogil=True)
def luma(pixels: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled by numba
    """``(h, w, 3)`` uint8 RGB to float32 luma, rounded as ``pdqhash``'s wrapper does."""
    h, w = pixels.shape[0], pixels.shape[1]
    out = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            y = pixels[i, j, 0] * 0.299 + pixels[i, j, 1] * 0.587
            out[i, j] = np.float32(y + pixels[i, j, 2] * 0.114)
    return out


@njit(cache=True, nogil=True)
def luma_contiguous(pixels: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """:func:`luma` of C-contiguous pixels, float for float, in one flat loop over them
    (4x faster than indexing ``[i, j, c]``: a 720p video frame in 0.3 ms, not 1.5)."""
    h, w = pixels.shape[0], pixels.shape[1]
    flat = pixels.reshape(h * w * 3)
    out = np.empty(h * w, np.float32)
    for i in range(h * w):
        y = flat[3 * i] * 0.299 + flat[3 * i + 1] * 0.587
        out[i] = np.float32(y + flat[3 * i + 2] * 0.114)
    return out.reshape(h, w)


@njit(cache=True, nogil=True)
def _window(old: int, new: int) -> int:  # pragma: no cover - compiled by numba
    return (old + 2 * new - 1) // (2 * new)


@njit(cache=True, nogil=True)
def _box_down(src: np.ndarray, window: int, out: np.ndarray) -> None:  # pragma: no cover
    """The reference's 1-D box filter run down every column of ``src`` at once, into
    ``out`` (same shape)."""
    n, m = src.shape
    half = (window + 2) // 2
    s = np.zeros(m, np.float32)
    ri = 0
    li = 0
    oi = 0
    size = 0
    for _ in range(half - 1):  # phase 1: accumulate, no writes
        for j in range(m):
            s[j] += src[ri, j]
        size += 1
        ri += 1
    for _ in range(window - half + 1):  # phase 2: writes with a growing window
        size += 1
        d = np.float32(size)
        for j in range(m):
            s[j] += src[ri, j]
            out[oi, j] = s[j] / d
        ri += 1
        oi += 1
    d = np.float32(size)
    for _ in range(n - window):  # phase 3: the full window slides
        for j in range(m):
            s[j] += src[ri, j]
            s[j] -= src[li, j]
            out[oi, j] = s[j] / d
        li += 1
        ri += 1
        oi += 1
    for _ in range(half - 1):  # phase 4: a shrinking window
        size -= 1
        d = np.float32(size)
        for j in range(m):
            s[j] -= src[li, j]
            out[oi, j] = s[j] / d
        li += 1
        oi += 1


@njit(cache=True, nogil=True)
def _box_cols(src: np.ndarray, window: int) -> np.ndarray:  # pragma: no cover
    out = np.empty_like(src)
    _box_down(src, window, out)
    return out


_LANES = 16


@njit(cache=True, nogil=True)
def _box_rows(src: np.ndarray, window: int, keep: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The reference's 1-D box filter along every row of ``src``, at the columns ``keep``
    lists: 16 rows at a time are turned into 16 columns and filtered down together."""
    n, m = src.shape
    out = np.empty((n, keep.shape[0]), np.float32)
    tile = np.zeros((m, _LANES), np.float32)
    done = np.empty((m, _LANES), np.float32)
    for r0 in range(0, n, _LANES):
        rows = min(_LANES, n - r0)
        for r in range(rows):  # rows read in order, the tile written across
            for j in range(m):
                tile[j, r] = src[r0 + r, j]
        _box_down(tile, window, done)
        for r in range(rows):
            for k in range(keep.shape[0]):
                out[r0 + r, k] = done[keep[k], r]
    return out


@njit(cache=True, nogil=True)
def _centres(old: int) -> np.ndarray:  # pragma: no cover - compiled by numba
    """The rows (or columns) the reference's 64-point decimation reads."""
    out = np.empty(64, np.int64)
    for i in range(64):
        out[i] = int(((i + 0.5) * old) / 64)
    return out


@njit(cache=True, nogil=True)
def downsample(lum: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled by numba
    """The reference's Jarosz tent filter (two box passes each way, as PDQ fixes it) and
    64x64 decimation."""
    n, m = lum.shape
    if n == 64 and m == 64:
        return lum.copy()
    along_rows = _window(m, 64)
    along_cols = _window(n, 64)
    every = np.arange(m)
    cols = _centres(m)
    rows = _centres(n)
    buf = _box_cols(_box_rows(lum, along_rows, every), along_cols)
    sampled = _box_cols(_box_rows(buf, along_rows, cols), along_cols)
    out = np.empty((64, 64), np.float32)
    for i in range(64):
        for j in range(64):
            out[i, j] = sampled[rows[i], j]
    return out


@njit(cache=True, nogil=True)
def quality(block: np.ndarray) -> int:  # pragma: no cover - compiled by numba
    """The reference's quality metric of a 64x64 float32 block (0-100)."""
    total = 0
    hundred = np.float32(100.0)
    full = np.float32(255.0)
    for i in range(63):
        for j in range(64):
            total += abs(int(((block[i, j] - block[i + 1, j]) * hundred) / full))
    for i in range(64):
        for j in range(63):
            total += abs(int(((block[i, j] - block[i, j + 1]) * hundred) / full))
    return min(100, total // 90)


@njit(cache=True, nogil=True)
def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``a @ b`` in float32, each sum taken from ``k = 0`` up (the reference's order)."""
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            acc = np.float32(0.0)
            for k in range(a.shape[1]):
                acc += a[i, k] * b[k, j]
            out[i, j] = acc
    return out


@njit(cache=True, nogil=True)
def dct64to16(block: np.ndarray, dct: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``D A D^T`` in float32, summed in the reference's order (``D A`` first)."""
    return _product(_product(dct, block), dct.T)
