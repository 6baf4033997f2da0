"""Random and mutated bytes: only hashes.ImageError escapes, and every call ends in 2 s."""

from __future__ import annotations

import io
import time
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashes
from tests.hashes._images import encode, synthetic

SEEDS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF")
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@cache
def seed(fmt: str) -> bytes:
    img = synthetic(11, (64, 48))
    if fmt == "HEIF":
        import pillow_heif

        buf = io.BytesIO()
        pillow_heif.from_pillow(img).save(buf, quality=50)
        return buf.getvalue()
    kwargs: dict[str, object] = {"quality": 60} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "GIF":  # an animation: mutations must never reach the second frame
        kwargs = {"save_all": True, "append_images": [synthetic(12, (64, 48))]}
    return encode(img, fmt, **kwargs)


def _check(data: bytes) -> None:
    start = time.perf_counter()
    try:
        # half the inputs as the service hands them over: a bytearray, zeroed once read
        h = (
            hashes.hash_bytes(bytearray(data), wipe=True)
            if len(data) % 2
            else hashes.hash_bytes(data)
        )
    except hashes.ImageError:
        pass
    else:
        assert len(h.pdq) == 64 and h.pdq_stored[0] == h.pdq
    assert time.perf_counter() - start < 2.0


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(seed(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "truncate", "dup"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif op == "cut":
            del data[i : i + draw(st.integers(1, 64))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "truncate":
            del data[i:]
        elif op == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 256))]
    return bytes(data)


@SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@SETTINGS
@given(st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"BM",
                        b"\x00\x00\x00\x18ftypheic"]),
       st.binary(max_size=2048))  # fmt: skip
def test_random_bytes_behind_a_valid_magic(magic: bytes, rest: bytes) -> None:
    _check(magic + rest)


@settings(SETTINGS, max_examples=400)
@given(mutated())
def test_mutated_images(data: bytes) -> None:
    _check(data)


@pytest.mark.parametrize("fmt", SEEDS)
def test_seeds_are_valid(fmt: str) -> None:
    assert hashes.hash_bytes(seed(fmt)).format == fmt
