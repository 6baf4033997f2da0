"""The variant code keeps nothing of an image once its hashes are returned."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from hashes._variants import DENSITIES, Work, check_variants, stored_variants


def test_work_is_freed_after_hashing() -> None:
    """functools.cache on Work.keypoints kept every Work (pixels, planes: ~4 MB an image)
    alive for the life of the process: a leak per image and per video frame."""
    pixels = np.random.default_rng(1).integers(0, 256, (300, 400, 3), np.uint8)
    work = Work(pixels)
    plan = DENSITIES["default"]
    assert len(stored_variants("0" * 64, work, plan)) > 1
    assert len(check_variants("0" * 64, work, plan)) > 1
    assert work.keypoints(6, plan.check_scale) is work.keypoints(6, plan.check_scale)
    ref = weakref.ref(work)
    del work
    gc.collect()
    assert ref() is None
