"""100M PDQ hashes on one machine: an index snapshot built, mapped, and single exact
radius-31 queries timed (issue 22's stretch goal: p99 <= 2 ms at 100M on 24 GiB).

Usage: .venv/bin/python benchmarks/huge_bank.py [--size N] [--queries Q] [--exact E]
       [--dir DIR] [--keep] [--chunks M]
       .venv/bin/python benchmarks/huge_bank.py --chunkings 11,10 [--size N]

Three processes, one after the other:

1. **build** (under ``nice -n 5``): N random 256-bit hashes generated in blocks straight
   into the index's word array, with near-duplicates at distances 0-40 planted for half
   of the queries (3 each, as ``benchmarks/index.py`` does); the index's main segment
   built in place (``HashIndex._build``: no copy of the hashes, unlike ``add``) and
   adopted; the signal table's columns filled as arrays (no Python object per signal);
   then written by the service's own :meth:`app.index.snapshots.SnapshotStore.write`, so
   the service maps the result as it is. Peak resident set printed (``VmHWM``).
2. **query** (not niced): a fresh process maps the snapshot the way a starting worker
   does (``IndexReplica.load`` with the store: checksums, map, replay), reports ready
   seconds and RSS/PSS/USS, warms up on other random queries (first touches of the
   mapped pages), then times Q single queries one by one (half planted, half random):
   p50/p99/max.
3. **exact** (same process, niced afterwards): the first E timed queries against brute
   force over the mapped hash matrix (faiss ``IndexBinaryFlat.range_search``, exact, one
   thread, over blocks of rows so no copy of the whole matrix is held): every result set
   must be identical. The brute force's own time per query is the baseline of the run.

The snapshot directory is removed at the end unless ``--keep``. ``--chunks M``: the PDQ
index cut into M chunks (``HASHBANK_PDQ_INDEX_CHUNKS``). ``--chunkings``: no snapshot;
chunk counts compared in memory on one bank (see :func:`chunkings`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.replica_load import smaps

RADIUS = 31
BLOCK = 4_000_000  # rows generated / brute-forced at a time
COPIES = 3  # planted near-duplicates per planted query


def status_kb(field: str) -> int:
    """A /proc/self/status memory field (VmHWM: peak resident set) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def make_words(
    n: int, n_queries: int, seed: int = 1
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint8]]:
    """N random hashes as the index's (n, 4) uint64 words, generated a block at a time,
    near-duplicates (distances 0-40) of half of the queries planted at random rows; and
    the queries (planted and random interleaved)."""
    rng = np.random.default_rng(seed)
    words = np.empty((n, 4), dtype=np.uint64)
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        words[lo:hi] = rng.integers(0, 2**64, (hi - lo, 4), dtype=np.uint64, endpoint=False)
    queries = rng.integers(0, 256, (n_queries, 32), dtype=np.uint8)
    planted = n_queries // 2
    if n >= planted * COPIES:
        slots = rng.choice(n, planted * COPIES, replace=False)
        bits = np.unpackbits(np.repeat(queries[:planted], COPIES, axis=0), axis=1)
        for row, dist in enumerate(rng.integers(0, 41, planted * COPIES)):
            bits[row, rng.choice(256, int(dist), replace=False)] ^= 1
        words[slots] = np.packbits(bits, axis=1).view("<u8").astype(np.uint64)
    order = rng.permutation(n_queries)
    return words, queries[order]


