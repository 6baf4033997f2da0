"""PostgreSQL LISTEN/NOTIFY: wakes the index follower as soon as a change commits.

``ChangeRepository.append`` sends the NOTIFY on :data:`CHANGES_CHANNEL`; this module
listens on it (both sides of the channel live in storage).

Polling stays the safety net: a lost notification (or a dropped connection) only delays a
change until the next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from app.storage.repositories import CHANGES_CHANNEL

__all__ = ["ChangeListener"]

log = logging.getLogger(__name__)


def _conninfo(url: str) -> str:
    u = make_url(url)
    parts: dict[str, str | int | None] = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
    }
    return psycopg.conninfo.make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


class ChangeListener:
    """A daemon thread that calls ``on_change`` for every NOTIFY on the channel."""

    def __init__(self, url: str, on_change: Callable[[], None]) -> None:
        self.conninfo = _conninfo(url)
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                    self.on_change()  # catch up on anything committed while disconnected
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.on_change()
            except psycopg.Error as exc:
                log.warning("change listener disconnected", extra={"error": str(exc)})
                self._stop.wait(1.0)
