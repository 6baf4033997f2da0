"""Service start-up: how fast a process loads N PDQ hashes from the database or from an
index snapshot, and its memory.

Usage: .venv/bin/python benchmarks/replica_load.py [--size N ...] [--database-url URL]
       [--workers K] [--no-wrk] [--write]
       .venv/bin/python benchmarks/replica_load.py --direct N [--workers K]
       .venv/bin/python benchmarks/replica_load.py --checks-only N [--rounds R]
           [--hashbank EXE | --compare EXE]
       .venv/bin/python benchmarks/replica_load.py --one-write N [--rounds R] [--hashbank EXE]
       .venv/bin/python benchmarks/replica_load.py --switch N [--rounds R]
       .venv/bin/python benchmarks/replica_load.py --gil N [--rounds R]

Seeds a fresh SQLite file (or the given database) with N bank signals by bulk insert,
then times :meth:`app.index.replica.IndexReplica.load` in the same process and reports
the growth of resident memory per hash (index + signal table + everything else the load
keeps). The baseline in the same run is the raw read: the same rows fetched with one
plain SELECT and nothing else, so the ratio shows what indexing adds on top of I/O.

Index snapshots (app/index/snapshots.py), in the same run:

- written: :meth:`SnapshotStore.write` of the loaded replica (seconds, bytes);
- ready from the snapshot vs from the database: K fresh processes (``--workers``, 3)
  each map the snapshot, replay the log and run 2,000 radius-31 searches, one after the
  other, all alive at the end; each reports its load time and, from
  /proc/PID/smaps_rollup, its resident set (RSS), proportional share (PSS) and private
  memory (USS: what the process alone holds). One more process loads from the database
  the same way (the baseline: every worker's cost without snapshots);
- search speed: the same 2,000 queries against the mapped index and the one built in
  memory by the database load, 15 passes, the two taking turns every 50 queries within
  a pass: the median of the per-pass ratios (:func:`search_ratio`);
- checks during a snapshot write (unless ``--no-wrk``): ``hashbank serve`` on the bank,
  wrk single PDQ checks for 10 s alone, then 10 s while ``hashbank index snapshot``
  writes a snapshot beside it: p99 latency of each (the same 2 cores run both).

Checks against background writes alone (each in its own function below):
``--checks-only`` (writes back to back; ``--compare EXE``: another checkout's
``hashbank`` alternated with this one's round by round), ``--one-write`` (one write of
the whole bank per window, the issue's goal at 10M), ``--switch`` (what the server itself
still does per write: the restore of the new snapshot), ``--gil`` (a write's hold on the
GIL of its own process).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.index.replica import IndexReplica
from app.storage.db import Database, sqlite_file
from app.storage.models import Signal

if TYPE_CHECKING:
    from benchmarks.load import Servers


def smaps(pid: int | None = None) -> dict[str, int]:
    """A process's RSS, PSS and USS (private clean + dirty) in bytes (smem's figures)."""
    fields: dict[str, int] = {}
    rollup = Path(f"/proc/{pid or 'self'}/smaps_rollup").read_text()
    for line in rollup.splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "uss": fields["Private_Clean"] + fields["Private_Dirty"],
    }


@contextlib.contextmanager
def lateness() -> Iterator[list[float]]:
    """A thread asking to wake every 1 ms while the block runs; the list it yields holds
    how late each wake-up came (seconds): what a check of this process would wait."""
    late: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            asked = time.perf_counter()
            time.sleep(0.001)
            late.append(time.perf_counter() - asked - 0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        yield late
    finally:
        stop.set()
        ticker.join()


def queries(n: int = 2000) -> np.ndarray:
    return np.random.default_rng(99).integers(0, 256, (n, 32), dtype=np.uint8)


def child(url: str, snapshot_dir: str) -> None:
    """One worker-like process: load (from the snapshot when ``snapshot_dir``), search,
    print its numbers, stay alive until stdin closes (so that PSS splits shared pages)."""
    from app.index.snapshots import SnapshotStore

    store = SnapshotStore(Path(snapshot_dir), url) if snapshot_dir else None
    db = Database(url)
    replica = IndexReplica(db, snapshots=store)
    started = time.perf_counter()
    replica.load()
    load_s = time.perf_counter() - started
    index = replica.perceptual["pdq"]
    q = queries()
    for i in range(0, q.shape[0], 10):
        index.search(q[i : i + 10], 31)
    out = {"load_s": load_s, "mapped": index.mapped, **smaps()}
    print(json.dumps(out), flush=True)
    sys.stdin.read()


def spawn(url: str, snapshot_dir: str) -> tuple[subprocess.Popen[str], dict[str, float]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", url, "--child-snapshots", snapshot_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def search_ratio(
    memory: IndexReplica, mapped: IndexReplica, passes: int = 15, block: int = 50
) -> dict[str, Any]:
    """Mapped / in-memory search time, robust to a noisy machine: ``passes`` passes over
    the same 2,000 radius-31 single queries; within a pass the two indexes take turns
    every ``block`` queries (the same queries on each, the first of each pair
    alternating), so both see the same moments of the machine's load; one ratio per
    pass, their median (and the spread) reported."""
    q = queries()
    pair = (memory.perceptual["pdq"], mapped.perceptual["pdq"])
    for index in pair:  # warm: the mapped pages in, the kernels compiled
        for i in range(0, q.shape[0], 10):
            index.search(q[i : i + 10], 31)
    ratios, totals = [], [0.0, 0.0]
    for p in range(passes):
        spent = [0.0, 0.0]
        for k, lo in enumerate(range(0, q.shape[0], block)):
            order = (0, 1) if (k + p) % 2 == 0 else (1, 0)
            for side in order:
                index = pair[side]
                started = time.perf_counter()
                for i in range(lo, min(lo + block, q.shape[0])):
                    index.search(q[i : i + 1], 31)
                spent[side] += time.perf_counter() - started
        ratios.append(spent[1] / spent[0])
        totals[0] += spent[0]
        totals[1] += spent[1]
    return {
        "median": float(np.median(ratios)),
        "p25": float(np.percentile(ratios, 25)),
        "p75": float(np.percentile(ratios, 75)),
        "passes": passes,
        "memory_s": totals[0] / passes,
        "mapped_s": totals[1] / passes,
        "load": os.getloadavg()[0],
    }


def random_replica(n: int, folder: Path) -> tuple[Database, IndexReplica]:
    """A loaded replica of N random PDQ hashes built in memory (seed 4), over an empty
    SQLite database in ``folder`` (no rows: nothing is read from it)."""
    db = Database(f"sqlite:///{folder}/bank.db")
    db.upgrade()
    replica = IndexReplica(db)
    rng = np.random.default_rng(4)
    ids = np.arange(1, n + 1, dtype=np.int64)
    replica.perceptual["pdq"].add(ids, rng.integers(0, 256, (n, 32), dtype=np.uint8))
    replica.signals.put(ids, ["pdq"] * n, [1] * n, [None] * n, ["bank"] * n)
    replica.loaded = True
    return db, replica


def evict(folder: Path) -> None:
    """Drop ``folder``'s files from the page cache, as after a reboot (written back first)."""
    for file in folder.rglob("*.npy"):
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def huge_share(folder: Path) -> float:
    """Of this process's resident mappings of ``folder``'s files, the share mapped by
    2 MB pages (/proc/self/smaps FilePmdMapped / Rss)."""
    rss = pmd = 0
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split(" ", 1)[0]:  # a mapping's header
            inside = str(folder) in line
        elif inside and line.startswith(("Rss:", "FilePmdMapped:")):
            kb = int(line.split()[1])
            rss, pmd = (rss + kb, pmd) if line.startswith("Rss:") else (rss, pmd + kb)
    return pmd / rss if rss else 0.0


