"""In-memory rate limits (token buckets), per process; nothing is ever written.

Anonymous callers are keyed by an HMAC of their address with a random per-process
secret, so not even memory holds a plain address, and nothing survives a restart. The
address comes from :func:`app.web.addresses.client_address` (trusted proxies, IPv6 /64).

Two budgets apply to callers without a key, per address: reports (new cases and hashes
added to a case, :class:`ReportBudget`) and failed PIN checks (:class:`PinAttempts`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from types import TracebackType

from app.errors import RateLimited, Unauthorized

__all__ = ["PinAttempts", "RateLimiter", "ReportBudget"]


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

    def refund(self, key: str, *, burst: float, cost: float = 1.0) -> None:
        """Give back ``cost`` tokens taken by :meth:`hit` (never above ``burst``)."""
        with self._lock:
            if key in self._buckets:
                tokens, last = self._buckets[key]
                self._buckets[key] = (min(burst, tokens + cost), last)


class _HourlyBudget:
    """One token of an address's budget of ``per_hour``, taken on entry and given back on
    exit when :meth:`_give_back` says so. ``per_hour`` 0: no limit."""

    prefix = ""

    def __init__(self, limiter: RateLimiter, address: str, per_hour: int) -> None:
        self.limiter = limiter
        self.key = self.prefix + limiter.anonymize(address)
        self.per_hour = per_hour

    def __enter__(self) -> None:
        if self.per_hour > 0:
            self.limiter.hit(self.key, rate=self.per_hour / 3600, burst=self.per_hour)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.per_hour > 0 and self._give_back(exc_type):
            self.limiter.refund(self.key, burst=self.per_hour)

    def _give_back(self, exc_type: type[BaseException] | None) -> bool:
        raise NotImplementedError


class ReportBudget(_HourlyBudget):
    """A context around one anonymous report (a new case, or hashes added to one): it
    takes one of the address's ``per_hour`` reports, and gives it back if the report
    fails (the case is full, the database is down).

    Enter it only once the request has passed validation, so junk sent from an address
    (or forged on its behalf) never spends a victim's reports. ``per_hour`` 0: no limit.

    Raises (on entry):
        RateLimited: the address has reported ``per_hour`` times within the hour.
    """

    prefix = "case:"

    def _give_back(self, exc_type: type[BaseException] | None) -> bool:
        return exc_type is not None


class PinAttempts(_HourlyBudget):
    """A context around one PIN check: only a failed check (Unauthorized: a wrong PIN or
    an unknown case id) spends the address's budget of ``per_hour``.

    The token is taken before the check (an empty budget costs no argon2 run, which is
    the point: each unknown id otherwise buys a full one) and given back when the check
    did not fail, so concurrent attempts cannot overshoot the budget.

    Raises (on entry):
        RateLimited: the address has no attempts left; ``retry_after`` says when.
    """

    prefix = "pin:"

    def __enter__(self) -> None:
        try:
            super().__enter__()
        except RateLimited as exc:
            raise RateLimited(
                "too many wrong PINs or unknown case numbers from this address; "
                "please try again later",
                retry_after=exc.retry_after,
            ) from None

    def _give_back(self, exc_type: type[BaseException] | None) -> bool:
        return not (exc_type is not None and issubclass(exc_type, Unauthorized))
