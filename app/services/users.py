"""Dashboard users: argon2 passwords, roles, limits on failed sign-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import InvalidInput, Unauthorized
from app.services import audit
from app.services.secrets import hash_password, verify_password
from app.services.throttle import LoginThrottle
from app.storage.db import Database
from app.storage.models import Role, User, utcnow
from app.storage.repositories import UserRepository

__all__ = ["LoginPolicy", "UserService", "UserView"]


@dataclass(frozen=True)
class LoginPolicy:
    """Limits of failed sign-ins (settings ``login_*``; see README)."""

    per_address: int = 5  # per username and address, in memory, per process
    per_account: int = 50  # per username from everywhere, in the database
    lock: timedelta = timedelta(minutes=15)  # the window of both counts, and the lock

    @property
    def message(self) -> str:
        """The one answer to every refused sign-in."""
        minutes = max(1, round(self.lock.total_seconds() / 60))
        return (
            f"wrong username or password; after {self.per_address} failed attempts, "
            f"sign-in pauses for {minutes} minutes"
        )


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
    def __init__(self, db: Database, policy: LoginPolicy | None = None) -> None:
        self.db = db
        self.policy = policy or LoginPolicy()
        self.throttle = LoginThrottle(self.policy.per_address, self.policy.lock.total_seconds())

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

    def login(self, username: str, password: str, *, address: str = "") -> UserView:
        """Check a password typed from ``address``, under two limits (:class:`LoginPolicy`):
        ``per_address`` failures for one username from one address pause that address
        for that username (in memory), and ``per_account`` failures from anywhere lock
        the account (in the database) for ``lock``.

        Unknown user, wrong password, disabled or locked account: the same answer, after
        the same work (one argon2 run; a paused address gets none, but its pause is
        keyed on the typed name whether or not an account has it, so it tells nothing).

        Raises:
            Unauthorized: any of those (one message for all, so accounts cannot be probed).
        """
        policy = self.policy
        refused = Unauthorized(policy.message)
        key = self.throttle.key(username, address)
        if not self.throttle.reserve(key):
            raise refused
        with self.db.read() as session:
            user = UserRepository(session).by_username(username)
            digest = user.password_hash if user is not None else None
        ok = verify_password(digest, password)  # one argon2 run, known user or not
        now = utcnow()
        view = None
        with self.db.write() as session:
            user = UserRepository(session).by_username_for_update(username)
            if user is None:
                pass
            elif user.locked_until is not None and user.locked_until > now:
                audit.record(session, f"user:{username}", "user.login_locked", "user", username)
            elif not ok or user.disabled:
                _count_failure(user, now, policy)
                if user.locked_until is not None and user.locked_until > now:
                    audit.record(session, "system", "user.locked", "user", username)
                audit.record(session, f"user:{username}", "user.login_failed", "user", username)
            else:
                user.failed_logins = 0
                user.locked_until = None
                user.last_login_at = now
                audit.record(session, f"user:{username}", "user.login", "user", username)
                view = _view(user)
        if view is None:
            raise refused
        self.throttle.clear(key)
        return view


def _count_failure(user: User, now: datetime, policy: LoginPolicy) -> None:
    """One more failure in the account's window (its row is locked by the caller).

    No column of its own holds the window's start (no schema change for it): a
    ``locked_until`` in the past is when the current count began, and a count older
    than ``policy.lock`` starts again. Reaching ``per_account`` locks the account.
    """
    start = user.locked_until
    if start is None or start + policy.lock <= now:
        user.failed_logins = 0
        user.locked_until = now
    user.failed_logins += 1
    if user.failed_logins >= policy.per_account:
        user.failed_logins = 0
        user.locked_until = now + policy.lock
