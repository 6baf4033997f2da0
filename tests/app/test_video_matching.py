"""Video matching from the replica's frame index equals vPDQ's brute-force rule
(``hashes.match_percentages``) through adds and removes, per bank settings; and across
media: an image inside a stored video, a stored image inside a checked video.

In process, on a real database (SQLite; the engine cannot change the arithmetic): the
videos are stored through the bank service, followed by the replica from the change log,
and queried through the services a check uses."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hashes
from app.config import Settings
from app.services.container import Services
from app.services.inputs import HashInput, validate_hashes
from app.services.videos import VideoQuery

BASES = [random.Random(seed).randbytes(32).hex() for seed in range(6)]


def _flip(value: str, bits: int, seed: int) -> str:
    """``value`` with ``bits`` distinct bits flipped (deterministic per seed)."""
    n = int(value, 16)
    for b in random.Random(seed).sample(range(256), bits):
        n ^= 1 << b
    return f"{n:064x}"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    url = f"sqlite:///{tmp_path_factory.mktemp('video') / 'hb.db'}"
    svc = Services.build(Settings(database_url=url))
    svc.replica.load()
    svc.banks.create("videos", "block", actor="test")
    yield svc
    svc.db.dispose()


# a frame: one of six base hashes, moved by a number of bits around vPDQ's distance 31
frame = st.tuples(
    st.integers(0, len(BASES) - 1),
    st.sampled_from([0, 12, 30, 31, 32, 45]),
    st.integers(0, 10**6),
    st.sampled_from([20, 49, 50, 80, 100]),
)
video = st.lists(frame, min_size=1, max_size=8)


def _value(frames: list[tuple[int, int, int, int]]) -> str:
    return hashes.format_vpdq(
        hashes.VpdqFrame(_flip(BASES[b], bits, seed), quality, float(t))
        for t, (b, bits, seed, quality) in enumerate(frames)
    )


LIVE: dict[int, str] = {}  # signal id -> stored vPDQ value, as the test made them


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(video, min_size=1, max_size=3), st.integers(0, 3), video)
def test_indexed_matching_equals_the_brute_force_rule(
    services: Services, stored: list, removals: int, query: list
) -> None:
    for frames in stored:
        value = _value(frames)
        [item] = validate_hashes([HashInput("vpdq", value)], services.types)
        if hashes.VPDQ.weakness(item.value) is not None:
            continue  # no frame of quality >= 50: refused as weak, never stored
        services.entries.add("videos", [item], actor="test")
        sid = max(services.replica.videos.videos)
        LIVE[sid] = item.value
    for sid in sorted(LIVE)[:removals]:
        services.entries.remove_one(sid, actor="test")
        del LIVE[sid]
    assert set(services.replica.videos.videos) == set(LIVE)

    q = _value(query)
    got = {h.signal_id: h for h in services.checks.videos.videos(VideoQuery.of(q))}
    qframes = hashes.parse_vpdq(q)
    for sid, value in LIVE.items():
        want = hashes.match_percentages(qframes, hashes.parse_vpdq(value))
        if want.query_percent >= hashes.QUERY_MATCH_PERCENT:
            assert sid in got, (q, value)
            assert got[sid].detail.query_percent == round(want.query_percent, 2)
            assert got[sid].detail.stored_percent == round(want.stored_percent, 2)
        else:
            assert sid not in got
