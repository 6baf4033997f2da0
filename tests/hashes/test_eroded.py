"""The eroded whole image (issue 23's tiled watermarks): a minimum filter that wipes out
white text laid over a photo, hashed on both sides (``hashes._windows.eroded``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import hashes
from benchmarks.accuracy import _tiled_watermark
from hashes._decode import decode
from hashes._pdq import pdq_with_quality
from hashes._variants import DENSITIES, check_parts, stored_parts, work_pixels
from hashes._windows import eroded
from tests.hashes._images import encode, skimage_photo

PLAN = DENSITIES["default"]


def _brute(a: np.ndarray, r: int) -> np.ndarray:
    """The minimum over the clipped (2r + 1) square, one pixel at a time."""
    h, w = a.shape
    out = np.empty_like(a)
    for i in range(h):
        for j in range(w):
            out[i, j] = a[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1].min()
    return out


def _radius(shape: tuple[int, ...], share: float) -> int:
    return max(1, round(share * min(shape) / 2))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 33),
    st.integers(1, 33),
    st.floats(0.0, 1.5, allow_nan=False),
)
def test_erosion_is_the_minimum_over_the_clipped_square(
    seed: int, h: int, w: int, share: float
) -> None:
    """Any size (odd, even, one pixel wide, square wider than the image): never raises,
    equals the brute-force minimum, keeps the shape."""
    a = np.random.default_rng(seed).random((h, w)) * 255
    got = eroded(a, share)
    assert got.shape == a.shape
    assert np.array_equal(got, _brute(a, _radius(a.shape, share)))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.integers(2, 40))
def test_eroding_twice_is_eroding_once_twice_as_wide(seed: int, h: int, w: int) -> None:
    """Squares add up (a semigroup), and erosion never brightens a pixel."""
    a = np.random.default_rng(seed).random((h, w)) * 255
    share = 2 / min(h, w)  # r = 1
    once = eroded(a, share)
    assert np.all(once <= a)
    twice = eroded(once, share)
    assert np.array_equal(twice, _brute(a, 2))


def test_thin_white_text_at_any_opacity_is_wiped_out() -> None:
    """On a flat grey, white strokes narrower than the square, at 25-60 % opacity, leave
    no trace at all after erosion; a square narrower than the strokes leaves them."""
    base = np.full((120, 160), 90.0)
    for alpha in (0.25, 0.4, 0.6):
        marked = base.copy()
        for y in range(5, 120, 12):  # 3 px strokes, 9 px apart: rows of "text"
            marked[y : y + 3, 10:150] += alpha * (255 - marked[y : y + 3, 10:150])
        for x in range(20, 150, 25):
            marked[:, x : x + 2] += alpha * (255 - marked[:, x : x + 2])
        assert np.array_equal(eroded(marked, 7 / 120), base)  # 2r + 1 = 7 > 3
        assert not np.array_equal(eroded(marked, 2 / 120), base)  # 2r + 1 = 3: kept


def _parts(data: bytes, *, stored: bool) -> dict[str, list[str]]:
    decoded = decode(data)
    pdq, _ = pdq_with_quality(decoded.pixels)
    parts = (stored_parts if stored else check_parts)(pdq, work_pixels(decoded.image), PLAN)
    out: dict[str, list[str]] = {}
    for kind, value in parts:
        out.setdefault(kind, []).append(value)
    return out


def test_a_tiled_watermark_matches_through_the_eroded_hashes() -> None:
    """Copies under benchmarks/accuracy.py's dense tiled watermark (bold white text at
    25-50 % opacity over the whole photo, and a corner mark): the eroded hashes of copy
    and original are within PDQ's 31 bits where the plain whole-image hashes are not."""
    for name in ("coffee.png", "rocket.jpg"):
        rng = np.random.default_rng(23)
        photo = skimage_photo(name)
        stored = _parts(encode(photo, "PNG"), stored=True)
        for _ in range(2):
            check = _parts(_tiled_watermark(photo, rng), stored=False)
            rough = hashes.hamming(check["eroded"][0], stored["eroded"][0])
            whole = hashes.hamming(check["whole"][0], stored["whole"][0])
            assert rough <= 31 < whole, (name, rough, whole)


def test_both_sides_hash_the_eroded_image_and_none_without_it() -> None:
    """One eroded hash on each side, before the pair windows; plans without it (the
    video plans, ``erode_share=0``) have none, and the budgets hold."""
    data = encode(skimage_photo("coffee.png"), "PNG")
    for stored in (True, False):
        parts = _parts(data, stored=stored)
        assert len(parts["eroded"]) == 1
        decoded = decode(data)
        pdq, _ = pdq_with_quality(decoded.pixels)
        work = work_pixels(decoded.image)
        side = stored_parts if stored else check_parts
        kinds = [k for k, _ in side(pdq, work, PLAN)]
        assert kinds.index("eroded") < min(i for i, k in enumerate(kinds) if k.startswith("pair"))
        assert len(kinds) <= (PLAN.max_stored if stored else PLAN.max_check)
        without = side(pdq, work, replace(PLAN, erode_share=0.0))
        assert "eroded" not in [k for k, _ in without]