def search_only(n: int, passes: int, cold: bool = False) -> list[str]:
    """``--search N``: only the mapped-vs-in-memory search speed (:func:`search_ratio`), a
    replica of N random hashes built in memory (no database rows), its snapshot mapped by
    a second replica in the same process; ``cold``: the snapshot dropped from the page
    cache first (a restart after a reboot reads it from disk)."""
    from app.index.snapshots import SnapshotStore

    tmp = Path(tempfile.mkdtemp(prefix="hb-search-"))
    db, replica = random_replica(n, tmp)
    store = SnapshotStore(tmp / "snapshots", db.url)
    assert store.write(replica) is not None
    if cold:
        evict(tmp / "snapshots")
    mapped = IndexReplica(db, snapshots=store)
    mapped.load()
    assert mapped.perceptual["pdq"].mapped
    r = search_ratio(replica, mapped, passes)
    r["huge"] = huge_share(tmp / "snapshots")
    print(json.dumps(r), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return [
        "",
        f"Search speed mapped vs in memory (`--search {n}{' --cold' if cold else ''}`): "
        f"{r['passes']} passes of 2,000",
        "single radius-31 queries, the two indexes taking turns every 50 queries within a",
        "pass; one ratio per pass; share of the mapped files' resident pages mapped by 2 MB",
        "pages:",
        "",
        "| hashes | page cache | passes | in memory ms/pass | mapped ms/pass |"
        " mapped / in memory (median) | quartiles | in 2 MB pages | load avg |",
        "|---:|---|---:|---:|---:|---:|---|---:|---:|",
        f"| {n:,} | {'cold' if cold else 'as written'} | {r['passes']} | "
        f"{r['memory_s'] * 1e3:.0f} | {r['mapped_s'] * 1e3:.0f} | "
        f"{r['median']:.3f} | {r['p25']:.3f}-{r['p75']:.3f} | {r['huge']:.0%} | "
        f"{r['load']:.1f} |",
    ]


def checks_during_refresh(
    url: str, workdir: Path, snapshot_dir: Path, rounds: int = 3, seconds: int = 10
) -> dict[str, Any]:
    """p99 of single checks (wrk, 8 connections) alone and while the serving process's
    own :class:`Refresher` writes snapshots, ``rounds`` alternated windows of each.

    The server runs with HASHBANK_SNAPSHOT_DELTA_CHANGES=1 and a refresher period of
    0.5 s; during a "write" window this process adds one bank hash every 0.3 s (in
    process: no CLI start-up on the shared cores), so the refresher writes a snapshot of
    the whole bank and switches to it, again and again; an "alone" window has no change,
    so no write. The writes of each window are counted from the server's log."""
    from app.services.banks import BankEntries
    from app.services.inputs import HashInput
    from benchmarks.load import CHECK_LUA, Servers, lua, wrk

    servers = Servers(url, 1, 1, workdir)
    servers.env.update(
        HASHBANK_SNAPSHOT_DIR=str(snapshot_dir),
        HASHBANK_SNAPSHOT_DELTA_CHANGES="1",
        HASHBANK_SNAPSHOT_MAX_AGE_SECONDS="2",  # the refresher looks every 0.5 s
    )
    key = servers.key(f"bench-{time.time_ns()}", "check")  # a database may be reused
    log_file = workdir / "servers.log"
    loader = BankEntries(Database(url))
    rng = np.random.default_rng(77)

    def writes() -> list[float]:
        found = []
        for line in log_file.read_text(errors="replace").splitlines():
            if "index snapshot written" in line:
                found.append(float(json.loads(line).get("seconds", 0.0)))
        return found

    def settle() -> None:  # until the refresher has written and switched for the last add
        seen, quiet = -1, 0
        while quiet < 4:
            time.sleep(0.5)
            now = len(writes())
            quiet, seen = (quiet + 1, seen) if now == seen else (0, now)

    servers.start()
    out: dict[str, Any] = {"alone": [], "during": []}
    try:
        script = lua(CHECK_LUA, key, MODE="single")
        wrk(servers.ports, script, 8, 3)  # warm up
        settle()
        for _ in range(rounds):
            alone = wrk(servers.ports, script, 8, seconds)
            alone["load"] = os.getloadavg()[0]  # 1 min, at the window's end
            out["alone"].append(alone)
            before = len(writes())
            stop = threading.Event()

            def add() -> None:
                while not stop.wait(0.3):
                    value = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
                    loader.add("reports", [HashInput("pdq", value)], actor="bench")

            adder = threading.Thread(target=add)
            adder.start()
            during = wrk(servers.ports, script, 8, seconds)
            stop.set()
            adder.join()
            done = writes()[before:]
            during.update(writes=len(done), write_s=sum(done), load=os.getloadavg()[0])
            out["during"].append(during)
            settle()
    finally:
        servers.stop()
    return out


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


SEED_CACHE = Path(os.environ.get("HASHBANK_BENCH_CACHE", "/tmp/hashbank-bench-cache"))


def seed(db: Database, n: int) -> float:
    """N bank PDQ hashes into ``db`` (not timed as part of any figure). On SQLite: by
    sqlite3's executemany in value order (every index insert an append), synchronous off
    (a benchmark file), cached under HASHBANK_BENCH_CACHE and copied on the next run."""
    started = time.perf_counter()
    file = sqlite_file(db.url)
    if file is None:
        return _seed_orm(db, n)
    cached = SEED_CACHE / f"replica-load-{n}-{_schema_head()}.db"
    if not cached.exists():
        SEED_CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        fresh = Database(f"sqlite:///{partial}")
        fresh.upgrade()
        fresh.engine.dispose()
        _seed_sqlite(partial, n)
        partial.rename(cached)
    db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{file}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(cached, file)
    return time.perf_counter() - started


def _schema_head() -> str:
    versions = Path(__file__).resolve().parents[1] / "app/storage/migrations/versions"
    return max(p.name.split("_")[0] for p in versions.glob("0*.py"))


def _seed_sqlite(file: Path, n: int) -> None:
    rng = np.random.default_rng(4)
    values = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    # sorted rows: the (type, value) index grows at its end (random order at 10M is
    # mostly B-tree page misses)
    values = values[np.lexsort(values.T[::-1])]
    conn = sqlite3.connect(file)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    bank_id = conn.execute("SELECT id FROM bank WHERE name = 'reports'").fetchone()[0]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite form
    step = 200_000
    for lo in range(0, n, step):
        hexes = values[lo : lo + step].tobytes().hex()
        with conn:
            conn.executemany(
                "INSERT INTO signal (bank_id, type, value, created_at) VALUES (?, 'pdq', ?, ?)",
                ((bank_id, hexes[i : i + 64], now) for i in range(0, len(hexes), 64)),
            )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def _seed_orm(db: Database, n: int) -> float:
    rng = np.random.default_rng(4)
    started = time.perf_counter()
    with db.write() as s:
        bank_id = s.execute(text("SELECT id FROM bank WHERE name = 'reports'")).scalar_one()
    step = 200_000
    for lo in range(0, n, step):
        rows = rng.integers(0, 256, (min(step, n - lo), 32), dtype=np.uint8)
        hexes = rows.tobytes().hex()
        values = [
            {"bank_id": bank_id, "type": "pdq", "value": hexes[i * 64 : (i + 1) * 64]}
            for i in range(rows.shape[0])
        ]
        with db.write() as s:
            s.execute(insert(Signal), values)
    return time.perf_counter() - started


def run(n: int, url: str | None, workers: int = 3, wrk_checks: bool = True) -> dict[str, float]:
    tmp = tempfile.mkdtemp(prefix="hb-load-")
    db = Database(url or f"sqlite:///{tmp}/bank.db")
    db.upgrade()
    seed_s = seed(db, n)
    # baseline: one plain SELECT of the same rows, nothing kept
    started = time.perf_counter()
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            text("SELECT id, type, value, bank_id, case_id FROM signal")
        )
        for _ in result.partitions(100_000):
            pass
    select_s = time.perf_counter() - started
    warm = IndexReplica(db)  # compile the kernels before measuring memory
    warm.perceptual["pdq"].add(np.arange(10), np.zeros((10, 32), np.uint8))
    del warm
    gc.collect()
    before = rss()
    replica = IndexReplica(db)
    started = time.perf_counter()
    replica.load()
    load_s = time.perf_counter() - started
    grown = rss() - before
    assert replica.size()["pdq"] == n
    result: dict[str, float] = {
        "size": n,
        "seed_s": seed_s,
        "select_s": select_s,
        "load_s": load_s,
        "bytes_per_hash": grown / n,
        "index_bytes_per_hash": replica.perceptual["pdq"].memory_bytes() / n,
    }
    from app.index.snapshots import SnapshotStore

    snapshot_dir = Path(tmp) / "snapshots"
    store = SnapshotStore(snapshot_dir, db.url)
    info = store.write(replica)
    assert info is not None
    result.update(write_s=info.seconds, snapshot_bytes=info.bytes)
    mapped = IndexReplica(db, snapshots=store)
    mapped.load()
    assert mapped.perceptual["pdq"].mapped
    ratio = search_ratio(replica, mapped)
    result["search_memory_s"], result["search_mapped_s"] = ratio["memory_s"], ratio["mapped_s"]
    result["search_ratio"] = ratio["median"]
    del mapped, replica
    gc.collect()
    url = db.url
    procs = []
    try:
        for _ in range(workers):
            proc, numbers = spawn(url, str(snapshot_dir))
            procs.append(proc)
            assert numbers["mapped"]
            result.setdefault("workers", [])  # type: ignore[arg-type]
            result["workers"].append(numbers)  # type: ignore[attr-defined]
        proc, numbers = spawn(url, "")
        procs.append(proc)
        result["database_worker"] = numbers  # type: ignore[assignment]
        # once all are alive: shared pages split (PSS) and no longer private (USS)
        for i, p in enumerate(procs[:-1]):
            result["workers"][i].update(smaps(p.pid))  # type: ignore[index]
    finally:
        for p in procs:
            p.communicate("")
    if wrk_checks:
        result["checks"] = checks_during_refresh(url, Path(tmp), snapshot_dir)  # type: ignore[assignment]
    return result


