"""Keep freed image buffers in the process instead of handing them back to the kernel.

glibc serves allocations over its mmap threshold (128 KB at start) with fresh ``mmap``
pages and unmaps them on free. Hashing an uploaded image allocates and frees tens of
such buffers (decoded pixels, float planes, summed-area tables), so every check paid
~2,000 page faults, ~7 ms of system time on a 1 MP image here. With the thresholds
below, buffers up to 16 MB are reused from the heap and at most 32 MB of free heap is
kept before it is trimmed: a 1 MP check drops to ~1 ms of system time (~350 faults).

Operators who set glibc's own ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_``
keep theirs. Elsewhere than glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune"]

log = logging.getLogger(__name__)

MMAP_THRESHOLD = 16 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3


def tune() -> bool:
    """Set this process's allocator thresholds; True when they were set."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    if not done:
        log.warning("could not set the allocator's thresholds; checks pay more page faults")
    return done
