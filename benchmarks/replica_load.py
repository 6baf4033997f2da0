"""Service start-up: how fast a process loads N PDQ hashes from the database, and its memory.

Usage: .venv/bin/python benchmarks/replica_load.py [--size N ...] [--database-url URL] [--write]

Seeds a fresh SQLite file (or the given database) with N bank signals by bulk insert,
then times :meth:`app.index.replica.IndexReplica.load` in the same process and reports
the growth of resident memory per hash (index + signal table + everything else the load
keeps). The baseline in the same run is the raw read: the same rows fetched with one
plain SELECT and nothing else, so the ratio shows what indexing adds on top of I/O.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.index.replica import IndexReplica
from app.storage.db import Database
from app.storage.models import Signal


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def seed(db: Database, n: int) -> float:
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


def run(n: int, url: str | None) -> dict[str, float]:
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
    return {
        "size": n,
        "seed_s": seed_s,
        "select_s": select_s,
        "load_s": load_s,
        "bytes_per_hash": grown / n,
        "index_bytes_per_hash": replica.perceptual["pdq"].memory_bytes() / n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append")
    parser.add_argument("--database-url")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    lines = [
        "Run: `.venv/bin/python benchmarks/replica_load.py --write`. A fresh SQLite file seeded",
        "with N bank PDQ hashes; `IndexReplica.load()` timed against one plain SELECT of the",
        "same rows in the same run; memory = resident-set growth of the process per hash.",
        "",
        "| hashes | plain SELECT s | replica load s | load / SELECT | RSS growth B/hash |"
        " index arrays B/hash |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in args.size or [1_000_000, 10_000_000]:
        r = run(n, args.database_url)
        print(r, flush=True)
        lines.append(
            f"| {n:,} | {r['select_s']:.1f} | {r['load_s']:.1f} | "
            f"{r['load_s'] / r['select_s']:.1f}x | {r['bytes_per_hash']:.0f} | "
            f"{r['index_bytes_per_hash']:.0f} |"
        )
    text_out = "\n".join(lines)
    print(text_out)
    if args.write:
        from benchmarks._report import write_section

        write_section("replica-load", text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
