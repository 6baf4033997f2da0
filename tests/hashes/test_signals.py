"""Hash strings: validation per signal type, Hamming distance properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hashes

LENGTHS = {"pdq": 64, "phash": 16, "md5": 32, "sha256": 64}
hex_of = {kind: st.text("0123456789abcdef", min_size=n, max_size=n) for kind, n in LENGTHS.items()}


@pytest.mark.parametrize("kind", LENGTHS)
def test_parse_accepts_upper_case_and_whitespace(kind):
    value = "Ab" * (LENGTHS[kind] // 2)
    assert hashes.parse_hash(kind, f"  {value}\n") == value.lower()


@pytest.mark.parametrize("kind", LENGTHS)
@pytest.mark.parametrize("bad", ["", "a", "g" * 64, "ab" * 40, "0x" + "a" * 62, "é" * 16])
def test_parse_refuses_wrong_length_or_non_hex(kind, bad):
    with pytest.raises(hashes.InvalidHash) as err:
        hashes.parse_hash(kind, bad)
    assert kind in str(err.value)


def test_parse_refuses_unknown_type_and_non_strings():
    with pytest.raises(hashes.InvalidHash, match="unknown signal type"):
        hashes.parse_hash("sha1", "a" * 40)
    with pytest.raises(hashes.InvalidHash):
        hashes.parse_hash("pdq", 12345)  # type: ignore[arg-type]


@given(hex_of["pdq"], hex_of["pdq"], hex_of["pdq"])
def test_hamming_is_a_metric(a, b, c):
    assert hashes.hamming(a, a) == 0
    assert hashes.hamming(a, b) == hashes.hamming(b, a)
    assert 0 <= hashes.hamming(a, b) <= 256
    assert hashes.hamming(a, c) <= hashes.hamming(a, b) + hashes.hamming(b, c)


@given(hex_of["phash"], st.sets(st.integers(0, 63)))
def test_hamming_counts_flipped_bits(a, bits):
    flipped = int(a, 16)
    for bit in bits:
        flipped ^= 1 << bit
    assert hashes.hamming(a, f"{flipped:016x}") == len(bits)


@given(st.sampled_from(list(LENGTHS)), st.data())
def test_hex_round_trip(kind, data):
    value = data.draw(hex_of[kind])
    assert hashes.hex_to_bytes(value).hex() == value
    assert hashes.parse_hash(kind, value) == value


def test_hamming_refuses_mismatched_lengths():
    with pytest.raises(hashes.InvalidHash):
        hashes.hamming("ab", "abcd")
    with pytest.raises(hashes.InvalidHash):
        hashes.hamming("zz", "ab")


def test_exported_members_match_all():
    public = {name for name in dir(hashes) if not name.startswith("_")}
    assert set(hashes.__all__) <= public
    assert {"Hashes", "HashIndex", "hash_bytes", "hash_file", "hamming", "parse_hash"} <= set(
        hashes.__all__
    )
