"""The one exception hierarchy of the service, rendered as RFC 9457 problem details.

    HashbankError                500  (never raised on purpose)
    ├── BadRequest               400
    ├── Unauthorized             401
    ├── Forbidden                403
    ├── NotFound                 404
    ├── Conflict                 409
    ├── PayloadTooLarge          413
    ├── UnsupportedMedia         415
    ├── InvalidInput             422  (hashes.ImageError and hashes.InvalidHash map here)
    ├── CaseLocked               423
    ├── RateLimited              429  (carries Retry-After)
    ├── NotReady                 503
    └── Busy                     503  (every image-decoding slot taken; Retry-After)

Services raise these; the one renderer, :mod:`app.web.errors`, turns them into
``application/problem+json`` responses (or the pages of the dashboard and the reporting
page), so routers need no ``try``/``except``.
Each class has a stable ``type`` URI (``https://hashbank.dev/problems/<slug>``).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "Busy",
    "CaseLocked",
    "Conflict",
    "Forbidden",
    "HashbankError",
    "InvalidInput",
    "NotFound",
    "NotReady",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "UnsupportedMedia",
]

PROBLEM_BASE = "https://hashbank.dev/problems/"


class HashbankError(Exception):
    """Base of every error the service reports to a caller."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body of this error."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class BadRequest(HashbankError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(HashbankError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(HashbankError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(HashbankError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(HashbankError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(HashbankError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMedia(HashbankError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class InvalidInput(HashbankError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class CaseLocked(HashbankError):
    status, slug, title = 423, "case-locked", "Case locked"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class RateLimited(HashbankError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class NotReady(HashbankError):
    status, slug, title = 503, "not-ready", "Service not ready"


class DatabaseUnavailable(HashbankError):
    """The database cannot be reached right now (restart, failover): retry shortly."""

    status, slug, title = 503, "database-unavailable", "Database unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 2, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class Busy(HashbankError):
    """Every image-decoding slot of this process is taken (HASHBANK_MAX_CONCURRENT_DECODES):
    retry shortly, or on another replica."""

    status, slug, title = 503, "busy", "Too busy to decode images"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after
