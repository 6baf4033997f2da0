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
GOLDEN_VARIANTS_0 = [
    "bd525aad2d97d14ee03fe05e522de497b5564ea91a2db5420a9d0abdb542b216",
    "9c93a8bfad932d4c606c5e2d426c7f6d614c6b6d4a6452725e6cc152bd939493",
    "f007f0037bf03ff8f56a4afc8778ca01e503e6030ff81fe85fc0a017f0171abc",
    "c9c61235c8c607e73539e5073579c5473419c1c73e31d9d81e317bf8c8c63e39",
    "e0070ffc79c2851bf56ab50b077831c6e0031bfc4f78e0175fc85fe8e017e543",
    "a552a5560ea54abda03f1fa9502d9f54b056b3565a2d4abd0a95f542b5425fe9",
    "9d935f40ad93d2b3e06ca1d2426db092614c94924a64ad8d5e6c7fadbd936b6c",
    "cbc6edcaf8c6f81b35391af837793ab834393e383e3136271e318407c8c6c1c6",
]
GOLDEN_STORED_0 = [
    "bd525aad2d97d14ee03fe05e522de497b5564ea91a2db5420a9d0abdb542b216",
    "009a81254093bb6a7fd07feabd755ed39b7a24858175428a4570f5705a8aff72",
    "ffdaffb5a75a40ac0050000610a5245b592ab6ddffb16f4efff0d7f0004e4932",
    "55522aadac97514aa0bfc1fe4a3da49f95566aa92a3d35422a152abdd5c2935e",
    "15522aada8bd555aa03fe0bf4a2da49795566ea10aadb5522a952abdf5c2915e",
    "55523fc3aaa555dad82ff49ee82da0add5522e832aa5554206972a1dd5e2d15e",
    "a5567c035aadad52127f85b6027d49afa5565c0b5aadad52a8370abdad42a374",
    "2a9daaad541ad07ea09f702f2a3d94d257522ea18b1555d22a9daa9dd5e2d15e",
    "5abf52ada556825e00bf817f522dad92b6565aa93a35ad520abd0abda542a374",
    "95523f832aadf552927fa496406de8af95566c834aadb5422c970abdf5c29156",
    "4a9d2aadc55ed07ea0bf406f4a2db59217566aa11a15b5520abd2abdf5c2917c",
    "5552aaa5aa95545ae03ff41f682da493d5522ea1ab95d5422a9daa1dd5e2d15e",
    "a5565aa900bd855602ff81ff527d4db7a45658a95a2dad52aab50abda542a374",
]


def _png(seed: int) -> bytes:
    return encode(synthetic(seed), "PNG")


def test_golden_pdq_and_phash() -> None:
    for seed, (pdq, phash) in GOLDEN.items():
        h = hashes.hash_bytes(_png(seed))
        assert (h.pdq, h.phash) == (pdq, phash), seed


def test_golden_variants_and_stored() -> None:
    h = hashes.hash_bytes(_png(0))
    assert list(h.pdq_variants) == GOLDEN_VARIANTS_0
    assert list(h.pdq_stored) == GOLDEN_STORED_0


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
