"""In-memory rate limits (token buckets), per process; nothing is ever written.

Anonymous callers are keyed by an HMAC of their address with a random per-process
secret, so not even memory holds a plain address, and nothing survives a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time

from app.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(32)

    def anonymize(self, address: str) -> str:
        return hmac.new(self._secret, address.encode(), hashlib.sha256).hexdigest()[:32]

    def hit(self, key: str, *, rate: float, burst: float, cost: float = 1.0) -> None:
        """Take ``cost`` tokens from ``key``'s bucket (``rate`` tokens/s, ``burst`` max).

        Raises:
            RateLimited: the bucket is empty; ``retry_after`` says when it has enough.
        """
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / rate if rate > 0 else 3600
                raise RateLimited(
                    "too many requests, please slow down", retry_after=max(1, math.ceil(wait))
                )
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > 100_000:  # bound memory: forget full buckets
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 3600}
