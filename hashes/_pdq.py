"""PDQ of a pixel array, as lowercase hex, through Meta's reference C++ (``pdqhash``)."""

from __future__ import annotations

import numpy as np
import pdqhash

__all__ = ["pdq_hex", "pdq_with_quality"]


def pdq_with_quality(pixels: np.ndarray) -> tuple[str, int]:
    """Return the PDQ hash of ``(h, w, 3)`` uint8 RGB pixels and its quality (0-100).

    The hex string is the 256 bits most significant first, as Meta's tools print them.
    """
    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def pdq_hex(pixels: np.ndarray) -> str:
    """Return the PDQ hash of ``(h, w, 3)`` uint8 RGB pixels as 64 hex characters."""
    return pdq_with_quality(pixels)[0]
