"""HashIndex is exact: property tests against brute force (numpy popcount).

Every stored hash within the radius must come back, with its distance, and nothing else:
hashes at exactly the radius and one past it, duplicates, clusters of near-identical
hashes, removals, merges of the delta into the main segment, both search strategies.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hashes import HashIndex


def brute(
    data: npt.NDArray[np.uint8], ids: npt.NDArray[np.int64], query: npt.NDArray[np.uint8], r: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    if not data.shape[0]:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dist = np.bitwise_count(data ^ query).sum(axis=1, dtype=np.int64)
    hit = dist <= r
    order = np.lexsort((ids[hit], dist[hit]))
    return ids[hit][order], dist[hit][order]


def flip(row: npt.NDArray[np.uint8], positions: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    bits = np.unpackbits(row)
    bits[positions] ^= 1
    return np.packbits(bits)


def assert_exact(
    index: HashIndex,
    data: npt.NDArray[np.uint8],
    ids: npt.NDArray[np.int64],
    queries: npt.NDArray[np.uint8],
    radius: int,
) -> None:
    results = index.search(queries, radius)
    assert len(results) == queries.shape[0]
    for query, (got_ids, got_d) in zip(queries, results, strict=True):
        want_ids, want_d = brute(data, ids, query, radius)
        assert got_ids.tolist() == want_ids.tolist()
        assert got_d.tolist() == want_d.tolist()


@st.composite
def banks(draw: st.DrawFn) -> tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8], int]:
    """Stored hashes (random + clusters + duplicates) and queries at chosen distances."""
    bits = draw(st.sampled_from([64, 256, 128, 72]))
    nbytes = bits // 8
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    radius = draw(st.integers(0, min(bits, 48)))
    n_random = draw(st.integers(0, 300))
    data = [rng.integers(0, 256, (n_random, nbytes), dtype=np.uint8)]
    for _ in range(draw(st.integers(0, 4))):  # clusters of near-identical hashes
        center = rng.integers(0, 256, nbytes, dtype=np.uint8)
        size = int(rng.integers(1, 40))
        members = [flip(center, rng.choice(bits, int(rng.integers(0, 6)), replace=False))
                   for _ in range(size)]  # fmt: skip
        data.append(np.stack(members))
    stored = np.concatenate(data)
    if stored.shape[0] and draw(st.booleans()):  # exact duplicates
        stored = np.concatenate([stored, stored[: int(rng.integers(1, stored.shape[0] + 1))]])
    queries = [rng.integers(0, 256, (5, nbytes), dtype=np.uint8)]
    for _ in range(draw(st.integers(0, 12)) if stored.shape[0] else 0):
        src = stored[int(rng.integers(stored.shape[0]))]
        # exactly at the radius, one past it, or anywhere around it
        k = draw(st.sampled_from([radius, radius + 1, max(radius - 1, 0), 0]))
        k = min(k, bits)
        queries.append(flip(src, rng.choice(bits, k, replace=False))[None])
    return radius, stored, np.concatenate(queries), bits


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=banks(),
    strategy=st.sampled_from(["mih", "scan", "auto"]),
    chunks=st.sampled_from([None, 9, 10, 11]),  # the default and HASHBANK_PDQ_INDEX_CHUNKS'
)
def test_search_equals_brute_force(
    case: tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8], int],
    strategy: str,
    chunks: int | None,
) -> None:
    radius, stored, queries, bits = case
    ids = np.arange(stored.shape[0], dtype=np.int64) * 7 + 3
    index = HashIndex(bits, chunks=chunks, strategy=strategy, delta_limit=64)  # type: ignore[arg-type]
    # in pieces, so rows sit in the main segment and in the delta
    for part in np.array_split(np.arange(stored.shape[0]), 3):
        index.add(ids[part], stored[part])
    assert len(index) == stored.shape[0]
    assert_exact(index, stored, ids, queries, radius)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=banks(), data=st.data())
def test_removals_and_readds(
    case: tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8], int], data: st.DataObject
) -> None:
    radius, stored, queries, bits = case
    ids = np.arange(stored.shape[0], dtype=np.int64)
    index = HashIndex(bits, strategy="mih", delta_limit=32)
    index.add(ids, stored)
    if stored.shape[0]:
        gone = np.array(
            data.draw(
                st.lists(st.integers(0, stored.shape[0] - 1), max_size=stored.shape[0], unique=True)
            ),
            dtype=np.int64,
        )
        index.remove(np.concatenate([gone, [10**12]]))  # unknown ids are ignored
        keep = ~np.isin(ids, gone)
        assert len(index) == int(keep.sum())
        assert_exact(index, stored[keep], ids[keep], queries, radius)
        # update = remove + add: re-adding the removed rows brings them back
        index.add(gone[:5], stored[gone[:5]])
        back = keep | np.isin(ids, gone[:5])
        assert_exact(index, stored[back], ids[back], queries, radius)


def test_large_bank_with_planted_near_duplicates() -> None:
    """200k random PDQ-sized hashes with planted copies at distances 0..48, every radius."""
    rng = np.random.default_rng(7)
    n = 200_000
    stored = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ids = rng.permutation(n).astype(np.int64) * 11
    index = HashIndex(256, strategy="mih")
    index.add(ids, stored)
    picks = rng.integers(0, n, 60)
    queries = np.stack(
        [flip(stored[p], rng.choice(256, int(d), replace=False)) for p, d in
         zip(picks, np.arange(60) % 49, strict=True)]
    )  # fmt: skip
    for radius in (0, 8, 31, 32, 48):
        assert_exact(index, stored, ids, queries, radius)
    auto = HashIndex(256)
    auto.add(ids, stored)
    assert_exact(auto, stored, ids, queries, 31)


def test_variants_answered_in_one_call_in_order() -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    index = HashIndex(256, strategy="mih")
    index.add(np.arange(5000), stored)
    queries = stored[[10, 20, 30]]
    results = index.search(queries, 0)
    assert [r[0].tolist() for r in results] == [[10], [20], [30]]


def test_bad_arguments() -> None:
    index = HashIndex(256)
    with pytest.raises(ValueError, match="shape"):
        index.add([1], np.zeros((1, 16), np.uint8))
    with pytest.raises(ValueError, match="length"):
        index.add([1, 2], np.zeros((1, 32), np.uint8))
    with pytest.raises(ValueError, match="multiple of 8"):
        HashIndex(100)
    assert index.search(np.zeros((2, 32), np.uint8), -1)[0][0].size == 0


def test_index_does_not_alias_caller_memory() -> None:
    data = np.zeros((3, 32), np.uint8)
    index = HashIndex(256)
    index.add([1, 2, 3], data)
    data[:] = 255
    assert index.search(np.zeros((1, 32), np.uint8), 0)[0][0].tolist() == [1, 2, 3]


def test_concurrent_search_while_adding_and_removing() -> None:
    """Searches in other threads always see the stable rows exactly while others churn."""
    rng = np.random.default_rng(5)
    stable = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    index = HashIndex(256, delta_limit=512, strategy="mih")
    index.add(np.arange(20_000), stable)
    queries = np.stack([flip(stable[i], rng.choice(256, 20, replace=False)) for i in range(20)])
    expected = [brute(stable, np.arange(20_000), q, 31) for q in queries]
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for (got, _), (want, _) in zip(index.search(queries, 31), expected, strict=True):
                # churn rows are random: far from the queries, so the answer never changes
                if got.tolist() != want.tolist():
                    failures.append(f"{got} != {want}")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    next_id = 10**6
    for _ in range(40):
        batch = rng.integers(0, 256, (300, 32), dtype=np.uint8)
        index.add(np.arange(next_id, next_id + 300), batch)
        index.remove(np.arange(next_id, next_id + 150))
        next_id += 300
    stop.set()
    for t in threads:
        t.join()
    assert not failures
    assert len(index) == 20_000 + 40 * 150


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=banks(), data=st.data(), strategy=st.sampled_from(["mih", "scan", "auto"]))
def test_exported_then_adopted_read_only_from_a_file_stays_exact(
    case: tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8], int],
    data: st.DataObject,
    strategy: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """export() -> .npy files -> np.load(mmap_mode="r") -> adopt(): the mapped index, then
    changed (adds, removes, re-adds, a merge), answers as brute force, and the files are
    never written."""
    radius, stored, queries, bits = case
    ids = np.arange(stored.shape[0], dtype=np.int64) * 3 + 1
    n = stored.shape[0]
    cut = data.draw(st.integers(0, n))
    chunks = data.draw(st.sampled_from([None, 10]))
    source = HashIndex(bits, chunks=chunks, delta_limit=16)
    source.add(ids[:cut], stored[:cut])
    early_gone = ids[: data.draw(st.integers(0, cut))][::2]
    source.remove(early_gone)  # dead rows and a delta: export builds a compacted segment
    folder = tmp_path_factory.mktemp("exported")
    build = source.export()
    source.add(ids[cut:], stored[cut:])  # after export(): not in the exported arrays
    for name, array in build().items():
        np.save(folder / f"{name}.npy", array)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    mapped = {p.stem: np.load(p, mmap_mode="r") for p in folder.iterdir()}
    index = HashIndex(bits, chunks=chunks, strategy=strategy, delta_limit=16)  # type: ignore[arg-type]
    index.adopt(mapped)
    assert index.mapped
    live = np.isin(ids, ids[:cut]) & ~np.isin(ids, early_gone)
    assert len(index) == int(live.sum())
    assert_exact(index, stored[live], ids[live], queries, radius)
    # the rest arrives as changes; some go, some come back
    index.add(ids[cut:], stored[cut:])
    live |= np.arange(n) >= cut
    gone = (
        ids[data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n, unique=True))]
        if n
        else ids
    )
    index.remove(gone)
    live &= ~np.isin(ids, gone)
    assert_exact(index, stored[live], ids[live], queries, radius)
    back = np.sort(gone[:3])
    index.add(back, stored[np.isin(ids, back)])
    live |= np.isin(ids, back)
    assert_exact(index, stored[live], ids[live], queries, radius)
    del mapped, index
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_adopt_refuses_arrays_of_another_chunking() -> None:
    source = HashIndex(256)
    source.add(np.arange(10), np.zeros((10, 32), np.uint8))
    arrays = source.export()()
    with pytest.raises(ValueError, match="expected"):
        HashIndex(256, chunks=8).adopt(arrays)
    with pytest.raises(ValueError):
        HashIndex(64).adopt(arrays)
    damaged = dict(arrays, dir_offsets=arrays["dir_offsets"] + 1)
    with pytest.raises(ValueError, match="directories"):
        HashIndex(256).adopt(damaged)


def test_a_mapped_index_merges_only_past_a_sixteenth_of_itself() -> None:
    rng = np.random.default_rng(5)
    source = HashIndex(64)
    source.add(np.arange(100_000), rng.integers(0, 256, (100_000, 8), dtype=np.uint8))
    arrays = source.export()()
    index = HashIndex(64)
    index.adopt(arrays)
    extra = rng.integers(0, 256, (6_000, 8), dtype=np.uint8)
    index.add(np.arange(100_000, 106_000), extra)  # under 1/16: still the adopted arrays
    assert index.mapped and index.delta_rows == 6_000
    index.add(np.arange(106_000, 107_000), extra[:1000])
    assert not index.mapped  # past it: merged into private memory
    assert len(index) == 107_000


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bits=st.sampled_from([64, 256, 72]),
    chunks=st.sampled_from([None, 3, 11]),
    bucket_size=st.integers(1, 8),
    n=st.integers(1, 3_000),
    dead=st.floats(0, 1),
    added=st.integers(0, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_rows_merged_into_the_buckets_equal_a_new_build(
    bits: int, chunks: int | None, bucket_size: int, n: int, dead: float, added: int, seed: int
) -> None:
    """A snapshot write or a delta merge merges the new rows into the old buckets and drops
    the dead ones (``_merged``) instead of sorting every row again: every array must be
    the one a build of the same rows gives, bit for bit (duplicates, all rows dead, no
    rows added included)."""
    rng = np.random.default_rng(seed)
    index = HashIndex(bits, chunks=chunks if chunks and chunks * 32 >= bits else None,
                      bucket_size=bucket_size)  # fmt: skip
    data = rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)
    data[: n // 10] = data[0]  # duplicates share every bucket
    main = index._build(index._to_words(data), np.arange(n, dtype=np.int64))
    keep = rng.random(n) >= dead
    more = index._to_words(rng.integers(0, 256, (added, bits // 8), dtype=np.uint8))
    more_ids = np.arange(n, n + added, dtype=np.int64)
    total = int(keep.sum()) + added
    assume(total > 0 and np.array_equal(index._prefixes(total), main.prefixes))
    merged = index._merged(main, keep, more, more_ids)
    built = index._build(
        np.concatenate([main.words[keep], more]), np.concatenate([main.ids[keep], more_ids])
    )
    for name in HashIndex.EXPORTED:
        assert np.array_equal(getattr(merged, name), getattr(built, name)), name
        assert getattr(merged, name).dtype == getattr(built, name).dtype


def test_a_mapped_segment_merges_without_sorting_again_and_stays_exact() -> None:
    """Adds and removes on an adopted (read-only) segment, exported: the export is the
    merge of the new rows into the read-only buckets (the prefixes unchanged), equal to
    a new build, and searches on it are exact."""
    rng = np.random.default_rng(11)
    n = 50_000
    data = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    source = HashIndex(256)
    source.add(np.arange(n), data)
    arrays = source.export()()
    for array in arrays.values():
        array.flags.writeable = False
    index = HashIndex(256)
    index.adopt(arrays)
    gone = rng.choice(n, 700, replace=False)
    index.remove(gone)
    extra = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    index.add(np.arange(n, n + 300), extra)
    keep = np.ones(n, bool)
    keep[gone] = False
    total = int(keep.sum()) + 300
    assert np.array_equal(index._prefixes(total), arrays["prefixes"])  # the merge path
    exported = index.export()()
    stored = np.concatenate([data[keep], extra])
    ids = np.concatenate([np.arange(n)[keep], np.arange(n, n + 300)])
    built = index._build(index._to_words(stored), ids)
    for name in HashIndex.EXPORTED:
        assert np.array_equal(exported[name], getattr(built, name)), name
    again = HashIndex(256)
    again.adopt(exported)
    queries = np.concatenate([stored[rng.choice(stored.shape[0], 20)], data[gone[:5]]])
    assert_exact(again, stored, ids, queries, 31)
