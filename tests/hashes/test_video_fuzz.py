"""Mutated and random video bytes: only hashes.VideoError escapes hash_video, quickly."""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashes
from benchmarks._clips import encode

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@cache
def seed(codec: str) -> bytes:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (48, 64, 3), np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(12)]
    return encode(frames, 6, codec=codec)


def _check(data: bytes) -> None:
    start = time.perf_counter()
    try:
        h = hashes.hash_video(data, variants="check")
    except hashes.VideoError:
        pass
    else:
        assert h.frames and all(len(f.pdq) == 64 for f in h.frames)
    assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize("codec", ["h264", "vp9"])
@SETTINGS
@given(data=st.data())
def test_mutated_clips(codec: str, data: st.DataObject) -> None:
    clip = bytearray(seed(codec))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(clip) - 1))
        clip[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(clip)))
    _check(bytes(clip[:cut] if data.draw(st.booleans()) else clip))


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from([b"", b"\x1a\x45\xdf\xa3", b"\0\0\0\x18ftypmp42"]))
def test_random_bytes(body: bytes, magic: bytes) -> None:
    _check(magic + body)
