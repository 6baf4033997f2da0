"""PDQ hashes of windows of an image, cheaply, from one summed-area table.

A *window* is a rectangle of the image (possibly rotated). Its hash is PDQ's final
stage (a 16x16 DCT of a 64x64 luma block, thresholded at the median; ``_pdq.block_hash``)
applied to the window's 64x64 **area averages**: each of the 64 x 64 cells is the mean of
the image over that cell, read from a summed-area table in four look-ups whatever the
window's size. So a window costs a few hundred microseconds instead of a full
``pdqhash.compute`` (~3 ms at 512 px), and hashes of the same content at different
sizes agree better than PDQ's own: PDQ samples images under 128 px without a low-pass
filter, so a 25 % resize of a small photo moves it by more than 31 bits
(``benchmarks/accuracy.py``); area averages do not alias.

Everything here is plain float64 arithmetic element by element (cumulative sums,
bilinear look-ups, binomial smoothing), so that the reporting page's JavaScript port
(``app/portal/static/windows.js``) reproduces the stored hashes; only the DCT is a
matrix product, whose rounding can at worst flip a coefficient sitting on the median.

Also here: :func:`keypoints`, the corners a crop keeps, from which both sides build
*pair windows* (a square centred between two corners, turned along the line joining
them, 0.65 times as wide as they are apart): windows defined by the content itself, so that
they land on the same pixels in the original and in a crop, resize or small turn of
it, wherever the crop was made and whatever the angle.
"""

from __future__ import annotations

import math

import numpy as np

from hashes import _window_kernels as kernels

__all__ = ["BLOCK", "Plane", "eroded", "keypoints", "pair_windows"]

BLOCK = 64
"""Side of the block every window is averaged down to (PDQ's own)."""

_KEYPOINT_SIDE = 256  # keypoints are found on the image area-sampled to this longer side
_SMOOTH_PASSES = 8  # [1, 2, 1] / 4 passes: a Gaussian of sigma 2 px at that size
_NMS = 0.08  # keypoints at least this share of the longer side apart
_MARGIN = 0.04  # and this far from the edges (a crop cuts there first)
_MIN_PAIR = 0.2  # pair windows from points at least this share of the shorter side apart
_PAIR_SIDE = 0.65  # a pair window is this share of the points' distance wide


