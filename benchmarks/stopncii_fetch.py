"""StopNCII FetchHashes pages of 1,000 records on a 1M-hash bank, against /v1/feed pages.

Usage: .venv/bin/python benchmarks/stopncii_fetch.py [--hashes N] [--pages N]
       [--database PATH] [--write]

Seeds a SQLite file by bulk insert: N PDQ hashes (default 1,000,000), a tenth of them in
active cases of 3 hashes, the rest a bank's own entries (as ``hashbank import`` makes),
each with its change-log row, spread over the last year. Starts ``hashbank serve`` on it
and, with a key of the ``feed`` scope, walks ``--pages`` pages (default 300) of
``GET /compat/stopncii/v1/FetchHashes?pageSize=1000`` by ``nextPageToken`` from the start
and from the middle of the log (its first page found by ``startTimestamp``), then the same
number of ``GET /v1/feed?limit=1000`` pages from the same two places: the baseline, in the
same run (same server, same rows; the feed answers the change log's rows as they are, a
FetchHashes page also looks up every value's cases and the caller's feedback). Times are
wall-clock per request at the client (JSON fully received), after 3 warm-up pages.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.services.secrets import hash_key, hash_pin, new_case_id
from app.storage.db import Database
from app.storage.models import Case, Change, Client, Signal
from benchmarks.dashboard import serve

BATCH = 50_000
PAGE = 1000
KEY = "hbk_bench_" + "x" * 32


def _pdq(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8).tobytes().hex()
    return [raw[i * 64 : (i + 1) * 64] for i in range(n)]


def seed(db: Database, n: int) -> float:
    """Fill an empty database: ``n`` PDQ hashes and their change log; seconds taken."""
    started = time.perf_counter()
    rng = np.random.default_rng(19)
    now = datetime.now(UTC)
    first = now - timedelta(days=365)
    step = timedelta(days=365) / max(n, 1)
    with db.write() as s:
        bank = s.execute(text("SELECT id FROM bank WHERE name = 'reports'")).scalar_one()
        s.execute(
            insert(Client),
            [
                {
                    "name": "bench-feed",
                    "key_hash": hash_key(KEY),
                    "key_prefix": KEY[:12],
                    "scopes": "feed",
                    "created_at": now,
                }
            ],
        )
    in_cases = (n // 10) // 3 * 3
    pin = hash_pin("0000-0000-0000")
    cases = [
        {
            "public_id": new_case_id(),
            "pin_hash": pin,
            "status": "active",
            "created_at": first,
            "updated_at": first,
            "signal_count": 3,
        }
        for _ in range(in_cases // 3)
    ]
    for lo in range(0, len(cases), BATCH):
        with db.write() as s:
            s.execute(insert(Case), cases[lo : lo + BATCH])
    for lo in range(0, n, BATCH):
        hi = min(n, lo + BATCH)
        values = _pdq(rng, hi - lo)
        signals, changes = [], []
        for i, value in zip(range(lo, hi), values, strict=True):
            at = first + step * i
            case = i // 3 + 1 if i < in_cases else None
            signals.append(
                {
                    "id": i + 1,
                    "case_id": case,
                    "bank_id": bank,
                    "type": "pdq",
                    "value": value,
                    "quality": 100,
                    "created_at": at,
                }
            )
            changes.append(
                {
                    "at": at,
                    "op": "add",
                    "signal_id": i + 1,
                    "case_id": case,
                    "bank_id": bank,
                    "signal_type": "pdq",
                    "value": value,
                    "status": "active" if case else "bank",
                }
            )
        with db.write() as s:
            s.execute(insert(Signal), signals)
            s.execute(insert(Change), changes)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _walk(client: httpx.Client, first: tuple[str, dict[str, Any]], pages: int) -> list[float]:
    """Request ``pages`` pages (after 3 warm-ups) following each answer's cursor."""
    path, params = first
    times: list[float] = []
    for i in range(pages + 3):
        started = time.perf_counter()
        r = client.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        if i >= 3:
            times.append(elapsed)
        if path.endswith("FetchHashes"):
            assert body["count"] == PAGE, body["count"]
            params = {**params, "nextPageToken": body["nextPageToken"]}
            if not body["hasMoreRecords"]:
                break
        else:
            assert len(body["items"]) == PAGE
            params = {**params, "after": body["next_after"]}
            if not body["has_more"]:
                break
    return times