def run_direct(n: int, workers: int) -> dict[str, object]:
    """``--direct``: no database rows. A replica's index and table are filled straight
    from N random hashes (an empty database behind it), written as a snapshot, mapped by
    ``workers`` fresh processes; search speed mapped vs in memory. For sizes whose
    seeding would take too long on a busy machine (the database load is not measured)."""
    from app.index.snapshots import SnapshotStore

    tmp = tempfile.mkdtemp(prefix="hb-direct-")
    started = time.perf_counter()
    db, replica = random_replica(n, Path(tmp))
    build_s = time.perf_counter() - started
    store = SnapshotStore(Path(tmp) / "snapshots", db.url)
    info = store.write(replica)
    assert info is not None
    mapped = IndexReplica(db, snapshots=store)
    mapped.load()
    ratio = search_ratio(replica, mapped)
    del mapped, replica
    gc.collect()
    procs, numbers = [], []
    try:
        for _ in range(workers):
            proc, got = spawn(db.url, str(store.directory))
            procs.append(proc)
            numbers.append(got)
        for got, proc in zip(numbers, procs, strict=True):
            got.update(smaps(proc.pid))
    finally:
        for proc in procs:
            proc.communicate("")
    return {
        "size": n,
        "build_s": build_s,
        "write_s": info.seconds,
        "snapshot_bytes": info.bytes,
        "search_memory_s": ratio["memory_s"],
        "search_mapped_s": ratio["mapped_s"],
        "search_ratio": ratio["median"],
        "workers": numbers,
    }


