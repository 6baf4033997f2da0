"""A hashed image leaves nothing behind: ``Work`` (the working pixels, their luma and
summed-area table, ~5 MB at 512 px) is dropped once a report or check is hashed.

``functools.cache`` on ``Work.keypoints`` kept every ``Work`` alive in a module-wide
cache, so each check or report grew the process by megabytes for good: a platform
key sending checks could exhaust a server's memory (found while benchmarking issue 23).
"""

from __future__ import annotations

import gc
import io
import weakref

import numpy as np
from PIL import Image

import hashes
from hashes._variants import DENSITIES, Work, check_variants, stored_variants, work_pixels
from tests.hashes._images import skimage_photo


def _alive_works() -> int:
    gc.collect()
    return sum(isinstance(o, Work) for o in gc.get_objects())


def test_a_work_is_dropped_after_both_sides_are_hashed() -> None:
    work = work_pixels(skimage_photo("astronaut.png"))
    plan = DENSITIES["default"]
    pdq = "0" * 64
    assert stored_variants(pdq, work, plan) and check_variants(pdq, work, plan)
    ref = weakref.ref(work)
    del work
    gc.collect()
    assert ref() is None


def test_hashing_many_images_keeps_no_work_alive() -> None:
    rng = np.random.default_rng(3)
    before = _alive_works()
    for _ in range(5):
        buf = io.BytesIO()
        pixels = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((384, 288)).save(buf, "PNG")
        h = hashes.hash_bytes(buf.getvalue())
        assert h.pdq_stored and h.pdq_variants
        del h
    assert _alive_works() == before