def _stats(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


Row = tuple[str, float, float]


def run(path: Path, args: argparse.Namespace, workdir: Path) -> tuple[list[Row], int]:
    url = f"sqlite:///{path.resolve()}"
    db = Database(url)
    db.upgrade()
    with db.read() as s:
        count = s.execute(text("SELECT COUNT(*) FROM signal")).scalar_one()
        middle_at = s.execute(
            text("SELECT at FROM change_log ORDER BY seq LIMIT 1 OFFSET :n"), {"n": count // 2}
        ).scalar()
    if not count:
        took = seed(db, args.hashes)
        print(f"seeded {args.hashes:,} hashes in {took:.0f} s", flush=True)
        with db.read() as s:
            count = s.execute(text("SELECT COUNT(*) FROM signal")).scalar_one()
            middle_at = s.execute(
                text("SELECT at FROM change_log ORDER BY seq LIMIT 1 OFFSET :n"),
                {"n": count // 2},
            ).scalar()
    db.dispose()
    middle = datetime.fromisoformat(str(middle_at)).replace(tzinfo=UTC)
    middle_ts = int(middle.timestamp())
    proc, base = serve(url, workdir)
    rows: list[Row] = []
    try:
        headers = {"x-functions-key": KEY, "Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            after_middle = count // 2  # one change per hash, sequence numbers from 1
            fetch = "/compat/stopncii/v1/FetchHashes"
            cases = [
                ("FetchHashes, from the start", (fetch, {"pageSize": PAGE, "startTimestamp": 10})),
                (
                    "FetchHashes, from the middle (startTimestamp)",
                    (fetch, {"pageSize": PAGE, "startTimestamp": middle_ts}),
                ),
                ("baseline: /v1/feed, from the start", ("/v1/feed", {"limit": PAGE, "after": 0})),
                (
                    "baseline: /v1/feed, from the middle",
                    ("/v1/feed", {"limit": PAGE, "after": after_middle}),
                ),
            ]
            for label, first in cases:
                p50, p95 = _stats(_walk(c, first, args.pages))
                rows.append((label, p50, p95))
                print(f"{label:50s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
            # the first page by time alone (the index look-up of startTimestamp)
            firsts = []
            for _ in range(30):
                started = time.perf_counter()
                r = c.get(fetch, params={"pageSize": PAGE, "startTimestamp": middle_ts})
                firsts.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200
            p50, p95 = _stats(firsts)
            rows.append(("FetchHashes, first page by startTimestamp (30 times)", p50, p95))
            print(f"{rows[-1][0]:50s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    rows += _cpu(url, args.pages)
    return rows, int(count)


def _cpu(url: str, pages: int) -> list[Row]:
    """CPU time per page of the two services in this process (no HTTP, no JSON): what a
    page costs when the machine is not shared, measured on a shared one."""
    from app.config import Settings
    from app.services.container import Services

    svc = Services.build(Settings(database_url=url), migrate=False)
    try:
        token = svc.stopncii.fetch(10, PAGE, None, client_id=1).nextPageToken
        after = 0
        fetch_cpu, feed_cpu = [], []
        for _ in range(pages):
            started = time.process_time()
            page = svc.stopncii.fetch(10, PAGE, token, client_id=1)
            fetch_cpu.append((time.process_time() - started) * 1000)
            token = page.nextPageToken
            started = time.process_time()
            after = svc.feed.page(after, PAGE).next_after
            feed_cpu.append((time.process_time() - started) * 1000)
    finally:
        svc.close()
    out = []
    for label, times in (
        ("FetchHashes page, CPU in the service (no HTTP)", fetch_cpu),
        ("baseline: /v1/feed page, CPU in the service (no HTTP)", feed_cpu),
    ):
        p50, p95 = _stats(times)
        out.append((label, p50, p95))
        print(f"{label:50s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--database", type=Path, help="SQLite file to seed once and keep")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hb-stopncii-"))
    path = args.database or workdir / f"stopncii-{secrets.token_hex(3)}.db"
    rows, count = run(path, args, workdir)
    by = {label: (p50, p95) for label, p50, p95 in rows}
    fetch = statistics.mean(
        [
            by["FetchHashes, from the start"][0],
            by["FetchHashes, from the middle (startTimestamp)"][0],
        ]
    )
    feed = statistics.mean(
        [by["baseline: /v1/feed, from the start"][0], by["baseline: /v1/feed, from the middle"][0]]
    )
    cpu_fetch = "FetchHashes page, CPU in the service (no HTTP)"
    cpu_feed = "baseline: /v1/feed page, CPU in the service (no HTTP)"
    intro = (
        "Run: `.venv/bin/python benchmarks/stopncii_fetch.py --write`. A SQLite bank of "
        f"{count:,} PDQ hashes (a tenth in active cases of 3 hashes, the rest a bank's own "
        "entries), each with its change-log row over a year; one `hashbank serve` process; "
        f"a `feed` key; {args.pages} consecutive pages of 1,000 records walked by their "
        "cursor from the start and from the middle of the log, after 3 warm-up pages, "
        "timed at the client until the whole JSON arrived, on the shared 2-core machine. "
        "The baseline is `/v1/feed` pages of 1,000 from the same two places, same run. "
        "The last two rows time the same pages' CPU in the services, in the benchmark's "
        "own process (no HTTP, no JSON), which the machine's other load does not inflate."
    )
    lines = [
        textwrap.fill(intro, 92),
        "",
        "| request | p50 ms | p95 ms |",
        "|---|---:|---:|",
        *(f"| {label} | {p50:.1f} | {p95:.1f} |" for label, p50, p95 in rows),
        "",
        f"- FetchHashes page of 1,000 records: p50 **{fetch:.1f} ms** "
        f"({fetch / feed:.2f}x a `/v1/feed` page of 1,000, {feed:.1f} ms).",
        "",
        f"- CPU per page in the service: {by[cpu_fetch][0]:.1f} ms "
        f"({by[cpu_fetch][0] / by[cpu_feed][0]:.2f}x the feed's {by[cpu_feed][0]:.1f} ms).",
        "",
        "Goal: p50 ≤ 50 ms on SQLite for a 1,000-record page of a 1M-hash bank.",
    ]
    text_out = "\n".join(lines).rstrip()
    print(text_out)
    if args.write:
        from benchmarks._report import write_section

        write_section("stopncii_fetch", text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
