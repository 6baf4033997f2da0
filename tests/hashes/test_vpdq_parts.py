"""``hashes.append_frames``: the parts of one vPDQ frame list join back into that list.

The reporting page sends a long video's frame list in parts of about 150 frames; the
server joins each part into the case's video as it comes. Parts may come in any order
(two requests at once), or twice (a retry). Meta's text writes a frame's time to three
significant digits, so from 1,000 s on, frames up to ten seconds apart share a time: a
sort of all frames by time would mix the ends of two parts; placing each part whole does
not, for parts longer than that rounding (the page's 150 s; 100 s past 10,000 s).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

import hashes


def _video(n: int, rng: random.Random) -> tuple[hashes.VpdqFrame, ...]:
    """``n`` frames at one a second, read back from Meta's text (times rounded as it
    writes them)."""
    frames = [hashes.VpdqFrame(f"{rng.getrandbits(256):064x}", 90, float(t)) for t in range(n)]
    return hashes.parse_vpdq(hashes.format_vpdq(frames))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12_000), st.integers(101, 400), st.randoms(use_true_random=False))
def test_parts_in_any_order_join_into_the_whole_list(n: int, size: int, rng: random.Random) -> None:
    whole = _video(n, rng)
    parts = [whole[i : i + size] for i in range(0, n, size)]
    rng.shuffle(parts)
    joined: tuple[hashes.VpdqFrame, ...] = parts[0]
    for part in parts[1:]:
        more = hashes.append_frames(joined, part)
        assert more is not None and len(more) == len(joined) + len(part)
        joined = more
    assert joined == whole
    assert hashes.format_vpdq(joined) == hashes.format_vpdq(whole)


def test_a_part_sent_again_adds_nothing_and_a_repeated_frame_is_kept() -> None:
    rng = random.Random(3)
    whole = _video(300, rng)
    first, second = whole[:150], whole[150:]
    joined = hashes.append_frames(first, second)
    assert joined == whole
    assert hashes.append_frames(whole, second) is None  # a retry
    assert hashes.append_frames(whole, second[:10]) is None  # part of a retry
    # a static scene after 1,000 s: equal frames (same hash and rounded time) are kept
    still = hashes.VpdqFrame("ab" * 32, 90, 1200.0)
    twice = hashes.append_frames((still,), (still, still))
    assert twice == (still, still, still)