def build(n: int, n_queries: int, workdir: Path, chunks: int = 0) -> dict[str, Any]:
    """Phase 1: the bank, its index and signal table, written as a snapshot."""
    from app.index.replica import IndexReplica
    from app.index.signals import SignalTable
    from app.index.snapshots import SnapshotStore
    from app.storage.db import Database
    from hashes import HashIndex

    HashIndex.compile()
    db = Database(f"sqlite:///{workdir}/bank.db")
    db.upgrade()
    replica = IndexReplica(db, chunks={"pdq": chunks} if chunks else None)
    out: dict[str, Any] = {"size": n, "chunks": replica.perceptual["pdq"].chunks}
    started = time.perf_counter()
    words, queries = make_words(n, n_queries)
    np.save(workdir / "queries.npy", queries)
    out["generate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    index = replica.perceptual["pdq"]
    ids = np.arange(1, n + 1, dtype=np.int64)
    main = index._build(words, ids)  # the index's own O(n) build, on these arrays
    del words
    index.adopt({name: getattr(main, name) for name in index.EXPORTED})
    del main
    out["index_build_s"] = time.perf_counter() - started
    out["index_bytes"] = index.memory_bytes()
    started = time.perf_counter()
    # the table's columns for ids 1..n (code of "pdq", a bank, no case, one status)
    probe = SignalTable(types=replica.signals.types[1:])
    probe.put(np.array([1], np.int64), ["pdq"], [1], [None], ["bank"])
    codes, statuses = probe.export()
    columns: dict[str, npt.NDArray[Any]] = {}
    for name, dtype in SignalTable.COLUMNS.items():
        column = np.full(n + 1, -1 if name == "case" else 0, dtype=dtype)
        column[1:] = codes[name][1]
        columns[name] = column
    replica.signals.adopt(columns, statuses)
    replica.loaded = True
    out["table_build_s"] = time.perf_counter() - started
    out["build_peak_rss"] = status_kb("VmHWM")
    store = SnapshotStore(workdir / "snapshots", db.url)
    info = store.write(replica)
    assert info is not None
    out.update(write_s=info.seconds, snapshot_bytes=info.bytes, peak_rss=status_kb("VmHWM"))
    out["load_average"] = os.getloadavg()[0]
    return out


def query(workdir: Path, n_warm: int, n_exact: int, chunks: int = 0) -> dict[str, Any]:
    """Phases 2 and 3, in a fresh process: map, time single queries, check exactness."""
    from app.index.replica import IndexReplica
    from app.index.snapshots import SnapshotStore
    from app.storage.db import Database

    db = Database(f"sqlite:///{workdir}/bank.db")
    store = SnapshotStore(workdir / "snapshots", db.url)
    replica = IndexReplica(db, snapshots=store, chunks={"pdq": chunks} if chunks else None)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    replica.load()
    out["ready_s"] = time.perf_counter() - started
    index = replica.perceptual["pdq"]
    assert index.mapped and replica.snapshot is not None
    out["mapped"] = smaps()
    q = np.load(workdir / "queries.npy")
    warm = np.random.default_rng(5).integers(0, 256, (n_warm, 32), dtype=np.uint8)
    started = time.perf_counter()
    for i in range(n_warm):
        index.search(warm[i : i + 1], RADIUS)
    out["warm_up_s"] = time.perf_counter() - started
    lat = np.empty(q.shape[0])
    cpu = np.empty(q.shape[0])
    found: list[frozenset[int]] = []
    out["load_average"] = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(q.shape[0]):
        row = q[i : i + 1]
        t, c = time.perf_counter(), time.thread_time()
        ids, _ = index.search(row, RADIUS)[0]
        lat[i], cpu[i] = time.perf_counter() - t, time.thread_time() - c
        found.append(frozenset(ids.tolist()))
    after = resource.getrusage(resource.RUSAGE_SELF)
    us = lat * 1e6
    out["load_average_after"] = os.getloadavg()[0]
    # during the timed queries: page faults that read the disk, and preemptions
    out["major_faults"] = after.ru_majflt - before.ru_majflt
    out["preempted"] = after.ru_nivcsw - before.ru_nivcsw
    out.update(
        queries=int(q.shape[0]),
        cpu_p50_us=float(np.percentile(cpu * 1e6, 50)),
        cpu_p99_us=float(np.percentile(cpu * 1e6, 99)),
        p50_us=float(np.percentile(us, 50)),
        p99_us=float(np.percentile(us, 99)),
        max_us=float(us.max()),
        mean_us=float(us.mean()),
        matches=int(sum(len(s) for s in found)),
        after_queries=smaps(),
    )
    os.nice(5)  # the brute force is heavy and untimed against anything but itself
    brute, per_query = brute_force(replica.snapshot.path, q[:n_exact])
    out["exact"] = f"{sum(a == b for a, b in zip(found, brute, strict=False))}/{len(brute)}"
    out["brute_ms_per_query"] = per_query * 1e3
    out["peak_rss"] = status_kb("VmHWM")
    return out


def brute_force(
    snapshot: Path, queries: npt.NDArray[np.uint8]
) -> tuple[list[frozenset[int]], float]:
    """Every stored id within RADIUS of each query, by faiss IndexBinaryFlat (exact) over
    the snapshot's mapped hash matrix, a block of rows at a time; and the brute force's
    time per query (each query searched alone, one thread, block copies not counted)."""
    import faiss

    faiss.omp_set_num_threads(1)
    words = np.load(snapshot / "index.pdq.words.npy", mmap_mode="r")
    ids = np.load(snapshot / "index.pdq.ids.npy", mmap_mode="r")
    sets: list[set[int]] = [set() for _ in range(queries.shape[0])]
    spent = 0.0
    for lo in range(0, words.shape[0], BLOCK):
        hi = min(words.shape[0], lo + BLOCK)
        flat = faiss.IndexBinaryFlat(256)
        flat.add(np.ascontiguousarray(words[lo:hi]).view(np.uint8))
        block_ids = np.asarray(ids[lo:hi])
        for i in range(queries.shape[0]):
            t = time.perf_counter()
            _, _, rows = flat.range_search(queries[i : i + 1], RADIUS + 1)
            spent += time.perf_counter() - t
            sets[i].update(block_ids[rows].tolist())
        del flat
        gc.collect()
    return [frozenset(s) for s in sets], spent / max(1, queries.shape[0])


def chunkings(n: int, counts: list[int], n_queries: int, n_warm: int) -> list[str]:
    """``--chunkings``: the same bank indexed in memory with each chunk count, the indexes
    sharing one hash matrix and id array (each adds only its entries: ~4.4 GB at 100M
    for 11 chunks, so two fit in 14 GB), searched in turn query by query (the order
    rotating), so machine noise hits all alike. CPU time per single query (this
    thread's: other processes' load left out); the result sets of every chunking must
    be identical (each is exact)."""
    from hashes import HashIndex

    HashIndex.compile()
    words, queries = make_words(n, n_queries)
    ids = np.arange(1, n + 1, dtype=np.int64)
    warm = np.random.default_rng(5).integers(0, 256, (n_warm, 32), dtype=np.uint8)
    indexes, builds, prefixes = [], [], []
    for m in counts:
        index = HashIndex(256, chunks=m, strategy="mih")
        started = time.perf_counter()
        main = index._build(words, ids)
        builds.append(time.perf_counter() - started)
        index.adopt({name: getattr(main, name) for name in index.EXPORTED})
        prefixes.append("/".join(map(str, sorted(set(main.prefixes.tolist())))))
        del main
        for i in range(n_warm):
            index.search(warm[i : i + 1], RADIUS)
        indexes.append(index)
    cpu = np.empty((len(counts), queries.shape[0]))
    found: list[list[frozenset[int]]] = [[] for _ in counts]
    for i in range(queries.shape[0]):
        for j in range(len(counts)):
            k = (i + j) % len(counts)
            c = time.thread_time()
            got = indexes[k].search(queries[i : i + 1], RADIUS)[0][0]
            cpu[k, i] = time.thread_time() - c
            found[k].append(frozenset(got.tolist()))
    rows = [
        f"Chunk counts at {n:,} hashes (`--chunkings`), in memory, searched in turn"
        f" (peak RSS {status_kb('VmHWM') / 1e9:.1f} GB, load average {os.getloadavg()[0]:.1f}):",
        "",
        "| chunks | chunk bits | prefix bits | index B/hash | build s | CPU p50 µs |"
        " CPU p99 µs | p50 / first's | same results as first |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    us = cpu * 1e6
    base = float(np.percentile(us[0], 50))
    for k, m in enumerate(counts):
        index = indexes[k]
        lengths = "/".join(map(str, sorted(set(index._lengths.tolist()))))
        same = sum(a == b for a, b in zip(found[k], found[0], strict=True))
        rows.append(
            f"| {m} | {lengths} | {prefixes[k]} | {index.memory_bytes() / n:.1f} |"
            f" {builds[k]:.0f} | {np.percentile(us[k], 50):.0f} |"
            f" {np.percentile(us[k], 99):.0f} | {np.percentile(us[k], 50) / base:.2f} |"
            f" {same}/{len(found[k])} |"
        )
    return rows


def report(n: int, b: dict[str, Any], r: dict[str, Any]) -> str:
    gb = 1e9
    mem = r["after_queries"]
    return "\n".join(
        [
            "| hashes | chunks | build s | build peak RSS GB | snapshot written s | size GB |"
            " ready s | RSS / PSS GB after queries | p50 µs | p99 µs | max µs | CPU p50 / p99 µs |"
            " load avg | brute force ms/query | exact |",
            "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|",
            f"| {n:,} | {b['chunks']} |"
            f" {b['generate_s'] + b['index_build_s'] + b['table_build_s']:.1f} |"
            f" {b['peak_rss'] / gb:.1f} | {b['write_s']:.1f} | {b['snapshot_bytes'] / gb:.2f} |"
            f" {r['ready_s']:.1f} | {mem['rss'] / gb:.1f} / {mem['pss'] / gb:.1f} |"
            f" {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['max_us']:,.0f} |"
            f" {r['cpu_p50_us']:.0f} / {r['cpu_p99_us']:.0f} |"
            f" {r['load_average']:.1f}-{r['load_average_after']:.1f} |"
            f" {r['brute_ms_per_query']:.0f} | {r['exact']} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000_000)
    parser.add_argument("--queries", type=int, default=2_000, help="timed single queries")
    parser.add_argument("--warm", type=int, default=1_000, help="untimed queries first")
    parser.add_argument("--exact", type=int, default=200, help="queries checked by brute force")
    parser.add_argument("--dir", type=Path, help="work directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the snapshot")
    parser.add_argument(
        "--chunks", type=int, default=0, help="PDQ index chunks (HASHBANK_PDQ_INDEX_CHUNKS)"
    )
    parser.add_argument(
        "--chunkings", help="comma-separated chunk counts: compare them in memory (no snapshot)"
    )
    parser.add_argument("--phase", choices=["build", "query"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        if args.phase == "build":
            result = build(args.size, args.queries, args.dir, args.chunks)
        else:
            result = query(args.dir, args.warm, args.exact, args.chunks)
        print(json.dumps(result), flush=True)
        return 0
    if args.chunkings:
        counts = [int(m) for m in args.chunkings.split(",")]
        print("\n".join(chunkings(args.size, counts, args.queries, args.warm)))
        return 0
    available = Path("/proc/meminfo").read_text().split("MemAvailable:")[1].split()[0]
    print(f"memory available: {int(available) / 1e6:.1f} GB", flush=True)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="hb-huge-"))
    workdir.mkdir(parents=True, exist_ok=True)
    common = [
        f"--size={args.size}",
        f"--queries={args.queries}",
        f"--warm={args.warm}",
        f"--exact={args.exact}",
        f"--dir={workdir}",
        f"--chunks={args.chunks}",
    ]
    try:
        me = [sys.executable, __file__, *common]
        done = subprocess.run(
            ["nice", "-n", "5", *me, "--phase=build"], check=True, stdout=subprocess.PIPE
        )
        b = json.loads(done.stdout.decode().splitlines()[-1])
        print(json.dumps({"build": b}), flush=True)
        done = subprocess.run([*me, "--phase=query"], check=True, stdout=subprocess.PIPE)
        r = json.loads(done.stdout.decode().splitlines()[-1])
        print(json.dumps({"query": r}), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(args.size, b, r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