class Plane:
    """The luma of ``(h, w, 3)`` uint8 pixels and its summed-area table, float64.

    Luma is ``0.299 R + 0.587 G + 0.114 B``, summed in that order.
    """

    def __init__(self, pixels: np.ndarray) -> None:
        # the table: running sums down each column, then along each row (cumsum axis 0,
        # then axis 1), with a zero row and column in front (_window_kernels.plane)
        self.luma, self._table = kernels.plane(pixels)
        self.height, self.width = self.luma.shape

    @classmethod
    def of_luma(cls, luma: np.ndarray) -> Plane:
        """A plane of a float64 ``(h, w)`` luma already computed (e.g. :func:`eroded`)."""
        plane = cls.__new__(cls)
        plane.luma = np.ascontiguousarray(luma, dtype=np.float64)
        plane._table = kernels.table(plane.luma)
        plane.height, plane.width = plane.luma.shape
        return plane

    def _integral(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The integral of the image over ``[0, y] x [0, x]`` at fractional points.

        Bilinear in the summed-area table, the points clipped to the image:
        ``top = t[y0, x0] * (1 - fx) + t[y0, x0 + 1] * fx``, ``bottom`` likewise one
        row down, ``top * (1 - fy) + bottom * fy`` (``_window_kernels.integral``).
        """
        y, x = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(x, np.float64))
        flat = kernels.integral(self._table, y.ravel(), x.ravel())
        return np.asarray(flat.reshape(y.shape))

    def box(self, top: float, bottom: float, left: float, right: float) -> np.ndarray:
        """The ``64 x 64`` area averages of the rectangle (fractional pixel edges)."""
        steps = np.arange(BLOCK + 1) / BLOCK
        ys = top + (bottom - top) * steps
        xs = left + (right - left) * steps
        t = self._integral(
            np.repeat(ys[:, None], BLOCK + 1, 1), np.repeat(xs[None, :], BLOCK + 1, 0)
        )
        sums = t[1:, 1:] - t[:-1, 1:] - t[1:, :-1] + t[:-1, :-1]
        area = (ys[1:] - ys[:-1])[:, None] * (xs[1:] - xs[:-1])[None, :]
        return np.asarray(sums / np.maximum(area, 1e-12))

    def rotated(
        self, cy: float, cx: float, half_h: float, half_w: float, theta: float
    ) -> np.ndarray:
        """The ``64 x 64`` block of a window turned by ``theta`` radians (anticlockwise
        on screen) about its centre ``(cy, cx)``; each cell is approximated by the
        upright box of the same size at the cell's centre (exact for ``theta == 0``).
        """
        u = (np.arange(BLOCK) + 0.5) / BLOCK * 2.0 - 1.0
        gy = np.repeat((u * half_h)[:, None], BLOCK, 1)
        gx = np.repeat((u * half_w)[None, :], BLOCK, 0)
        c, s = math.cos(theta), math.sin(theta)
        x = cx + gx * c + gy * s
        y = cy - gx * s + gy * c
        dy, dx = half_h / BLOCK, half_w / BLOCK
        t = self._integral(
            np.stack((y + dy, y - dy, y + dy, y - dy)), np.stack((x + dx, x + dx, x - dx, x - dx))
        )
        sums = t[0] - t[1] - t[2] + t[3]
        return np.asarray(sums / max(4.0 * dy * dx, 1e-12))


def eroded(luma: np.ndarray, share: float) -> np.ndarray:
    """The minimum of ``luma`` over a square around each pixel (clipped to the image),
    ``2r + 1`` px wide, ``r = max(1, round(share * shorter side / 2))``.

    A grey-level erosion: white text laid over a photo at any opacity only brightens
    it (``p' = p + a (255 - p)``), so where the square is wider than the text's strokes
    each minimum comes from a pixel beside the text, as in the photo without it. Both
    sides of a match hash the eroded image, so what erosion does to the photo itself
    is the same on both (issue 23's tiled watermarks; ``hashes._variants``).
    """
    r = max(1, round(share * min(luma.shape) / 2))
    return np.asarray(kernels.erode(np.ascontiguousarray(luma, dtype=np.float64), r))


def _smooth(a: np.ndarray, passes: int) -> np.ndarray:
    """``passes`` rounds of the [1, 2, 1] / 4 filter along the last two axes, edges
    repeated (a stack of planes is smoothed plane by plane).

    Each value is ``(left + centre * 2 + right) * 0.25`` summed in that order, down the
    rows then along them (the JavaScript port does the same; ``_window_kernels.smooth``).
    """
    planes = np.ascontiguousarray(a, dtype=np.float64)
    out = kernels.smooth(planes.reshape(-1, *planes.shape[-2:]), passes)
    return np.asarray(out.reshape(planes.shape))


def _gradient(a: np.ndarray, axis: int) -> np.ndarray:
    """Central differences, one-sided at the edges (as ``numpy.gradient``)."""
    a = np.moveaxis(a, axis, 0)
    g = np.empty_like(a)
    g[1:-1] = (a[2:] - a[:-2]) / 2.0
    g[0] = a[1] - a[0]
    g[-1] = a[-1] - a[-2]
    return np.moveaxis(g, 0, axis)


def _running_max(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """The maximum over ``[i - r, i + r]`` along ``axis`` (clipped at the ends)."""
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    pad = np.full((r, *a.shape[1:]), -np.inf)
    m = np.concatenate((pad, a, pad))  # m[j]: max over [j, j + span)
    span, width = 1, 2 * r + 1
    while 2 * span <= width:
        m = np.maximum(m[:-span], m[span:])
        span *= 2
    out = np.maximum(m[:n], m[width - span : width - span + n])
    return np.moveaxis(out, 0, axis)


def keypoints(plane: Plane, n: int, scale: float = 1.0) -> list[tuple[float, float]]:
    """The ``n`` strongest corners of the image, ``(y, x)`` in the plane's pixels.

    A Harris-type detector (harmonic mean of the structure tensor's eigenvalues) on the
    image area-sampled to 256 px, smoothed at sigma 2 px; local maxima at least 8 % of
    the longer side apart and 4 % away from the edges, strongest first, refined to
    sub-pixel by a parabola through the neighbours.

    ``scale`` < 1 looks at the image as a crop keeping ``scale`` of each side of a
    larger photo: sampled to ``256 * scale`` px, maxima ``8 % / scale`` apart, so the
    detector sees its content at the size and spacing it saw in that photo (a crop
    sampled to 256 px is magnified, and its corners are kept closer together).
    """
    if n <= 0:
        return []
    f = _KEYPOINT_SIDE * scale / max(plane.height, plane.width)
    rows = max(16, round(plane.height * f))
    cols = max(16, round(plane.width * f))
    ys = np.arange(rows + 1) * (plane.height / rows)
    xs = np.arange(cols + 1) * (plane.width / cols)
    t = plane._integral(np.repeat(ys[:, None], cols + 1, 1), np.repeat(xs[None, :], rows + 1, 0))
    cell = (plane.height / rows) * (plane.width / cols)
    grey = _smooth((t[1:, 1:] - t[:-1, 1:] - t[1:, :-1] + t[:-1, :-1]) / cell, _SMOOTH_PASSES)
    gy, gx = _gradient(grey, 0), _gradient(grey, 1)
    sxx, syy, sxy = _smooth(np.stack((gx * gx, gy * gy, gx * gy)), _SMOOTH_PASSES)
    response = (sxx * syy - sxy * sxy) / (sxx + syy + 1e-9)
    radius = max(2, int(_NMS / scale * max(rows, cols)))
    margin = int(_MARGIN * max(rows, cols)) + 1
    local_max = _running_max(_running_max(response, radius, 0), radius, 1)
    peak = (response == local_max) & (response > 0)
    peak[:margin] = False
    peak[rows - margin :] = False
    peak[:, :margin] = False
    peak[:, cols - margin :] = False
    idx = np.flatnonzero(peak)
    order = idx[np.argsort(-response.ravel()[idx], kind="stable")][:n]
    out = []
    for i in order.tolist():
        y, x = divmod(i, cols)
        out.append(
            (
                (y + 0.5 + _vertex(response[y - 1, x], response[y, x], response[y + 1, x])) / f,
                (x + 0.5 + _vertex(response[y, x - 1], response[y, x], response[y, x + 1])) / f,
            )
        )
    return out


def _vertex(a: float, b: float, c: float) -> float:
    """Offset of the top of the parabola through (-1, a), (0, b), (1, c), or 0."""
    den = a - 2.0 * b + c
    return float(0.5 * (a - c) / den) if den < 0 else 0.0


def pair_windows(
    points: list[tuple[float, float]], height: int, width: int
) -> list[tuple[float, float, float, float]]:
    """Square windows between two keypoints, turned along the line joining them.

    Each is ``(cy, cx, half, theta)``: centred between the two points, ``2 * half`` =
    0.65 times their distance wide, turned by ``theta`` radians (anticlockwise on screen,
    folded into (-90, 90] degrees), so that a crop, resize or small turn of the image
    moves the window with the content. Windows not wholly inside the image, or from
    points closer than 20 % of its shorter side, are left out. In the order of the
    pairs ``(0, 1), (0, 2), (1, 2), (0, 3), ...``: all pairs of the strongest points
    first, so that a cut-off list keeps them.
    """
    out = []
    for j in range(1, len(points)):
        for i in range(j):
            (y1, x1), (y2, x2) = points[i], points[j]
            d = math.hypot(y1 - y2, x1 - x2)
            if d < _MIN_PAIR * min(height, width):
                continue
            theta = math.atan2(y1 - y2, x2 - x1)  # y grows downwards
            if theta > math.pi / 2:
                theta -= math.pi
            elif theta <= -math.pi / 2:
                theta += math.pi
            half = _PAIR_SIDE * d / 2.0
            reach = half * (abs(math.cos(theta)) + abs(math.sin(theta)))
            cy, cx = (y1 + y2) / 2.0, (x1 + x2) / 2.0
            if reach <= cy <= height - reach and reach <= cx <= width - reach:
                out.append((cy, cx, half, theta))
    return out
