"""Fault tests: crashes and database restarts under load lose no acknowledged data, and
the service recovers by itself.

- kill -9 one of two replicas during load: the other keeps answering, every case that
  either acknowledged is there;
- kill -9 a SQLite server during writes: after a restart every acknowledged case is
  there and the database passes ``PRAGMA integrity_check``;
- restart PostgreSQL during load: checks keep being answered from memory (with keys seen
  before; an unknown key gets 503 + Retry-After), ``/readyz`` reports the gap, and both
  replicas recover without a restart of their own.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import PG_ADMIN_URL, Server, eventually, fresh_database_url

REPO = Path(__file__).resolve().parents[2]


class Reporter(threading.Thread):
    """Reports cases to one server until stopped; keeps every acknowledged one."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.url = server.url
        self.acked: list[tuple[str, str, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as c:
            while not self.stop.is_set():
                pdq = secrets.token_hex(32)
                try:
                    r = c.post(
                        "/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]}
                    )
                except httpx.HTTPError:
                    time.sleep(0.05)  # the server is gone or restarting: not acknowledged
                    continue
                if r.status_code == 201:
                    body = r.json()
                    self.acked.append((body["case_id"], body["pin"], pdq))


class Checker(threading.Thread):
    """Checks random hashes on one server until stopped; counts answers and failures."""

    def __init__(self, server: Server, key: str) -> None:
        super().__init__(daemon=True)
        self.server, self.key = server, key
        self.ok = 0
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with self.server.client(self.key) as c:
            while not self.stop.is_set():
                body = {"hashes": [{"type": "pdq", "value": secrets.token_hex(32)}]}
                try:
                    r = c.post("/v1/check", json=body)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")


def _assert_present(server: Server, key: str, acked: list[tuple[str, str, str]]) -> None:
    with server.client(key) as c:
        for case_id, pin, pdq in acked:
            r = c.get(f"/v1/cases/{case_id}", headers={"X-Case-Pin": pin})
            assert r.status_code == 200, (case_id, r.text)
        # and their hashes match on this server (the follower applied them)
        for _, _, pdq in acked[-20:]:
            check = {"hashes": [{"type": "pdq", "value": pdq}]}
            eventually(lambda b=check: c.post("/v1/check", json=b).json()["match"], timeout=5)


def test_kill_9_one_replica_during_load(server_factory) -> None:
    a: Server = server_factory()
    b: Server = server_factory(database_url=a.database_url)
    key = a.create_client("platform", "check")
    writers = [Reporter(a), Reporter(b)]
    checker = Checker(b, key)
    for t in (*writers, checker):
        t.start()
    time.sleep(2)
    a.kill()
    time.sleep(2)
    for t in (*writers, checker):
        t.stop.set()
        t.join(15)
    assert writers[0].acked and writers[1].acked
    assert checker.ok > 50 and not checker.failures, checker.failures[:5]
    _assert_present(b, key, writers[0].acked + writers[1].acked)


def test_kill_9_sqlite_server_during_writes(server_factory, tmp_path) -> None:
    if PG_ADMIN_URL:
        pytest.skip("SQLite-specific; runs in the SQLite pass of the suite")
    db_file = tmp_path / "crash.db"
    server: Server = server_factory(database_url=f"sqlite:///{db_file}")
    writer = Reporter(server)
    writer.start()
    time.sleep(2.5)
    server.kill()
    writer.stop.set()
    writer.join(15)
    assert len(writer.acked) > 10
    server.start()
    key = server.create_client("platform", "check")
    _assert_present(server, key, writer.acked)
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _pg(cmd: str, directory: str) -> None:
    subprocess.run(["bash", str(REPO / "scripts/postgres.sh"), cmd, directory], check=True)


def test_postgres_restart_during_load(server_factory, tmp_path) -> None:
    if not PG_ADMIN_URL:
        pytest.skip("needs PostgreSQL; runs in the PostgreSQL pass of the suite")
    dir_file = tmp_path / "pgdir"
    url = subprocess.run(
        ["bash", str(REPO / "scripts/postgres.sh"), "start"],
        env={**os.environ, "PG_DIR_FILE": str(dir_file)},
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    directory = dir_file.read_text().strip()
    try:
        database_url = fresh_database_url(tmp_path, admin_url=url)  # on our own cluster
        a: Server = server_factory(database_url=database_url)
        b: Server = server_factory(database_url=database_url)
        key = a.create_client("platform", "check")
        protected = secrets.token_hex(32)
        with a.client() as c:
            c.post(
                "/v1/cases", json={"hashes": [{"type": "pdq", "value": protected, "quality": 90}]}
            )
        eventually(lambda: _matches(b, key, protected), timeout=5)
        assert _matches(a, key, protected)  # both replicas have seen the key
        checkers = [Checker(a, key), Checker(b, key)]
        for t in checkers:
            t.start()
        _pg("halt", directory)
        # the gap is reported, and checks are still answered from memory
        eventually(lambda: httpx.get(a.url + "/readyz").status_code == 503, timeout=15)
        assert _matches(b, key, protected)
        with a.client("hbk_never-seen-key") as c:
            r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": protected}]})
            assert r.status_code == 503 and r.headers["retry-after"]
            assert r.headers["content-type"].startswith("application/problem+json")
        _pg("resume", directory)
        for server in (a, b):  # recovered by themselves
            eventually(lambda s=server: httpx.get(s.url + "/readyz").status_code == 200, 30)
        for t in checkers:
            t.stop.set()
            t.join(15)
            assert t.ok > 20 and not t.failures, t.failures[:5]
        writer = Reporter(a)
        writer.start()
        eventually(lambda: len(writer.acked) >= 3, timeout=15)
        writer.stop.set()
        writer.join(15)
        _assert_present(b, key, writer.acked)
    finally:
        _pg("stop", directory)


def _matches(server: Server, key: str, pdq: str) -> bool:
    with server.client(key) as c:
        body = {"hashes": [{"type": "pdq", "value": pdq}]}
        return bool(c.post("/v1/check", json=body).json()["match"])
