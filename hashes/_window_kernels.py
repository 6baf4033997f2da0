"""numba loops for ``_windows``: the same float64 operations in the same order as the
whole-array numpy formulation that the reporting page's JavaScript port follows, so the
results are bit for bit the same, without numpy's temporaries, strided passes and
gathers: the luma and summed-area table of a 512 px working copy (~8 ms in numpy, under
1 ms here) and a check's ~300 windows' worth of look-ups (6.7 ms in numpy, a fraction
of it here).
``tests/hashes/test_windows.py`` compares both formulations.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["erode", "integral", "plane", "smooth", "table"]


@njit(cache=True, nogil=True)
def plane(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Float64 luma ``(0.299 R + 0.587 G) + 0.114 B`` of ``(h, w, 3)`` uint8 pixels, and
    its summed-area table ``(h + 1) x (w + 1)``: sums down each column first, then along
    each row (``cumsum`` on axis 0, then on axis 1), a zero row and column in front."""
    h, w = pixels.shape[0], pixels.shape[1]
    luma = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            y = float(pixels[i, j, 0]) * 0.299 + float(pixels[i, j, 1]) * 0.587
            luma[i, j] = y + float(pixels[i, j, 2]) * 0.114
    return luma, table(luma)


@njit(cache=True, nogil=True)
def table(luma: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The summed-area table of a float64 ``(h, w)`` plane, as :func:`plane` makes it."""
    h, w = luma.shape
    out = np.zeros((h + 1, w + 1))
    for i in range(h):
        for j in range(w):
            out[i + 1, j + 1] = out[i, j + 1] + luma[i, j]
    for i in range(1, h + 1):
        for j in range(1, w + 1):
            out[i, j] += out[i, j - 1]
    return out


@njit(cache=True, nogil=True)
def _min_line(
    a: np.ndarray, r: int, out: np.ndarray, g: np.ndarray, h: np.ndarray
) -> None:  # pragma: no cover
    """``out[i]``: the minimum of ``a`` over ``[i - r, i + r]`` clipped to ``a`` (van
    Herk / Gil-Werman: running minima forward and backward in blocks of ``2r + 1``)."""
    n = a.shape[0]
    k = 2 * r + 1
    m = n + 2 * r  # a padded with r infinities each side
    for j in range(m):
        v = a[j - r] if r <= j < n + r else np.inf
        g[j] = v if j % k == 0 else min(g[j - 1], v)
    for j in range(m - 1, -1, -1):
        v = a[j - r] if r <= j < n + r else np.inf
        h[j] = v if j == m - 1 or (j + 1) % k == 0 else min(h[j + 1], v)
    for i in range(n):
        out[i] = min(h[i], g[i + k - 1])


@njit(cache=True, nogil=True)
def erode(luma: np.ndarray, r: int) -> np.ndarray:  # pragma: no cover
    """The minimum of ``luma`` over the ``(2r + 1) x (2r + 1)`` square around each pixel,
    clipped to the plane: along each row, then down each column (min is exact, so the
    order of the passes does not change the result)."""
    h, w = luma.shape
    rows = np.empty((h, w))
    out = np.empty((h, w))
    n = max(h, w) + 2 * r
    g, hh = np.empty(n), np.empty(n)
    line = np.empty(max(h, w))
    for i in range(h):
        _min_line(luma[i], r, rows[i], g, hh)
    for j in range(w):
        _min_line(rows[:, j].copy(), r, line, g, hh)
        out[:, j] = line[:h]
    return out


@njit(cache=True, nogil=True)
def integral(table: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Bilinear look-ups of the summed-area ``table`` (``(h + 1) x (w + 1)``) at the
    fractional points ``(y, x)`` (1-D, same length), clipped to the image."""
    height = table.shape[0] - 1
    width = table.shape[1] - 1
    out = np.empty(y.shape[0])
    for i in range(y.shape[0]):
        yy = min(max(y[i], 0.0), float(height))
        xx = min(max(x[i], 0.0), float(width))
        y0 = min(math.floor(yy), height - 1)
        x0 = min(math.floor(xx), width - 1)
        fy = yy - y0
        fx = xx - x0
        top = table[y0, x0] * (1.0 - fx) + table[y0, x0 + 1] * fx
        bottom = table[y0 + 1, x0] * (1.0 - fx) + table[y0 + 1, x0 + 1] * fx
        out[i] = top * (1.0 - fy) + bottom * fy
    return out


@njit(cache=True, nogil=True)
def _pass_rows(a: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    n, m = a.shape
    for j in range(m):
        out[0, j] = (a[0, j] + a[0, j] * 2.0 + a[1, j]) * 0.25
    for i in range(1, n - 1):
        for j in range(m):
            out[i, j] = (a[i - 1, j] + a[i, j] * 2.0 + a[i + 1, j]) * 0.25
    for j in range(m):
        out[n - 1, j] = (a[n - 2, j] + a[n - 1, j] * 2.0 + a[n - 1, j]) * 0.25


@njit(cache=True, nogil=True)
def _pass_cols(a: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    n, m = a.shape
    for i in range(n):
        out[i, 0] = (a[i, 0] + a[i, 0] * 2.0 + a[i, 1]) * 0.25
        for j in range(1, m - 1):
            out[i, j] = (a[i, j - 1] + a[i, j] * 2.0 + a[i, j + 1]) * 0.25
        out[i, m - 1] = (a[i, m - 2] + a[i, m - 1] * 2.0 + a[i, m - 1]) * 0.25


@njit(cache=True, nogil=True)
def smooth(planes: np.ndarray, passes: int) -> np.ndarray:  # pragma: no cover
    """``passes`` rounds of ``(left + centre * 2 + right) * 0.25`` down the rows, then
    along them, edges repeated, on each ``(h, w)`` plane of ``planes`` (``(k, h, w)``,
    at least 2 x 2)."""
    out = np.empty_like(planes)
    for k in range(planes.shape[0]):
        a = planes[k].copy()
        b = np.empty_like(a)
        for _ in range(passes):
            _pass_rows(a, b)
            _pass_cols(b, a)
        out[k] = a
    return out
