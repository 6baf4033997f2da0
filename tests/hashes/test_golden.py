"""Pinned hashes of deterministic fixture images: any silent drift in decoding, PDQ,
variants or pHash fails here (regenerate only for an intended, documented change)."""

from __future__ import annotations

import hashlib

import numpy as np

import hashes
from tests.hashes._images import encode, synthetic

GOLDEN = {
    # seed: (pdq, phash)
    0: ("bd525aad2d97d14ee03fe05e522de497b5564ea91a2db5420a9d0abdb542b216", "8a3ca15e5ea55a6a"),
    1: ("c999b66666666b9c3b9dc5629e2720fd799916768466cd99208d324fcdf0c18c", "a2588779d8cc3337"),
    2: ("49a95f0b96d6b15a294fb6d2b7565d2b48adaab46aad55a9d1468146a6526aa5", "8a5aa5f1b14a5a1f"),
}
# The variant lists of seed 0: their first hashes, their lengths and a digest of all of
# them ("pdq" first; the others are window hashes, see hashes/_variants.py).
# Issue 23 changed the check side on purpose (the 96 % centred crop gave way to pair
# windows found at a second scale). Issue 20 changed the stored set on purpose: a photo's
# centred 16:9 and 9:16 windows (whole, 93 % and 86 %), so that a photo filmed full width
# in a video matches; they take the place of the last pair windows (new reports only).
# Issue 23 changed both sides on purpose: the eroded whole image (a minimum filter that
# wipes out tiled white watermarks), stored and checked, before the pair windows.
GOLDEN_VARIANTS_0 = (
    9,
    "b5525aa96db7d54ae03fe05e522de49fb5564ea95a2db5420a950abdb542b016",
    "7173db7d803ecf695b228c6f194b57167cf63c9e9dd91d02a00b032c1e6ca785",
)
GOLDEN_STORED_0 = (
    39,
    "b5525aa96db7d54ae03fe05e522de49fb5564ea95a2db5420a950abdb542b016",
    "2c5d3d6494ac05a899c6d5a502ffb362355ad5e9d917f43ec08ba57f3ca1dc09",
)


def _png(seed: int) -> bytes:
    return encode(synthetic(seed), "PNG")


def test_golden_pdq_and_phash() -> None:
    for seed, (pdq, phash) in GOLDEN.items():
        h = hashes.hash_bytes(_png(seed))
        assert (h.pdq, h.phash) == (pdq, phash), seed


def test_golden_variants_and_stored() -> None:
    h = hashes.hash_bytes(_png(0))
    for got, (n, second, digest) in (
        (h.pdq_variants, GOLDEN_VARIANTS_0),
        (h.pdq_stored, GOLDEN_STORED_0),
    ):
        assert got[0] == GOLDEN[0][0]
        assert (len(got), got[1]) == (n, second)
        assert hashlib.sha256(" ".join(got).encode()).hexdigest() == digest


def test_exact_hashes_are_of_the_bytes() -> None:
    data = encode(synthetic(0), "BMP")  # uncompressed: the same bytes everywhere
    h = hashes.hash_bytes(data)
    assert h.md5 == hashlib.md5(data).hexdigest()
    assert h.sha256 == hashlib.sha256(data).hexdigest()
    assert h.sha256 == "5a8ff44169f1558dd90317b6a23a05a2c68d1fc7237dc4abbe3ba2f47104a977"
    assert (h.width, h.height, h.format) == (320, 240, "BMP")


def test_hashes_are_lowercase_hex_of_the_right_length() -> None:
    h = hashes.hash_bytes(_png(1))
    for kind, value in (("pdq", h.pdq), ("phash", h.phash), ("md5", h.md5), ("sha256", h.sha256)):
        assert hashes.parse_hash(kind, value) == value
    assert 0 <= h.pdq_quality <= 100
    assert np.all([c in "0123456789abcdef" for c in h.pdq])
