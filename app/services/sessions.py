"""Dashboard sign-in: sessions behind an HttpOnly cookie, CSRF tokens derived from them.

The cookie holds a random 256-bit token; the database holds only its SHA-256, so a copy of
the database signs nobody in. A session ends at sign-out, after ``idle`` without a request,
after ``lifetime`` in any case, and as soon as its user is disabled.

CSRF tokens are an HMAC of the cookie's secret (the session token, or before sign-in a
random "login" token of its own cookie): a page from another site can neither read the
cookie nor compute the token, and nothing extra is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.services import audit
from app.services.secrets import hash_key
from app.services.users import UserService
from app.storage.db import Database
from app.storage.models import DashboardSession, Role, utcnow
from app.storage.repositories import SessionRepository

__all__ = [
    "SESSION_IDLE",
    "SESSION_LIFETIME",
    "SessionService",
    "Staff",
    "csrf_token",
    "csrf_valid",
    "new_secret",
]

SESSION_IDLE = timedelta(hours=2)
SESSION_LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
_CSRF_CONTEXT = b"hashbank dashboard csrf v1"


@dataclass(frozen=True)
class Staff:
    """The signed-in dashboard user of a request."""

    user_id: int
    username: str
    role: str
    csrf: str
    signed_in_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"user:{self.username}"


def new_secret() -> str:
    """A random cookie secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    """The CSRF token that goes with a cookie secret."""
    return hmac.new(secret.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_valid(secret: str | None, submitted: str | None) -> bool:
    """Whether ``submitted`` is the CSRF token of ``secret`` (constant time)."""
    if not secret or not submitted:
        return False
    return hmac.compare_digest(csrf_token(secret), submitted)


def _plausible(token: str | None) -> bool:
    return bool(token) and len(token or "") <= 128


class SessionService:
    """Sign in, resolve the session of a request, sign out."""

    def __init__(
        self,
        db: Database,
        users: UserService,
        *,
        idle: timedelta = SESSION_IDLE,
        lifetime: timedelta = SESSION_LIFETIME,
    ) -> None:
        self.db = db
        self.users = users
        self.idle = idle
        self.lifetime = lifetime

    def sign_in(self, username: str, password: str, *, address: str = "") -> tuple[str, Staff]:
        """Check the password typed from ``address`` (failures are limited per address
        and per account: :meth:`UserService.login`) and open a session.

        Returns the session token (for the cookie) and the signed-in user.

        Raises:
            Unauthorized: wrong username or password, disabled or locked account, too many
            failures from this address (one answer for all).
        """
        user = self.users.login(username, password, address=address)  # audited there
        token = new_secret()
        now = utcnow()
        with self.db.write() as session:
            repo = SessionRepository(session)
            repo.delete_stale(now, now - self.idle)  # housekeeping, while writing anyway
            repo.add(
                DashboardSession(
                    token_hash=hash_key(token),
                    user_id=user.id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return token, Staff(user.id, user.username, user.role, csrf_token(token), now)

    def resolve(self, token: str | None) -> Staff | None:
        """The user of a session token, or None when it is unknown, expired or disabled."""
        if not _plausible(token):
            return None
        assert token is not None
        digest = hash_key(token)
        now = utcnow()
        with self.db.read() as session:
            found = SessionRepository(session).with_user(digest)
        if found is None:
            return None
        if found.disabled or found.expires_at <= now or found.last_seen_at + self.idle <= now:
            return None
        if now - found.last_seen_at >= TOUCH_EVERY:
            with self.db.write() as session:
                SessionRepository(session).touch(found.session_id, now)
        return Staff(found.user_id, found.username, found.role, csrf_token(token), found.created_at)

    def sign_out(self, token: str | None) -> None:
        """End the session of ``token`` (audited); an unknown token is a no-op."""
        if not _plausible(token):
            return
        assert token is not None
        digest = hash_key(token)
        with self.db.write() as session:
            repo = SessionRepository(session)
            found = repo.with_user(digest)
            if found is None:
                return
            repo.delete(digest)
            audit.record(session, f"user:{found.username}", "user.logout", "user", found.username)

    def end_all(self, user_id: int) -> int:
        """End every session of a user (when disabled); returns how many ended."""
        with self.db.write() as session:
            return SessionRepository(session).delete_for_user(user_id)
