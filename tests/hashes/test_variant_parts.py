"""``stored_parts`` / ``check_parts`` name each variant hash's kind for the benchmarks
(``benchmarks/variant_kinds.py``): the hashes must be exactly those a report stores and a
check sends, in the same order, and each kind must be the one that made the hash."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hashes._decode import decode
from hashes._pdq import block_hash, pdq_with_quality
from hashes._variants import (
    DENSITIES,
    DIHEDRAL,
    Work,
    check_parts,
    check_variants,
    stored_parts,
    stored_variants,
    work_pixels,
)
from tests.hashes._images import skimage_photo, synthetic

STORED_KINDS = {"pdq", "whole", "turn", "trim", "centre", "aspect", "frame", "grid", "edge"}
STORED_KINDS |= {"band", "pair", "eroded"}
CHECK_KINDS = {"pdq", "whole", "trim", "derotate", "eroded", "edge", "band", "aspect"}


def _hashed(img: Image.Image) -> tuple[str, Work]:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    decoded = decode(buf.getvalue())
    pdq, _ = pdq_with_quality(decoded.pixels)
    return pdq, work_pixels(decoded.image)


def _check_kinds(plan_scales: tuple[float, ...]) -> set[str]:
    return CHECK_KINDS | {f"pair@{s:g}" for s in plan_scales}


def _assert_parts_are_the_variants(img: Image.Image) -> None:
    pdq, work = _hashed(img)
    for name, plan in DENSITIES.items():
        stored = stored_parts(pdq, work, plan)
        check = check_parts(pdq, work, plan)
        assert tuple(v for _, v in stored) == stored_variants(pdq, work, plan), name
        assert tuple(v for _, v in check) == check_variants(pdq, work, plan), name
        assert stored[0] == ("pdq", pdq) and check[0] == ("pdq", pdq)
        assert {k for k, _ in stored} <= STORED_KINDS, name
        assert {k for k, _ in check} <= _check_kinds(plan.check_scales), name
        if not plan.windows:
            continue
        # the labels are the hashes' own: recomputed here from the working pixels
        whole = work.plane.box(0, work.plane.height, 0, work.plane.width)
        expected = block_hash(whole)  # first after pdq, unless it is pdq's very value
        for parts in (stored, check):
            assert expected == pdq or parts[1] == ("whole", expected), name
        turns = {block_hash(np.ascontiguousarray(DIHEDRAL[t](whole))) for t in plan.turns}
        assert {v for k, v in stored if k == "turn"} <= turns, name
        # pair windows come last on both sides (the budget cuts them first)
        for parts in (stored, check):
            kinds = [k for k, _ in parts]
            pairs = [i for i, k in enumerate(kinds) if k.startswith("pair")]
            assert pairs == list(range(len(kinds) - len(pairs), len(kinds))), name


def test_parts_of_a_photo_name_every_kind_the_default_plan_uses() -> None:
    photo = skimage_photo("astronaut.png")
    _assert_parts_are_the_variants(photo)
    pdq, work = _hashed(photo)
    plan = DENSITIES["default"]
    stored = {k for k, _ in stored_parts(pdq, work, plan)}
    # square photo: no 1:1 crop, but 4:5 / 5:4 and the video frame windows
    assert {"pdq", "whole", "turn", "eroded", "centre", "aspect", "frame", "grid", "edge"} <= stored
    assert "pair" in stored
    check = [k for k, _ in check_parts(pdq, work, plan)]
    assert {"pair@0.85", "pair@0.75"} <= set(check)
    assert check[:3] == ["pdq", "whole", "eroded"] and check.count("edge") == 4


def test_a_turned_photo_is_checked_turned_back_and_a_framed_one_trimmed() -> None:
    photo = skimage_photo("chelsea.png")  # astronaut's own corners are as dark as the fill
    turned = photo.rotate(9, resample=Image.Resampling.BICUBIC)  # black corners
    pdq, work = _hashed(turned)
    assert "derotate" in {k for k, _ in check_parts(pdq, work, DENSITIES["default"])}
    framed = Image.new("RGB", (photo.width + 120, photo.height + 120), (240, 240, 240))
    framed.paste(photo, (60, 60))
    pdq, work = _hashed(framed)
    plan = DENSITIES["default"]
    assert "trim" in {k for k, _ in check_parts(pdq, work, plan)}
    assert "trim" in {k for k, _ in stored_parts(pdq, work, plan)}


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 50),
    width=st.integers(64, 400),
    height=st.integers(64, 400),
)
def test_parts_are_the_variants_on_any_picture(seed: int, width: int, height: int) -> None:
    _assert_parts_are_the_variants(synthetic(seed, (width, height)))
