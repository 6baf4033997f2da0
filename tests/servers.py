"""Real hashbank server processes for tests, on a fresh SQLite file or PostgreSQL database.

Set HASHBANK_TEST_DATABASE_URL (an admin URL such as
``postgresql+psycopg://postgres@127.0.0.1:55432/postgres``) to run on PostgreSQL: every
server then gets a database of its own, created here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
HASHBANK = str(BIN / "hashbank")
PG_ADMIN_URL = os.environ.get("HASHBANK_TEST_DATABASE_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database_url(workdir: Path, admin_url: str = PG_ADMIN_URL) -> str:
    """A new empty database: a SQLite file in ``workdir``, or a new PostgreSQL database
    (on the cluster of ``admin_url``, by default the suite's)."""
    if not admin_url:
        return f"sqlite:///{workdir / 'hashbank.db'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "hb_" + uuid.uuid4().hex[:12]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@dataclass
class Server:
    """One ``hashbank serve`` process with its own working dir, temp dir and log."""

    workdir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def tmpdir(self) -> Path:
        path = self.workdir / "tmp"
        path.mkdir(exist_ok=True)
        return path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HASHBANK_")}
        env.update(
            HASHBANK_DATABASE_URL=self.database_url,
            HASHBANK_SYNC_INTERVAL="0.2",
            # tests report many cases from 127.0.0.1; test_rate_limits turns it back on
            HASHBANK_ANONYMOUS_CASES_PER_HOUR="0",
            TMPDIR=str(self.tmpdir),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60) -> Server:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [HASHBANK, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """kill -9 the whole process group (a crash, for fault tests)."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    # -- the CLI, on the same database ----------------------------------------------
    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [HASHBANK, *args],
            cwd=self.workdir,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"hashbank {' '.join(args)} failed:\n{result.stderr}")
        return result

    def create_client(
        self, name: str | None = None, scopes: str = "check,report,feed,admin", **opts: Any
    ) -> str:
        """Create an API client through the CLI and return its key."""
        extra = [
            f"--{k.replace('_', '-')}" if v is True else f"--{k.replace('_', '-')}={v}"
            for k, v in opts.items()
            if v is not False
        ]
        out = self.cli(
            "clients",
            "create",
            name or f"c-{uuid.uuid4().hex[:8]}",
            "--scopes",
            scopes,
            "--json",
            *extra,
        )
        return str(json.loads(out.stdout)["key"])

    def create_user(self, username: str, password: str, role: str = "admin") -> None:
        self.cli(
            "users", "create", username, "--role", role, "--password-stdin", input=password + "\n"
        )

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def feed(self, key: str, page_size: int = 500) -> list[dict[str, Any]]:
        """Every item of ``GET /v1/feed``, read page by page as a platform does."""
        items: list[dict[str, Any]] = []
        after = 0
        with self.client(key) as c:
            while True:
                page = c.get("/v1/feed", params={"after": after, "limit": page_size}).json()
                items += page["items"]
                after = page["next_after"]
                if not page["has_more"]:
                    return items


def eventually(probe: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Call ``probe()`` until it returns something truthy, failing after ``timeout`` s.

    For promises such as "every process sees a change within 2 s": it checks the
    promise, not a speed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s (last value: {value!r})")
        time.sleep(interval)
