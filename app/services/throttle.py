"""Failed dashboard sign-ins per (account, address), in memory, per process.

The database's per-account lock is a ceiling against an attacker with many addresses;
this throttle is what one address meets first: after ``limit`` failures for one username
from one address, that address is refused for that username until its window ends, while
the account's owner, from their own address, still signs in. Keys are an HMAC of the
username and the address with a random per-process secret (as in
:mod:`app.services.ratelimit`): memory holds no plain address, and nothing is written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """Counts failures per key in fixed windows of ``window`` seconds from the first one."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._secret = secrets.token_bytes(32)
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, window start)
        self._lock = threading.Lock()

    def key(self, username: str, address: str) -> str:
        """The key of a username typed from an address (known username or not)."""
        message = username.encode() + b"\x00" + address.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def reserve(self, key: str) -> bool:
        """Count one attempt against ``key`` before its password is checked; False when
        the key has used up its window (the attempt must then be refused unchecked).

        Counting before the check, not after, is what bounds concurrent attempts: twenty
        requests at once from one address get ``limit`` checks, not twenty.
        """
        now = time.monotonic()
        with self._lock:
            count, start = self._failures.get(key, (0, now))
            if now - start >= self.window:
                count, start = 0, now
            if count >= self.limit:
                return False
            self._failures[key] = (count + 1, start)
            if len(self._failures) > self.max_keys:
                self._forget(now)
            return True

    def clear(self, key: str) -> None:
        """A right password from this address: its count starts again."""
        with self._lock:
            self._failures.pop(key, None)

    def _forget(self, now: float) -> None:
        """Bound memory: drop ended windows, then (a flood of names) the oldest keys."""
        live = {k: v for k, v in self._failures.items() if now - v[1] < self.window}
        if len(live) > self.max_keys:
            live = dict(list(live.items())[len(live) - self.max_keys // 2 :])
        self._failures = live
