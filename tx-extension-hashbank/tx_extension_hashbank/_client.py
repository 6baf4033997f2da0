"""The HTTP client of hashbank's feed and feedback routes (requests, one session)."""

from __future__ import annotations

import json
import time
import typing as t

import requests

_orjson: t.Any
try:  # a quarter of json's time on a feed page of 10,000 changes, when installed
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None


def _loads(raw: bytes) -> t.Any:
    return _orjson.loads(raw) if _orjson is not None else json.loads(raw)


__all__ = ["HashbankClient", "HashbankHTTPError"]

# Answers worth another try: rate limited, or the server or its proxy briefly away.
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class HashbankHTTPError(Exception):
    """A hashbank answered an error (its RFC 9457 ``detail`` in the message)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"hashbank answered {status}: {detail}")
        self.status = status
        self.detail = detail


class HashbankClient:
    """``GET /v1/feed`` and ``POST /v1/feed/feedback`` of one hashbank, with one key.

    ``base_url`` is the hashbank's root (``https://hashbank.example.org``); the key is
    sent as ``Authorization: Bearer``. Rate limits (429, with ``Retry-After``) and a
    briefly unavailable server (502/503/504, connection errors) are retried ``retries``
    times; any other error raises :class:`HashbankHTTPError`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["User-Agent"] = "tx-extension-hashbank"

    def feed(self, after: int, limit: int) -> dict[str, t.Any]:
        """One page of the change log after sequence ``after``: ``items``,
        ``next_after``, ``has_more``."""
        return self._request("GET", "/v1/feed", params={"after": after, "limit": limit})

    def feedback(self, signal_type: str, value: str, feedback: str) -> dict[str, t.Any]:
        """Tell the hashbank what the platform did with content matching a feed hash."""
        body = {"type": signal_type, "value": value, "feedback": feedback}
        return self._request("POST", "/v1/feed/feedback", json=body)

    def _request(self, method: str, path: str, **kwargs: t.Any) -> dict[str, t.Any]:
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if last:
                    raise
                time.sleep(min(2.0**attempt, 10.0))
                continue
            if resp.status_code in _RETRY_STATUSES and not last:
                time.sleep(_retry_after(resp, attempt))
                continue
            if resp.status_code >= 400:
                raise HashbankHTTPError(resp.status_code, _detail(resp))
            try:
                body = _loads(resp.content)
            except ValueError as exc:
                raise HashbankHTTPError(resp.status_code, "the answer is not JSON") from exc
            if not isinstance(body, dict):
                raise HashbankHTTPError(resp.status_code, "the answer is not a JSON object")
            return body
        raise AssertionError("unreachable")  # the last attempt returns or raises


def _retry_after(resp: requests.Response, attempt: int) -> float:
    try:
        return min(float(resp.headers.get("Retry-After", "")), 30.0)
    except ValueError:
        return min(2.0**attempt, 10.0)


def _detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return str(body)[:200]
