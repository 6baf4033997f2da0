"""Dashboard users: argon2 passwords, roles, lockout after repeated failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import InvalidInput, Unauthorized
from app.services import audit
from app.services.secrets import hash_password, verify_password
from app.storage.db import Database
from app.storage.models import Role, User, utcnow
from app.storage.repositories import UserRepository

__all__ = ["UserService", "UserView"]

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str
    created_at: datetime
    disabled: bool
    last_login_at: datetime | None


def _view(u: User) -> UserView:
    return UserView(u.id, u.username, str(u.role), u.created_at, u.disabled, u.last_login_at)


class UserService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, username: str, password: str, role: str, *, actor: str) -> UserView:
        username = username.strip()
        if (
            not username
            or len(username) > 64
            or not username.replace("_", "").replace(".", "").replace("-", "").isalnum()
        ):
            raise InvalidInput("a username has 1 to 64 letters, digits, '.', '-' or '_'")
        if len(password) < 10:
            raise InvalidInput("a password has at least 10 characters")
        try:
            role_value = Role(role)
        except ValueError:
            raise InvalidInput("role must be 'admin' or 'moderator'") from None
        digest = hash_password(password)
        with self.db.write() as session:
            user = UserRepository(session).add(
                User(username=username, password_hash=digest, role=role_value, created_at=utcnow())
            )
            audit.record(session, actor, "user.created", "user", username, role=str(role_value))
            return _view(user)

    def list(self) -> list[UserView]:
        with self.db.read() as session:
            return [_view(u) for u in UserRepository(session).list()]

    def get(self, user_id: int) -> UserView | None:
        with self.db.read() as session:
            user = UserRepository(session).get(user_id)
            return _view(user) if user is not None and not user.disabled else None

    def count(self) -> int:
        with self.db.read() as session:
            return UserRepository(session).count()

    def set_disabled(self, username: str, disabled: bool, *, actor: str) -> UserView:
        with self.db.write() as session:
            user = UserRepository(session).by_username(username)
            if user is None:
                raise InvalidInput(f"no user {username!r}")
            user.disabled = disabled
            audit.record(
                session, actor, "user.disabled" if disabled else "user.enabled", "user", username
            )
            return _view(user)

    def login(self, username: str, password: str) -> UserView:
        """Check a password; 5 failures lock the account for 15 minutes.

        Raises:
            Unauthorized: unknown user, wrong password, disabled or locked account
            (one message for all, so accounts cannot be probed).
        """
        with self.db.read() as session:
            user = UserRepository(session).by_username(username)
            digest = user.password_hash if user is not None else None
        ok = verify_password(digest, password)
        now = utcnow()
        with self.db.write() as session:
            user = UserRepository(session).by_username(username)
            if user is None:
                raise Unauthorized("wrong username or password")
            if user.locked_until is not None and user.locked_until > now:
                audit.record(session, f"user:{username}", "user.login_locked", "user", username)
                raise Unauthorized("wrong username or password, or account locked; try later")
            if not ok or user.disabled:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.failed_logins = 0
                    user.locked_until = now + LOCKOUT
                    audit.record(session, "system", "user.locked", "user", username)
                audit.record(session, f"user:{username}", "user.login_failed", "user", username)
                failed = True
            else:
                failed = False
                user.failed_logins = 0
                user.last_login_at = now
                audit.record(session, f"user:{username}", "user.login", "user", username)
                view = _view(user)
        if failed:
            raise Unauthorized("wrong username or password")
        return view
