"""Engine creation, sessions and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "is_sqlite", "safe_url", "sqlite_file"]

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK = 7_244_913_001  # pg_advisory_lock key for schema upgrades


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def safe_url(url: str) -> str:
    """``url`` with its password hidden, to show or log."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: in memory, or not a file)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


class Database:
    """One engine per process, with read sessions and write sessions.

    On SQLite, write sessions start with ``BEGIN IMMEDIATE`` so that concurrent
    writers (several processes) wait on the busy timeout instead of failing on a
    lock upgrade; WAL mode lets readers proceed meanwhile. ``synchronous=FULL``
    makes an acknowledged write survive a crash of the process or the machine.
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        # hide_parameters: a failed statement's exception text (logged) would otherwise
        # carry its bound values, hashes among them
        kwargs: dict[str, Any] = {"future": True, "hide_parameters": True}
        if self.sqlite:
            path = sqlite_file(url)
            if path is not None and path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 20
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.sqlite:
            _configure_sqlite(self.engine)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; closed (its transaction rolled back) at the end.

        Objects read stay usable after the block (closing does not expire them)."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends without error."""
        with self._write() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def upgrade(self) -> None:
        """Bring the schema to the newest migration, safely when processes race."""
        with self._migration_lock() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[Any]:
        if self.sqlite:
            path = sqlite_file(self.url)
            if path is None:
                with self.engine.connect() as conn:
                    yield conn
                return
            # flock on the database file itself: no extra file, and flock does not
            # interfere with SQLite's own (POSIX fcntl) locks on Linux. The descriptor
            # is never closed: closing any descriptor of the file would drop every
            # POSIX lock SQLite holds on it in this process.
            fd = _lock_fd(path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                with self.engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_LOCK})
                conn.commit()
                try:
                    yield conn
                finally:
                    conn.rollback()
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_LOCK})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


_LOCK_FDS: dict[Path, int] = {}


def _lock_fd(path: Path) -> int:
    key = path.resolve()
    if key not in _LOCK_FDS:
        _LOCK_FDS[key] = os.open(key, os.O_RDWR | os.O_CREAT, 0o600)
    return _LOCK_FDS[key]


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # deleted rows (erased hashes, purged matches) are overwritten with zeros in the
        # file instead of lingering in free pages until reused
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
