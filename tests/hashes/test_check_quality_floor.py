"""The check's quality floor (``VariantPlan.check_min_quality``, issue 23): derived
windows under the floor are dropped after the check has chosen its hashes, so a check
at a higher floor sends a subset of what it sends at a lower one (no new match can
appear), ``pdq`` is always sent, and the floor does drop the plain windows of a graphic."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hashes._pdq import pdq_with_quality
from hashes._variants import (
    DENSITIES,
    check_variants,
    quality_floor,
    scored_check_variants,
    work_pixels,
)
from tests.hashes._images import skimage_photo, synthetic

PLAN = DENSITIES["default"]


def _graphic(seed: int, flat: float) -> Image.Image:
    """A photo pasted on a flat ground covering ``flat`` of each side: its edge and
    pair windows are partly plain, so some score low."""
    rng = np.random.default_rng(seed)
    w, h = 320, 240
    ground = np.zeros((h, w, 3), np.uint8) + rng.integers(0, 256, 3, dtype=np.uint8)
    photo = np.asarray(synthetic(seed, (w, h)))
    ph, pw = max(16, int(h * (1 - flat))), max(16, int(w * (1 - flat)))
    top, left = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    ground[top : top + ph, left : left + pw] = photo[:ph, :pw]
    return Image.fromarray(ground)


def _sides(img: Image.Image) -> tuple[str, tuple[tuple[str, int | None], ...]]:
    pdq, _ = pdq_with_quality(np.asarray(img))
    return pdq, scored_check_variants(pdq, work_pixels(img), PLAN)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.9), st.integers(0, 100), st.integers(0, 100))
def test_a_higher_floor_sends_a_subset_in_the_same_order(
    seed: int, flat: float, low: int, high: int
) -> None:
    low, high = min(low, high), max(low, high)
    img = _graphic(seed, flat)
    pdq, scored = _sides(img)
    work = work_pixels(img)
    at_low = check_variants(pdq, work, replace(PLAN, check_min_quality=low))
    at_high = check_variants(pdq, work, replace(PLAN, check_min_quality=high))
    assert at_high[0] == at_low[0] == pdq  # pdq is never dropped
    assert set(at_high) <= set(at_low)
    assert [h for h in at_low if h in at_high] == list(at_high)  # same order
    assert at_high == quality_floor(scored, high)
    assert all(q is None or q >= high for h, q in scored if h in at_high)
    assert len(at_high) <= PLAN.max_check


def test_the_default_floor_drops_nothing() -> None:
    for img in (skimage_photo("astronaut.png"), _graphic(3, 0.7)):
        pdq, scored = _sides(img)
        assert check_variants(pdq, work_pixels(img), PLAN) == tuple(h for h, _ in scored)


def test_a_floor_drops_the_plain_windows_of_a_graphic_and_none_of_a_photo() -> None:
    floor = replace(PLAN, check_min_quality=60)
    img = _graphic(7, 0.8)
    pdq, scored = _sides(img)
    kept = check_variants(pdq, work_pixels(img), floor)
    assert len(kept) < len(scored)  # some windows of the graphic are under 60
    photo = skimage_photo("astronaut.png")
    pdq, scored = _sides(photo)
    assert all(q is None or q >= 60 for _, q in scored)
    assert check_variants(pdq, work_pixels(photo), floor) == tuple(h for h, _ in scored)
