"""Dashboard page render times on a big bank: 100k cases, 1M matches, through a real server.

Usage: .venv/bin/python benchmarks/dashboard.py [--cases N] [--matches N] [--runs N]
       [--database PATH] [--postgres ADMIN_URL] [--write]

Seeds a SQLite file by bulk insert (cases with 3 hashes each, matches skewed towards a
few cases over the last year, audit events for every report and review), starts
``hashbank serve`` on it, signs in over HTTP like a browser (CSRF token, session cookie)
and times every page: each list in its default order, its other orders, filters and a
deep page. Times are wall-clock per request from the client (HTML fully received), after
two warm-up requests; the baseline in the same run is ``/healthz`` (HTTP round trip and
framework overhead, no database). ``--database`` keeps the seeded file for a re-run;
``--postgres ADMIN_URL`` runs the same on a new database of that PostgreSQL cluster too.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
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

from app.services.secrets import hash_key, hash_password, hash_pin, new_case_id
from app.storage.db import Database
from app.storage.models import AuditEvent, Case, Client, Match, Signal, User

BIN = Path(sys.executable).parent
PASSWORD = "benchmark-password"
STATUSES = np.array(["pending", "active", "rejected", "withdrawn"])
STATUS_P = [0.08, 0.80, 0.07, 0.05]
BATCH = 50_000


def _hex(rng: np.random.Generator, n: int, nbytes: int) -> list[str]:
    raw = rng.integers(0, 256, (n, nbytes), dtype=np.uint8).tobytes().hex()
    width = nbytes * 2
    return [raw[i * width : (i + 1) * width] for i in range(n)]


def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    for lo in range(0, len(rows), BATCH):
        with db.write() as s:
            s.execute(insert(table), rows[lo : lo + BATCH])


def seed(db: Database, n_cases: int, n_matches: int) -> float:
    """Fill an empty database (ids from 1, in insertion order); returns the seconds taken."""
    started = time.perf_counter()
    rng = np.random.default_rng(5)
    now = datetime.now(UTC)
    with db.write() as s:
        bank = s.execute(text("SELECT id FROM bank WHERE name = 'reports'")).scalar_one()
    digest = hash_password(PASSWORD)
    _insert(
        db,
        User,
        [
            {"username": name, "password_hash": digest, "role": role, "created_at": now}
            for name, role in (("bench-admin", "admin"), ("bench-moderator", "moderator"))
        ],
    )
    _insert(
        db,
        Client,
        [
            {
                "name": f"platform-{i:02d}",
                "key_hash": hash_key(secrets.token_hex(16)),
                "key_prefix": "hbk_bench",
                "scopes": "check,report",
                "created_at": now - timedelta(days=400),
                "last_used_at": now,
            }
            for i in range(20)
        ],
    )
    pin = hash_pin("0000-0000-0000")
    ages = rng.uniform(0, 730, n_cases)
    ages.sort()
    ages = ages[::-1]  # ids in report order: older first
    statuses = rng.choice(STATUSES, n_cases, p=STATUS_P)
    created = [now - timedelta(days=float(a)) for a in ages]
    cases = []
    for i in range(n_cases):
        status = str(statuses[i])
        reviewed = created[i] + timedelta(hours=5) if status != "pending" else None
        cases.append(
            {
                "public_id": new_case_id(),
                "pin_hash": pin,
                "status": status,
                "created_at": created[i],
                "updated_at": reviewed or created[i],
                "reviewed_at": reviewed if status in ("active", "rejected") else None,
                "reviewed_by": "user:bench-moderator" if status in ("active", "rejected") else None,
                "review_reason": "not an intimate image" if status == "rejected" else None,
                "withdrawn_at": reviewed if status == "withdrawn" else None,
                "signal_count": 3,
            }
        )
    _insert(db, Case, cases)
    pdq, md5, sha = _hex(rng, n_cases, 32), _hex(rng, n_cases, 16), _hex(rng, n_cases, 32)
    signals: list[dict[str, Any]] = []
    for i in range(n_cases):
        for kind, value in (("pdq", pdq[i]), ("md5", md5[i]), ("sha256", sha[i])):
            signals.append(
                {
                    "case_id": i + 1,
                    "bank_id": bank,
                    "type": kind,
                    "value": value,
                    "quality": 90 if kind == "pdq" else None,
                    "created_at": created[i],
                }
            )
    _insert(db, Signal, signals)
    del signals
    # matches: a few cases take most (Zipf), over the last year, on active/pending cases
    matchable = np.flatnonzero(np.isin(statuses, ["active", "pending"]))
    rng.shuffle(matchable)
    pick = matchable[(rng.zipf(1.3, n_matches) - 1) % len(matchable)]
    when = np.sort(rng.uniform(0, 365, n_matches))[::-1]
    queries = _hex(rng, 1000, 32)
    for lo in range(0, n_matches, BATCH):
        rows = []
        for j in range(lo, min(n_matches, lo + BATCH)):
            case = int(pick[j])
            pending = statuses[case] == "pending"
            flagged = j % 400 == 0
            rows.append(
                {
                    "created_at": now - timedelta(days=float(when[j])),
                    "client_id": j % 20 + 1,
                    "signal_id": case * 3 + 1,
                    "case_id": case + 1,
                    "bank_id": bank,
                    "signal_type": "pdq",
                    "distance": j % 32,
                    "query_value": queries[j % 1000],
                    "action": "review" if pending else "block",
                    "feedback": "false_positive" if flagged else ("blocked" if j % 3 else None),
                    "review": "pending" if flagged else None,
                }
            )
        with db.write() as s:
            s.execute(insert(Match), rows)
    with db.write() as s:
        s.execute(
            text(
                "UPDATE case_report SET match_count = m.n, last_match_at = m.last, "
                "blocked_count = m.blocked FROM (SELECT case_id, COUNT(*) AS n, "
                "MAX(created_at) AS last, "
                "SUM(CASE WHEN feedback = 'blocked' THEN 1 ELSE 0 END) AS blocked "
                "FROM match GROUP BY case_id) AS m WHERE m.case_id = case_report.id"
            )
        )
    events = []
    for c in cases:
        events.append(
            {
                "at": c["created_at"],
                "actor": "anonymous",
                "action": "case.reported",
                "object_type": "case",
                "object_id": c["public_id"],
                "detail": '{"hashes": 3}',
            }
        )
        if c["reviewed_at"] is not None:
            events.append(
                {
                    "at": c["reviewed_at"],
                    "actor": "user:bench-moderator",
                    "action": f"case.{c['status']}",
                    "object_type": "case",
                    "object_id": c["public_id"],
                    "detail": '{"reason": "not an intimate image"}'
                    if c["status"] == "rejected"
                    else "",
                }
            )
    events.sort(key=lambda e: e["at"])  # type: ignore[arg-type, return-value]
    _insert(db, AuditEvent, events)
    # statistics (and on PostgreSQL the visibility map, for index-only scans) as a running
    # server's autovacuum would have them
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if db.sqlite else "VACUUM ANALYZE")
    return time.perf_counter() - started


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHBANK_")}
    env.update(HASHBANK_DATABASE_URL=url, HASHBANK_LOG_LEVEL="WARNING")
    log = (workdir / "server.log").open("ab")
    proc = subprocess.Popen(
        [str(BIN / "hashbank"), "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited: see {workdir / 'server.log'}")
        time.sleep(0.2)
    raise SystemExit("server not ready in 300 s")


def sign_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/dashboard")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    r = client.post(
        "/dashboard/login",
        data={"csrf": token.group(1), "username": username, "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    return client


def pages(db: Database) -> list[tuple[str, str]]:
    with db.read() as s:
        top = s.execute(text("SELECT id FROM case_report ORDER BY match_count DESC")).first()
        typical = s.execute(
            text("SELECT id, public_id FROM case_report WHERE match_count = 1 LIMIT 1")
        ).first()
        value = s.execute(text("SELECT value FROM signal WHERE type = 'pdq' LIMIT 1")).scalar()
        cases = s.execute(text("SELECT COUNT(*) FROM case_report")).scalar_one()
        matches = s.execute(text("SELECT COUNT(*) FROM match")).scalar_one()
    assert top is not None and typical is not None
    day = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    return [
        ("baseline: /healthz (no database)", "/healthz"),
        ("overview", "/dashboard"),
        ("review queue (pending, oldest first)", "/dashboard/queue"),
        ("review queue by re-uploads", "/dashboard/queue?sort=matches&order=desc"),
        ("matches awaiting review", "/dashboard/queue/matches"),
        ("cases (newest first)", "/dashboard/cases"),
        ("cases: active by re-uploads", "/dashboard/cases?status=active&sort=matches&order=desc"),
        ("cases: id contains", "/dashboard/cases?q=AB"),
        ("cases: last page", f"/dashboard/cases?page={cases // 50}"),
        ("case page: the most re-uploaded case", f"/dashboard/cases/{top[0]}"),
        ("case page: a typical case", f"/dashboard/cases/{typical[0]}"),
        ("matches (newest first)", "/dashboard/matches"),
        ("matches by distance", "/dashboard/matches?sort=distance&order=asc"),
        ("matches of one platform", "/dashboard/matches?client=3"),
        ("matches: page 10,000", f"/dashboard/matches?page={min(10_000, matches // 50)}"),
        ("search: case id (answers: see the case page)", f"/dashboard/search?q={typical[1]}"),
        ("search: PDQ within 31 bits", f"/dashboard/search?q={value}&distance=31"),
        ("audit log", "/dashboard/audit"),
        ("audit log: one action", "/dashboard/audit?action=case.rejected"),
        ("audit log: actor and dates", f"/dashboard/audit?actor=bench&since={day}"),
        ("banks", "/dashboard/banks"),
        ("API clients", "/dashboard/clients"),
        ("users", "/dashboard/users"),
        ("settings", "/dashboard/settings"),
    ]


def measure(client: httpx.Client, path: str, runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs + 2):
        started = time.perf_counter()
        r = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert r.status_code in (200, 303), (path, r.status_code, r.text[:300])
        if i >= 2:
            times.append(elapsed)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95


def _new_postgres_database(admin_url: str) -> str:
    """A new empty database on the cluster of ``admin_url``; returns its URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = "hb_dash_" + secrets.token_hex(4)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def run(url: str, args: argparse.Namespace, workdir: Path) -> tuple[list[Row], dict[str, int]]:
    """Seed ``url`` when it holds no case, serve it, time every page."""
    db = Database(url)
    db.upgrade()
    with db.read() as s:
        empty = not s.execute(text("SELECT COUNT(*) FROM case_report")).scalar_one()
    if empty:
        took = seed(db, args.cases, args.matches)
        print(f"seeded {args.cases:,} cases, {args.matches:,} matches in {took:.0f} s", flush=True)
    routes = pages(db)
    with db.read() as s:
        counts = {
            table: s.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("case_report", "match", "audit_event")
        }
    db.dispose()
    proc, base = serve(url, workdir)
    rows = []
    try:
        client = sign_in(base, "bench-admin")
        for label, route in routes:
            p50, p95 = measure(client, route, args.runs)
            rows.append((label, p50, p95))
            print(f"{label:45s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    return rows, counts


Row = tuple[str, float, float]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", type=Path, help="SQLite file to seed once and keep")
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="also run on a new database of this cluster"
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hb-dash-"))
    path = args.database or workdir / "dashboard.db"
    results = {"SQLite": run(f"sqlite:///{path.resolve()}", args, workdir)}
    if args.postgres:
        results["PostgreSQL"] = run(_new_postgres_database(args.postgres), args, workdir)
    counts = results["SQLite"][1]
    engines = list(results)
    intro = (
        "Run: `.venv/bin/python benchmarks/dashboard.py --write"
        + (" --postgres URL`" if args.postgres else "`")
        + f". {' and '.join(engines)} databases seeded with {counts['case_report']:,} cases "
        f"(3 hashes each), {counts['match']:,} matches (skewed: a few cases take most) and "
        f"{counts['audit_event']:,} audit events; one `hashbank serve` process; an admin "
        f"signed in over HTTP; each page requested {args.runs} times after 2 warm-ups, timed "
        "at the client until the whole page arrived, on the shared 2-core machine "
        "(PostgreSQL on the same machine). The baseline row is the HTTP round trip alone."
    )
    lines = [
        textwrap.fill(intro, 92),
        "",
        "| page | " + " | ".join(f"{e} p50 ms | {e} p95 ms" for e in engines) + " |",
        "|---|" + "---:|---:|" * len(engines),
    ]
    for i, (label, _, _) in enumerate(results["SQLite"][0]):
        cells = " | ".join(
            f"{results[e][0][i][1]:.1f} | {results[e][0][i][2]:.1f}" for e in engines
        )
        lines.append(f"| {label} | {cells} |")
    lines.append("")
    for e in engines:
        rows = results[e][0]
        worst = max(rows[1:], key=lambda r: r[2])
        lines.append(f"- {e}: slowest p95 of any page **{worst[2]:.0f} ms** ({worst[0]}).")
    lines += ["", "Goal: every page under 200 ms."]
    text_out = "\n".join(lines).rstrip()
    print(text_out)
    if args.write:
        from benchmarks._report import write_section

        write_section("dashboard", text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
