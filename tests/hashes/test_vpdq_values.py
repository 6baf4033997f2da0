"""vPDQ values in Meta's serialisation, and vPDQ's brute-force matching rule (the cases
are those of python-threatexchange's ``vpdq_util`` and ``vpdq_brute_matcher``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hashes
from hashes import VpdqFrame, format_vpdq, match_percentages, parse_vpdq, prepare_frames

A = "f" * 32 + "0" * 32
B = "0" * 32 + "f" * 32


def _flip(pdq: str, bits: int) -> str:
    value = int(pdq, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def test_meta_serialisation_round_trips_as_pytx_writes_it() -> None:
    text = json.dumps([f"{A},100,0.0", f"{B},87,1.0", f"{A},40,123.456"])
    frames = parse_vpdq(text)
    assert frames[1] == VpdqFrame(B, 87, 1.0)
    # pytx's VpdqCompactFeature.__str__ writes seconds with three significant digits
    assert json.loads(format_vpdq(frames))[2] == f"{A},40,1.23e+02"
    assert parse_vpdq(json.loads(text)) == frames  # the list itself is accepted too
    assert hashes.VPDQ.parse(text) == format_vpdq(frames)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "JSON array"),
        ("{}", "list of"),
        ("[]", "at least one frame"),
        ([12], "frame 0 must be a string"),
        ([f"{A},100"], "got 2 fields"),
        ([f"{A[:-1]},100,0"], "64 hex characters"),
        ([f"{A},101,0"], "quality must be 0-100"),
        ([f"{A},x,0"], "whole number"),
        ([f"{A},50,-1"], "seconds must be"),
        ([f"{A},50,nan"], "seconds must be"),
        ([f"{A},50,inf"], "seconds must be"),
    ],
)
def test_bad_values_are_refused_by_name(value: object, message: str) -> None:
    with pytest.raises(hashes.InvalidHash, match=message):
        parse_vpdq(value)


def test_too_many_frames_are_refused() -> None:
    with pytest.raises(hashes.InvalidHash, match="at most 3 frames"):
        parse_vpdq([f"{A},100,{i}" for i in range(4)], max_frames=3)


def test_duplicates_count_once_before_the_quality_floor() -> None:
    frames = [VpdqFrame(A, 10, 0), VpdqFrame(A, 90, 1), VpdqFrame(B, 90, 2)]
    # pytx de-duplicates first: the low-quality first copy of A hides the good one
    assert prepare_frames(frames) == [VpdqFrame(B, 90, 2)]


def test_match_percentages_follow_vpdq() -> None:
    query = [VpdqFrame(A, 100, 0), VpdqFrame(B, 100, 1)]
    stored = [VpdqFrame(_flip(A, 31), 100, 5)]
    got = match_percentages(query, stored)
    assert (got.query_percent, got.stored_percent) == (50.0, 100.0)
    assert match_percentages(query, [VpdqFrame(_flip(A, 32), 100, 5)]).query_percent == 0.0
    assert match_percentages(query, [VpdqFrame(A, 49, 0)]) == hashes.VideoMatch(0.0, 0.0)


frame_st = st.builds(
    VpdqFrame,
    st.sampled_from([A, B, _flip(A, 20), _flip(B, 40), "0f" * 32]),
    st.integers(0, 100),
    st.floats(0, 10_000, allow_nan=False),
)


@given(st.lists(frame_st, min_size=1, max_size=12), st.lists(frame_st, min_size=1, max_size=12))
def test_matching_is_symmetric_in_its_two_shares(
    query: list[VpdqFrame], stored: list[VpdqFrame]
) -> None:
    ab = match_percentages(query, stored)
    ba = match_percentages(stored, query)
    assert (ab.query_percent, ab.stored_percent) == (ba.stored_percent, ba.query_percent)
    assert 0 <= ab.query_percent <= 100


def test_the_video_specs() -> None:
    assert hashes.VIDEO_MD5.exchange_names["stopncii"] == "VideoMD5"
    assert hashes.VIDEO_MD5.exchange_names["threatexchange"] == "video_md5"
    assert hashes.VIDEO_SHA256.hex_length == 64
    assert hashes.VPDQ.bits is None and hashes.VPDQ.default_threshold == 31
    assert hashes.VPDQ.weakness(json.dumps([f"{A},10,0"])) is not None
    assert hashes.VPDQ.weakness(json.dumps([f"{A},90,0"])) is None
    assert hashes.VPDQ.distance(json.dumps([f"{A},90,0"]), json.dumps([f"{A},90,3"])) == 0


def test_a_deeply_nested_value_is_an_invalid_hash_not_a_crash() -> None:
    # found by tests/app/test_bad_input.py: json.loads raised RecursionError (a 500)
    with pytest.raises(hashes.InvalidHash):
        hashes.parse_vpdq("[" * 100_000)