def direct_table(r: dict[str, Any]) -> str:
    mb = 1e6
    lines = [
        "",
        f"Without the database (`--direct`, {r['size']:,} hashes put straight into a replica,",
        "built in memory, written as a snapshot, mapped by fresh processes one after the",
        "other, all alive when measured):",
        "",
        "| hashes | built in memory s | snapshot written s | size MB | search mapped / in memory |",
        "|---:|---:|---:|---:|---:|",
        f"| {r['size']:,} | {r['build_s']:.1f} | {r['write_s']:.1f} | "
        f"{r['snapshot_bytes'] / mb:,.0f} | {r['search_ratio']:.3f} |",
        "",
        "| hashes | process | ready from snapshot s | RSS MB | PSS MB | USS MB |"
        " USS / first's RSS |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    first = r["workers"][0]
    for i, w in enumerate(r["workers"]):
        lines.append(
            f"| {r['size']:,} | snapshot worker {i + 1} | {w['load_s']:.2f} | {w['rss'] / mb:,.0f}"
            f" | {w['pss'] / mb:,.0f} | {w['uss'] / mb:,.0f} | {w['uss'] / first['rss']:.0%} |"
        )
    return "\n".join(lines)


def gil_pauses(n: int, rounds: int = 3) -> list[str]:
    """``--gil N``: how long a snapshot write keeps the other threads of its process from
    running (what a check waits for). A replica of N random hashes built in memory; its
    snapshot written ``rounds`` times with numpy's own ``write_array`` (before: copies of
    16 MB under the GIL) and with :func:`app.index.snapshots._write_npy`, alternated,
    while a thread asks to wake every 1 ms: its lateness (max, p99) during each write."""
    import app.index.snapshots as snapshots

    def numpy_writer(out: Any, data: np.ndarray) -> None:
        np.lib.format.write_array(out, np.ascontiguousarray(data), allow_pickle=False)

    tmp = Path(tempfile.mkdtemp(prefix="hb-gil-"))
    db, replica = random_replica(n, tmp)
    store = snapshots.SnapshotStore(tmp / "snapshots", db.url)
    ours = snapshots._write_npy
    rows = []
    for r in range(1, rounds + 1):
        for name, writer in (("numpy write_array (before)", numpy_writer), ("slices (now)", ours)):
            snapshots._write_npy = writer  # type: ignore[assignment]
            with lateness() as late:
                info = store.write(replica)
            assert info is not None
            rows.append(
                f"| {n:,} | {r} | {name} | {info.seconds:.2f} | "
                f"{np.percentile(late, 99) * 1e3:.1f} | {max(late) * 1e3:.1f} |"
            )
    snapshots._write_npy = ours
    shutil.rmtree(tmp)
    return [
        "",
        f"A snapshot write's hold on its own process (`--gil {n}`, load average "
        f"{os.getloadavg()[0]:.0f}): a thread",
        "asking to wake every 1 ms during the write; its lateness is what a check of the",
        "same process waits. Alternated, same replica, same run:",
        "",
        "| hashes | round | array writer | write s | p99 late ms | max late ms |",
        "|---:|---:|---|---:|---:|---:|",
        *rows,
    ]


def checks_table(n: int, checks: dict[str, Any]) -> list[str]:
    """Rows of the alone / during-refresh table, one per round and their medians."""
    rows = []
    pairs = list(zip(checks["alone"], checks["during"], strict=True))
    for i, (a, d) in enumerate(pairs, 1):
        rows.append(
            f"| {n:,} | {i} | {a['p99_ms']:.1f} | {d['p99_ms']:.1f} | "
            f"{d['p99_ms'] / a['p99_ms']:.2f} | {a['rps']:,.0f} | {d['rps']:,.0f} | "
            f"{d['writes']} | {d['write_s']:.1f} |"
        )
    a99 = float(np.median([a["p99_ms"] for a, _ in pairs]))
    d99 = float(np.median([d["p99_ms"] for _, d in pairs]))
    rows.append(
        f"| {n:,} | median | {a99:.1f} | {d99:.1f} | {d99 / a99:.2f} | "
        f"{np.median([a['rps'] for a, _ in pairs]):,.0f} | "
        f"{np.median([d['rps'] for _, d in pairs]):,.0f} | | |"
    )
    return rows


CHECKS_HEAD = [
    "",
    "Single PDQ checks under wrk (8 connections, 10 s windows; one `hashbank serve` worker",
    "standing on the snapshot), alternated: alone, then while that process's own background",
    "refresher writes snapshots of the whole bank and switches to them (a bank hash added",
    "every 0.3 s by the benchmark, HASHBANK_SNAPSHOT_DELTA_CHANGES=1: one write after",
    "another through the window). Same 2 cores for wrk, the server and its writes:",
    "",
    "| hashes | round | p99 alone ms | p99 during writes ms | ratio | checks/s alone |"
    " during | writes in window | writing s in window |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def checks_only(n: int, rounds: int, hashbank: str | None = None) -> list[str]:
    """``--checks-only``: the seeded bank (cached), a server that loads it and writes its
    first snapshot, then the alternated windows; ``hashbank``: another checkout's
    executable serves (a before/after comparison)."""
    if hashbank:
        import benchmarks.load

        benchmarks.load.HASHBANK = hashbank
    tmp = Path(tempfile.mkdtemp(prefix="hb-checks-"))
    db = Database(f"sqlite:///{tmp}/bank.db")
    db.upgrade()
    seed(db, n)
    db.engine.dispose()
    checks = checks_during_refresh(db.url, tmp, tmp / "snapshots", rounds=rounds)
    print(json.dumps(checks), flush=True)
    return checks_table(n, checks)


def _hashbank(exe: str) -> None:
    """Serve (and run the CLI) with ``exe``: another checkout's ``hashbank``."""
    import benchmarks.load

    benchmarks.load.HASHBANK = exe


def compare_checks(n: int, rounds: int, before: str) -> list[str]:
    """``--checks-only N --compare EXE``: the ``--checks-only`` windows for two codes in
    one run, alternated round by round: ``EXE`` (before, e.g. main's checkout) then this
    checkout's ``hashbank`` (after); each round starts its server afresh on the same
    database (its own snapshot directory per code), one alone and one during-writes
    window. Load average (1 min) at the end of each window."""
    import benchmarks.load

    after = benchmarks.load.HASHBANK
    tmp = Path(tempfile.mkdtemp(prefix="hb-compare-"))
    db = Database(f"sqlite:///{tmp}/bank.db")
    db.upgrade()
    seed(db, n)
    db.engine.dispose()
    rows: list[str] = []
    found: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {"before": [], "after": []}
    for r in range(1, rounds + 1):
        for code, exe in (("before", before), ("after", after)):
            _hashbank(exe)
            work = tmp / code
            work.mkdir(exist_ok=True)
            got = checks_during_refresh(db.url, work, tmp / f"snapshots-{code}", rounds=1)
            a, d = got["alone"][0], got["during"][0]
            found[code].append((a, d))
            print(json.dumps({"code": code, "round": r, **got}), flush=True)
            rows.append(
                f"| {code} | {r} | {a['p99_ms']:.1f} | {d['p99_ms']:.1f} | "
                f"{d['p99_ms'] / a['p99_ms']:.2f} | {a['rps']:,.0f} | {d['rps']:,.0f} | "
                f"{d['writes']} | {d['write_s']:.1f} | {a['load']:.1f} / {d['load']:.1f} |"
            )
    _hashbank(after)
    for code, pairs in found.items():
        a99 = float(np.median([a["p99_ms"] for a, _ in pairs]))
        d99 = float(np.median([d["p99_ms"] for _, d in pairs]))
        ratios = [d["p99_ms"] / a["p99_ms"] for a, d in pairs]
        rows.append(
            f"| {code} | median | {a99:.1f} | {d99:.1f} | {d99 / a99:.2f} "
            f"(of ratios {float(np.median(ratios)):.2f}) | "
            f"{np.median([a['rps'] for a, _ in pairs]):,.0f} | "
            f"{np.median([d['rps'] for _, d in pairs]):,.0f} | | | |"
        )
    shutil.rmtree(tmp, ignore_errors=True)
    return [
        "",
        f"Before (`{before}`) and after (this checkout), {n:,} hashes, alternated round by",
        "round in one run (each round: a fresh server on the same database, one 10 s window",
        "alone, one while its refresher writes snapshots back to back):",
        "",
        "| code | round | p99 alone ms | p99 during writes ms | ratio | checks/s alone |"
        " during | writes in window | writing s in window | load avg alone / during |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
    ]


def seeded_servers(n: int, prefix: str) -> tuple[Path, Database, Servers]:
    """A new temp folder with an N-hash SQLite bank in it (the seeded cache) and one
    ``hashbank serve`` worker's set-up on it (not started)."""
    from benchmarks.load import Servers

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    db = Database(f"sqlite:///{tmp}/bank.db")
    db.upgrade()
    seed(db, n)
    db.engine.dispose()
    return tmp, db, Servers(db.url, 1, 1, tmp)


def one_write(n: int, rounds: int, writer_nice: int | None = None) -> list[str]:
    """``--one-write N``: the issue's literal goal. N hashes (the seeded cache), a
    snapshot written by ``hashbank index snapshot``, one ``hashbank serve`` worker
    standing on it; wrk single checks (8 connections) in windows alone and during ONE
    background snapshot write of the whole bank each (triggered by adding one hash:
    HASHBANK_SNAPSHOT_DELTA_CHANGES=1), alternated ``rounds`` times. A first write,
    not measured, gives the write's length D; each window lasts D (rounded up, at
    least 5 s) and starts with the add, so it covers the write. The write's seconds are
    the server's log's (the writer's own, and the child's whole life where there is
    one); load average (1 min) at the end of each window."""
    from app.services.banks import BankEntries
    from app.services.inputs import HashInput
    from benchmarks.load import CHECK_LUA, lua, wrk

    tmp, db, servers = seeded_servers(n, "hb-onewrite-")
    servers.env.update(
        HASHBANK_SNAPSHOT_DIR=str(tmp / "snapshots"),
        HASHBANK_SNAPSHOT_DELTA_CHANGES="1",
        HASHBANK_SNAPSHOT_MAX_AGE_SECONDS="2",  # the refresher looks every 0.5 s
    )
    if writer_nice is not None:
        servers.env["HASHBANK_SNAPSHOT_WRITER_NICE"] = str(writer_nice)
    started = time.perf_counter()
    first = json.loads(servers.cli("index", "snapshot", "--json"))
    cli_s = time.perf_counter() - started
    key = servers.key("bench", "check")
    log_file = tmp / "servers.log"
    loader = BankEntries(Database(db.url))
    rng = np.random.default_rng(78)

    def writes() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in log_file.read_text(errors="replace").splitlines()
            if "index snapshot written" in line and line.startswith("{")
        ]

    def add() -> None:
        value = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
        loader.add("reports", [HashInput("pdq", value)], actor="bench")

    def wait_write(count: int, timeout: float = 900) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = writes()
            if len(done) > count:
                time.sleep(2)  # the switch after it
                return done[count]
            time.sleep(0.2)
        raise SystemExit("no snapshot written; see servers.log")

    servers.start()
    rows: list[str] = []
    out: list[dict[str, Any]] = []
    try:
        script = lua(CHECK_LUA, key, MODE="single")
        wrk(servers.ports, script, 8, 3)  # warm up
        count = len(writes())
        add()
        warm = wait_write(count)
        window = max(5, int(np.ceil(float(warm.get("child_seconds") or warm["seconds"]))))
        for r in range(1, rounds + 1):
            alone = wrk(servers.ports, script, 8, window)
            alone["load"] = os.getloadavg()[0]
            count = len(writes())
            add()
            during = wrk(servers.ports, script, 8, window)
            during["load"] = os.getloadavg()[0]
            written = wait_write(count)
            # the noise of this machine, measured: a third window with no write at all
            again = wrk(servers.ports, script, 8, window)
            out.append({"alone": alone, "during": during, "write": written, "again": again})
            print(json.dumps(out[-1]), flush=True)
            whole = written.get("child_seconds")
            rows.append(
                f"| {n:,} | {r} | {window} | {alone['p99_ms']:.1f} | {during['p99_ms']:.1f} | "
                f"{during['p99_ms'] / alone['p99_ms']:.2f} | {again['p99_ms']:.1f} | "
                f"{again['p99_ms'] / alone['p99_ms']:.2f} | {alone['rps']:,.0f} | "
                f"{during['rps']:,.0f} | {written['seconds']:.1f} | "
                f"{'' if whole is None else f'{whole:.1f}'} | "
                f"{alone['load']:.1f} / {during['load']:.1f} |"
            )
    finally:
        servers.stop()
    a99 = float(np.median([o["alone"]["p99_ms"] for o in out]))
    d99 = float(np.median([o["during"]["p99_ms"] for o in out]))
    ratios = [o["during"]["p99_ms"] / o["alone"]["p99_ms"] for o in out]
    nulls = [o["again"]["p99_ms"] / o["alone"]["p99_ms"] for o in out]
    g99 = float(np.median([o["again"]["p99_ms"] for o in out]))
    rows.append(
        f"| {n:,} | median | | {a99:.1f} | {d99:.1f} | {d99 / a99:.2f} "
        f"(of ratios {float(np.median(ratios)):.2f}) | {g99:.1f} | {g99 / a99:.2f} "
        f"(of ratios {float(np.median(nulls)):.2f}) | | | "
        f"{float(np.median([o['write']['seconds'] for o in out])):.1f} | | |"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return [
        "",
        f"One background write of {n:,} hashes per window (`--one-write {n}`): the first",
        f"snapshot by `hashbank index snapshot` ({cli_s:.0f} s: a load from the database and",
        f"a write of {first['bytes'] / 1e6:,.0f} MB); then one `hashbank serve` worker on it,",
        "wrk single checks (8 connections) alone and while its refresher writes ONE snapshot",
        "of the whole bank (one hash added at the window's start), then alone again (no",
        "write: what two windows differ by on this machine anyway), alternated:",
        "",
        "| hashes | round | window s | p99 alone ms | p99 during the write ms | ratio |"
        " p99 alone again ms | ratio (no write: the noise) |"
        " checks/s alone | during | write s | writer process s | load avg alone / during |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
    ]


def switch_cost(n: int, rounds: int) -> list[str]:
    """``--switch N``: what a server still does itself per snapshot its writer child
    wrote: :meth:`SnapshotStore.restore` of it (map, check, adopt), once checksumming
    every file (any other process's restore) and once trusting the child's manifest
    (size, modification time and inode of each file), alternated ``rounds`` times on a
    snapshot of N random hashes; a thread asking to wake every 1 ms meanwhile (its
    lateness: what a check of that process waits)."""
    from app.index.snapshots import SnapshotStore, manifest_digest

    tmp = Path(tempfile.mkdtemp(prefix="hb-switch-"))
    db, replica = random_replica(n, tmp)
    store = SnapshotStore(tmp / "snapshots", db.url)
    info = store.write(replica)
    assert info is not None
    digest = manifest_digest(info.path)
    assert digest is not None
    del replica
    gc.collect()
    rows = []
    for r in range(1, rounds + 1):
        for name, trusted in (("every file checksummed", None), ("trusted", (info.path, digest))):
            with lateness() as late:
                started = time.perf_counter()
                fresh = IndexReplica(db)
                assert store.restore(fresh, trusted=trusted) is not None
                seconds = time.perf_counter() - started
            del fresh
            gc.collect()
            rows.append(
                f"| {n:,} | {r} | {name} | {seconds:.3f} | {np.percentile(late, 99) * 1e3:.1f} |"
                f" {max(late) * 1e3:.1f} | {os.getloadavg()[0]:.1f} |"
            )
    shutil.rmtree(tmp, ignore_errors=True)
    return [
        "",
        f"The server's own share of a switch (`--switch {n}`): restoring the snapshot its",
        f"writer child wrote ({info.bytes / 1e6:,.0f} MB), alternated, a thread asking to wake",
        "every 1 ms meanwhile:",
        "",
        "| hashes | round | files | restore s | p99 late ms | max late ms | load avg |",
        "|---:|---:|---|---:|---:|---:|---:|",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append")
    parser.add_argument("--database-url")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--no-wrk", action="store_true", help="skip the checks under wrk")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--direct", type=int, help="N hashes without the database (see run_direct)")
    parser.add_argument(
        "--checks-only", type=int, help="N hashes: only the checks during background writes"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternated wrk windows of each")
    parser.add_argument("--gil", type=int, help="N hashes: only a write's GIL pauses")
    parser.add_argument("--hashbank", help="with --checks-only: another checkout's executable")
    parser.add_argument(
        "--compare",
        help="with --checks-only: another checkout's executable (before), alternated with "
        "this one's (after) round by round",
    )
    parser.add_argument("--search", type=int, help="N hashes: only mapped vs in-memory search")
    parser.add_argument("--passes", type=int, default=15, help="with --search: passes")
    parser.add_argument(
        "--cold", action="store_true", help="with --search: the snapshot out of the page cache"
    )
    parser.add_argument(
        "--writer-nice", type=int, help="with --one-write: HASHBANK_SNAPSHOT_WRITER_NICE"
    )
    parser.add_argument("--switch", type=int, help="N hashes: a switch's restore, trusted or not")
    parser.add_argument(
        "--one-write", type=int, help="N hashes: checks alone vs during ONE background write"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-snapshots", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.child_snapshots)
        return 0
    if args.gil:
        print("\n".join(gil_pauses(args.gil, args.rounds)))
        return 0
    if args.hashbank:
        _hashbank(args.hashbank)
    if args.search:
        print("\n".join(search_only(args.search, args.passes, args.cold)))
        return 0
    if args.switch:
        print("\n".join(switch_cost(args.switch, args.rounds)))
        return 0
    if args.one_write:
        print("\n".join(one_write(args.one_write, args.rounds, args.writer_nice)))
        return 0
    if args.checks_only and args.compare:
        print("\n".join(compare_checks(args.checks_only, args.rounds, args.compare)))
        return 0
    if args.checks_only:
        print("\n".join(CHECKS_HEAD + checks_only(args.checks_only, args.rounds, args.hashbank)))
        return 0
    if args.direct:
        result = run_direct(args.direct, args.workers)
        print(json.dumps(result), flush=True)
        print(direct_table(result))
        return 0
    lines = [
        "Run: `.venv/bin/python benchmarks/replica_load.py --write`. A fresh SQLite file seeded",
        "with N bank PDQ hashes; `IndexReplica.load()` timed against one plain SELECT of the",
        "same rows in the same run; memory = resident-set growth of the process per hash.",
        "",
        "| hashes | plain SELECT s | replica load s | load / SELECT | RSS growth B/hash |"
        " index arrays B/hash |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    snap = [
        "",
        "From an index snapshot, same run: written by `SnapshotStore.write` of the loaded",
        f"replica; then {args.workers} fresh processes, one after the other, each mapping it",
        "(load = map + checksums + log replay) and running 2,000 radius-31 searches, all",
        "alive at the end; one more loading from the database the same way (baseline).",
        "Memory from /proc/PID/smaps_rollup with all of them alive: RSS counts the shared",
        "file pages a process has touched, PSS splits them between the processes mapping",
        "them, USS is what the process alone holds (what each additional worker adds).",
        "",
        "| hashes | snapshot written s | size MB | ready from DB s | ready from snapshot s |"
        " speed-up | search mapped / in memory |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mem = [
        "",
        "| hashes | process | ready s | RSS MB | PSS MB | USS MB | USS / first's RSS |"
        " USS / DB-loaded RSS |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    during = list(CHECKS_HEAD)
    mb = 1e6
    for n in args.size or [1_000_000, 10_000_000]:
        r = run(n, args.database_url, args.workers, not args.no_wrk)
        print(json.dumps(r), flush=True)
        lines.append(
            f"| {n:,} | {r['select_s']:.1f} | {r['load_s']:.1f} | "
            f"{r['load_s'] / r['select_s']:.1f}x | {r['bytes_per_hash']:.0f} | "
            f"{r['index_bytes_per_hash']:.0f} |"
        )
        workers: list[dict[str, float]] = r["workers"]  # type: ignore[assignment]
        base: dict[str, float] = r["database_worker"]  # type: ignore[assignment]
        first = workers[0]
        snap.append(
            f"| {n:,} | {r['write_s']:.1f} | {r['snapshot_bytes'] / mb:,.0f} | "
            f"{base['load_s']:.1f} | {first['load_s']:.2f} | "
            f"{base['load_s'] / first['load_s']:.0f}x | "
            f"{r['search_ratio']:.3f} |"
        )
        for i, w in enumerate(workers):
            mem.append(
                f"| {n:,} | snapshot worker {i + 1} | {w['load_s']:.2f} | {w['rss'] / mb:,.0f} | "
                f"{w['pss'] / mb:,.0f} | {w['uss'] / mb:,.0f} | "
                f"{w['uss'] / first['rss']:.0%} | {w['uss'] / base['rss']:.0%} |"
            )
        mem.append(
            f"| {n:,} | database load (baseline) | {base['load_s']:.1f} | {base['rss'] / mb:,.0f} |"
            f" {base['pss'] / mb:,.0f} | {base['uss'] / mb:,.0f} | | |"
        )
        if "checks" in r:
            during += checks_table(n, r["checks"])  # type: ignore[arg-type]
    text_out = "\n".join(lines + snap + mem + (during if len(during) > len(CHECKS_HEAD) else []))
    print(text_out)
    if args.write:
        from benchmarks._report import write_section

        write_section("replica-load", text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
