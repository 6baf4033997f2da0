"""Bulk import: `hashbank import` of N PDQ hashes into a fresh SQLite bank.

Usage: .venv/bin/python benchmarks/bulk_import.py [--size N] [--before HASHBANK] [--write]

Writes a CSV of N random PDQ hashes (quality 90), then times the real command
(`hashbank import FILE`, a subprocess: both passes, validation, weak-hash guard,
transactions of HASHBANK_IMPORT_BATCH hashes with their change-log rows and audit
event). The baseline in the same run is the floor of the same writes: the same N rows
plus N change-log rows inserted into another fresh database by sqlite3's
``executemany`` (hashbank's pragmas: WAL, synchronous=FULL, secure_delete), nothing
checked, the same transactions, so the ratio shows what hashbank adds on top of SQLite.
``--before`` names another checkout's ``hashbank`` executable (say, the revision before
the bulk path) to time on the same file in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.config import Settings  # noqa: E402

HASHBANK = str(Path(sys.executable).parent / "hashbank")


def write_csv(path: Path, n: int) -> list[str]:
    rng = np.random.default_rng(21)
    values: list[str] = []
    with path.open("w") as fh:
        fh.write("type,value,quality\n")
        for lo in range(0, n, 100_000):
            raw = rng.integers(0, 256, (min(100_000, n - lo), 32), dtype=np.uint8).tobytes().hex()
            chunk = [raw[i : i + 64] for i in range(0, len(raw), 64)]
            fh.writelines(f"pdq,{v},90\n" for v in chunk)
            values += chunk
    return values


def floor(url_file: Path, values: list[str], batch: int) -> tuple[float, float]:
    """The same rows by plain executemany (the schema from the migrations), ``batch`` a
    transaction: (wall seconds, CPU seconds)."""
    from app.storage.db import Database

    Database(f"sqlite:///{url_file}").upgrade()
    conn = sqlite3.connect(url_file)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):
        conn.execute(f"PRAGMA {pragma}")  # as hashbank's engine (app/storage/db.py)
    now = datetime.now(UTC).isoformat()
    started, cpu = time.perf_counter(), time.process_time()
    next_id = 1
    for lo in range(0, len(values), batch):
        part = values[lo : lo + batch]
        ids = range(next_id, next_id + len(part))
        next_id += len(part)
        with conn:
            conn.executemany(
                "INSERT INTO signal (id, bank_id, type, value, quality, created_at) "
                "VALUES (?, 1, 'pdq', ?, 90, ?)",
                [(i, v, now) for i, v in zip(ids, part, strict=True)],
            )
            conn.executemany(
                "INSERT INTO change_log (at, op, signal_id, bank_id, signal_type, value, status)"
                " VALUES (?, 'add', ?, 1, 'pdq', ?, 'bank')",
                [(now, i, v) for i, v in zip(ids, part, strict=True)],
            )
    conn.close()
    return time.perf_counter() - started, time.process_time() - cpu


def timed_import(hashbank: str, database: Path, csv: Path) -> tuple[float, float]:
    """`hashbank import`'s (wall seconds, CPU seconds: user + system) (the schema created
    beforehand, not timed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHBANK_")}
    env["HASHBANK_DATABASE_URL"] = f"sqlite:///{database}"
    subprocess.run([hashbank, "db", "upgrade"], env=env, check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([hashbank, "import", str(csv)], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--before", help="another checkout's hashbank executable to compare")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="hb-import-"))
    values = write_csv(tmp / "hashes.csv", args.size)
    batch = Settings.model_fields["import_batch"].default
    floor_s, floor_cpu = floor(tmp / "floor.db", values, batch)
    import_s, import_cpu = timed_import(HASHBANK, tmp / "bank.db", tmp / "hashes.csv")
    before_s = before_cpu = 0.0
    if args.before:
        before_s, before_cpu = timed_import(args.before, tmp / "before.db", tmp / "hashes.csv")
    shutil.rmtree(tmp)
    n = args.size
    load = os.getloadavg()[0]
    text = "\n".join(
        [
            "Run: `.venv/bin/python benchmarks/bulk_import.py --write`. `hashbank import` of N",
            "random PDQ hashes (CSV) into a fresh SQLite bank, the whole command timed (start-up,",
            f"the checking pass, the writing pass in transactions of {batch:,} with change-log",
            "rows); baseline in the same run: the same signal and change-log rows by sqlite3's",
            f"`executemany`, {batch:,} a transaction, nothing checked. Wall and CPU (user +",
            "system) seconds: on this shared machine the CPU time is the steadier figure.",
            f"Load average at the end: {load:.0f}.",
            "",
            "| hashes | floor wall s | floor CPU s | import wall s | import CPU s |"
            " import / floor (CPU) | µs CPU per hash | before wall s | before CPU s |"
            " before / now (CPU) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {n:,} | {floor_s:.1f} | {floor_cpu:.1f} | {import_s:.1f} | {import_cpu:.1f} | "
            f"{import_cpu / floor_cpu:.2f}x | {import_cpu / n * 1e6:.0f} | "
            + (
                f"{before_s:.1f} | {before_cpu:.1f} | {before_cpu / import_cpu:.2f}x |"
                if before_s
                else "| | |"
            ),
        ]
    )
    print(text)
    if args.write:
        from benchmarks._report import write_section

        write_section("bulk-import", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
