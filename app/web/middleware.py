"""ASGI middleware: body size limit, request id + access log, security headers."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.errors import HashbankError, PayloadTooLarge

__all__ = ["AccessLog", "BodyLimit", "SecurityHeaders", "problem_response"]

log = logging.getLogger("hashbank.access")


async def problem_response(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    import orjson

    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Refuse bodies over ``max_bytes``: from Content-Length before anything else
    (before authentication), and while streaming for chunked bodies."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        """``larger``: paths with a limit of their own (``/v1/check``: a video upload)."""
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope.get("path", ""), self.max_bytes)
        error = PayloadTooLarge(f"the body may be at most {max_bytes} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await problem_response(send, 413, error.problem())
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise error
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if not started:
                await problem_response(send, 413, error.problem())


class AccessLog:
    """One JSON log line per request with a request id; no address, no query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # The one place an unexpected error ends: logged with its request id, and
            # answered as a problem (500) so the connection and the server keep going.
            log.exception(
                "unhandled error", extra={"request_id": request_id, "error": type(exc).__name__}
            )
            if not response_started:
                body = HashbankError("an unexpected error occurred; it has been logged").problem()
                body["request_id"] = request_id
                await problem_response(send, 500, body, [(b"x-request-id", request_id.encode())])
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(scope, status, elapsed)
            path = scope["path"]
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": _redact(path),
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )


def _redact(path: str) -> str:
    """Case ids are the reporter's secret-ish handle: keep them out of logs."""
    if path.startswith("/v1/cases/"):
        rest = path[len("/v1/cases/") :]
        tail = rest.partition("/")[2]
        return "/v1/cases/{case_id}" + (f"/{tail}" if tail else "")
    return path


# Responses that set no policy of their own (JSON, problems, plain text) get the
# strictest one: nothing may load, nothing may frame them. Pages set their own.
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


class SecurityHeaders:
    """Headers every response carries: nosniff, no referrer, no framing, a CSP (pages
    add their own, others get :data:`DEFAULT_CSP`), ``Cache-Control: no-store`` on the
    API (case status and keys' answers are nobody's to cache), and on a 405 an ``Allow``
    naming every documented method of that path (Starlette names only the first
    route's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        defaults = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", DEFAULT_CSP),
        ]
        if path.startswith("/v1/"):
            defaults.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in defaults if k not in names]
                if message["status"] == 405:
                    allow = _allowed_methods(scope)
                    if allow:
                        headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                        headers.append((b"allow", allow))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _allowed_methods(scope: Scope) -> bytes | None:
    """The methods the OpenAPI document lists for this request's path (None: not in it)."""
    openapi = getattr(scope.get("app"), "openapi", None)
    if openapi is None:
        return None
    for template, operations in openapi().get("paths", {}).items():
        if _path_regex(template).fullmatch(scope["path"]):
            return ", ".join(sorted(m.upper() for m in operations)).encode()
    return None


@functools.cache
def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))
