"""One webhook POST: to the checked address, no redirects, a deadline, a bounded answer."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from app.services.webhook_urls import Target

__all__ = ["MAX_ANSWER_BYTES", "Outcome", "Sender"]

MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer, at most this is read


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None  # the receiver's HTTP status, if it answered
    latency_ms: int
    error: str  # "" when ok


class Sender:
    """POSTs deliveries with one shared ``httpx.Client`` (thread-safe, keeps connections).

    ``trust_env=False``: no proxy from the environment (a proxy would connect to the
    host name again, after our check). Redirects are not followed: a 3xx is a failed
    attempt (a receiver could otherwise point us at an internal address). The timeout
    bounds each step (connect, write, each read); the whole attempt is also cut at
    ``timeout`` while the answer is read, and at most 64 KB of it is read.
    """

    def __init__(self, timeout: float = 5.0, *, verify: bool | str = True) -> None:
        self.timeout = timeout
        self.client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            trust_env=False,
            verify=verify,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
        start = time.monotonic()
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        all_headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": "hashbank-webhooks/1",
            **headers,
        }
        try:
            with self.client.stream(
                "POST",
                target.connect_url,
                content=body,
                headers=all_headers,
                extensions=extensions,
            ) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read >= MAX_ANSWER_BYTES:
                        break  # the rest is never read: the connection is dropped
                    if time.monotonic() - start > self.timeout:
                        return self._done(start, response.status_code, "answer too slow")
                status = response.status_code
        except httpx.TimeoutException:
            return self._done(start, None, f"timeout after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return self._done(start, None, f"{type(exc).__name__}: {exc}"[:300])
        if 200 <= status < 300:
            return Outcome(True, status, _ms(start), "")
        if 300 <= status < 400:
            return self._done(start, status, f"HTTP {status}: redirects are not followed")
        return self._done(start, status, f"HTTP {status}")

    @staticmethod
    def _done(start: float, status: int | None, error: str) -> Outcome:
        return Outcome(False, status, _ms(start), error)

    def close(self) -> None:
        self.client.close()


def _ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)
