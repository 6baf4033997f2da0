"""PDQ of a pixel array, as lowercase hex: Meta's reference algorithm, bit for bit
(``_pdq_kernels``, checked against ``pdqhash``); and PDQ's final stage alone, for 64x64
blocks computed elsewhere (``_windows``)."""

from __future__ import annotations

import numpy as np

from hashes import _pdq_kernels as kernels

__all__ = ["block_hash", "block_quality", "pdq_hex", "pdq_with_quality"]

_I = np.arange(1, 17, dtype=np.float64)[:, None]
_J = np.arange(64, dtype=np.float64)[None, :]
# PDQ's DCT matrix: rows 1-16 of the 64-point DCT-II (the reference's, in float64).
_DCT = np.sqrt(2.0 / 64.0) * np.cos(np.pi / 128.0 * _I * (2.0 * _J + 1.0))


def pdq_with_quality(pixels: np.ndarray) -> tuple[str, int]:
    """Return the PDQ hash of ``(h, w, 3)`` uint8 RGB pixels and its quality (0-100).

    The hex string is the 256 bits most significant first, as Meta's tools print them.
    The result is ``pdqhash.compute``'s, bit for bit, in about a quarter of its time;
    images under 5 px on a side hash as all zeros with quality 0, as there.
    """
    if pixels.shape[0] < kernels.MIN_HASHABLE_DIM or pixels.shape[1] < kernels.MIN_HASHABLE_DIM:
        return "0" * 64, 0
    block = kernels.downsample(kernels.luma_contiguous(np.ascontiguousarray(pixels)))
    coefficients = kernels.dct64to16(block, kernels.DCT_MATRIX).ravel()
    return _threshold(coefficients), int(kernels.quality(block))


def _threshold(coefficients: np.ndarray) -> str:
    """PDQ's bits: coefficient ``16 i + j`` above the 128th smallest sets bit ``16 i + j``;
    the hex text lists the bits from 255 down to 0."""
    median = np.partition(coefficients, 127)[127]
    return np.packbits((coefficients > median).astype(np.uint8)[::-1]).tobytes().hex()


def pdq_hex(pixels: np.ndarray) -> str:
    """Return the PDQ hash of ``(h, w, 3)`` uint8 RGB pixels as 64 hex characters."""
    return pdq_with_quality(pixels)[0]


def block_hash(block: np.ndarray) -> str:
    """PDQ's DCT and median threshold applied to a ``64 x 64`` luma block, as hex.

    For a 64x64 image this is exactly ``pdqhash.compute`` (PDQ's downsampling is the
    identity at that size): coefficient ``(i, j)`` of the 16x16 low frequencies sets
    bit ``16 i + j`` when it is above the 128th smallest; the hex text lists the bits
    from 255 down to 0.
    """
    return _threshold((_DCT @ block @ _DCT.T).ravel())


def block_quality(block: np.ndarray) -> int:
    """PDQ's quality metric (0-100) of a ``64 x 64`` luma block: how much it varies.

    The reference's gradient count: ``trunc(|difference| * 100 / 255)`` summed over
    neighbouring cells, divided by 90, at most 100. Blocks of flat sky or a blank wall
    score low and hash alike across unrelated photos.
    """
    dy = np.trunc(np.abs(block[1:] - block[:-1]) * 100.0 / 255.0).sum()
    dx = np.trunc(np.abs(block[:, 1:] - block[:, :-1]) * 100.0 / 255.0).sum()
    return int(min(100, (dy + dx) // 90))
