"""Issue 23's benchmark helpers: the photo list, the photo rule, the compiled all-pairs
closest distances, the new randomised edits."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from benchmarks._matching import min_distances
from benchmarks.accuracy import GOALS, TRANSFORMS
from benchmarks.photo_set import EXCLUDED, SOURCES, read_list, rejection
from tests.hashes._images import skimage_photo


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_photo_list_is_wide_unique_and_never_reads_the_held_out_packages() -> None:
    entries = read_list()
    assert len(entries) >= 300
    assert len({e.sha256 for e in entries}) == len(entries)
    assert len({e.family for e in entries}) >= 4
    packages = {(s.package, s.version) for s in SOURCES}
    for e in entries:
        assert (e.package, e.version) in packages
        assert not any(x in e.package for x in EXCLUDED)
        assert len(e.sha256) == 64 and int(e.sha256, 16) >= 0


def test_the_photo_rule_keeps_a_photo_and_drops_icons_cut_outs_and_flat_art() -> None:
    photo = skimage_photo("coffee.png")
    assert rejection(_png(photo)) is None
    assert rejection(_png(photo.resize((100, 80)))) == "smaller than 128 px"
    cut_out = photo.convert("RGBA")
    cut_out.putpixel((0, 0), (0, 0, 0, 0))
    assert rejection(_png(cut_out)) == "transparent"
    flat = Image.new("RGB", (400, 300), (200, 30, 30))
    flat.paste((20, 20, 200), (100, 100, 300, 200))
    assert rejection(_png(flat)) == "few grey levels"
    assert rejection(b"not an image") == "does not decode"


def _hex(bits: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=bits // 8, max_size=bits // 8).map(bytes.hex)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(_hex(256), min_size=1, max_size=4), min_size=1, max_size=4),
    st.lists(st.lists(_hex(256), min_size=0, max_size=5), min_size=1, max_size=4),
)
def test_min_distances_is_the_closest_pair_of_each_two_groups(
    checks: list[list[str]], stored: list[list[str]]
) -> None:
    got = min_distances(checks, stored)

    def d(a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    for i, c in enumerate(checks):
        for j, s in enumerate(stored):
            assert got[i, j] == min((d(a, b) for a in c for b in s), default=257)


def test_min_distances_of_64_bit_hashes() -> None:
    assert min_distances([["ff" * 8]], [["00" * 8, "0f" * 8]], bits=64)[0, 0] == 32


def test_the_new_edits_draw_their_parameters_per_copy() -> None:
    photo = skimage_photo("astronaut.png")
    rng = np.random.default_rng(1)
    for name in GOALS:
        edit = next(t for t in TRANSFORMS if t.name == name).edit
        a, b = edit(photo, rng), edit(photo, rng)
        assert a != b
        with Image.open(io.BytesIO(a)) as img:
            assert img.size[0] <= photo.size[0] and img.size[1] <= photo.size[1]
