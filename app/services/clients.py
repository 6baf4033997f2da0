"""Platform clients: API keys (shown once, stored as SHA-256), scopes, revocation."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.services import audit
from app.services.secrets import hash_key, new_api_key
from app.storage import DatabaseError
from app.storage.db import Database
from app.storage.models import Client, utcnow
from app.storage.repositories import ClientRepository

log = logging.getLogger(__name__)

__all__ = [
    "KEY_CACHE_SIZE",
    "SCOPES",
    "UNKNOWN_KEY_CACHE_SIZE",
    "ClientService",
    "ClientView",
    "NewClient",
    "parse_scopes",
]

SCOPES = ("check", "report", "feed", "admin")
KEY_CACHE_SIZE = 10_000  # valid keys held per process (far more than platforms)
UNKNOWN_KEY_CACHE_SIZE = 10_000  # unknown or revoked keys, apart (see ClientService)


def parse_scopes(text: str | list[str]) -> list[str]:
    """Parse ``check,feed`` into a sorted scope list; unknown scopes are InvalidInput."""
    items = text.split(",") if isinstance(text, str) else text
    scopes = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
    return scopes


@dataclass(frozen=True)
class ClientView:
    id: int
    name: str
    scopes: frozenset[str]
    rate_limit: int | None
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    exact_distances: bool = False  # checks answer exact Hamming distances, not bands

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewClient:
    client: ClientView
    key: str


def _view(c: Client) -> ClientView:
    return ClientView(
        c.id,
        c.name,
        c.scope_set,
        c.rate_limit,
        c.key_prefix,
        c.created_at,
        c.revoked_at,
        c.last_used_at,
        c.exact_distances,
    )


class ClientService:
    """Create, list, revoke and authenticate API clients.

    Authentication is on the hot path of every check: keys are cached in memory for
    ``cache_seconds`` (a revocation made here takes effect at once in this process,
    and within ``cache_seconds`` in others), and "last used" is written in batches.
    """

    def __init__(self, db: Database, *, cache_seconds: float = 2.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        # Valid keys and unknown ones are cached apart, each bounded and evicting its
        # least recently used entry: spraying random keys only churns the negative
        # cache, and never pushes a platform's key out (its checks keep the cache's
        # speed, and keep working from memory while the database is down).
        self._cache: OrderedDict[str, tuple[float, ClientView]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._last_used: dict[int, datetime] = {}
        self._lock = threading.Lock()

    def create(
        self,
        name: str,
        scopes: list[str],
        *,
        actor: str,
        rate_limit: int | None = None,
        exact_distances: bool = False,
    ) -> NewClient:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a client name has 1 to 100 characters")
        if rate_limit is not None and rate_limit < 1:
            raise InvalidInput("a rate limit is a positive number of requests per second")
        key = new_api_key()
        with self.db.write() as session:
            client = ClientRepository(session).add(
                Client(
                    name=name,
                    key_hash=hash_key(key),
                    key_prefix=key[:10],
                    scopes=",".join(parse_scopes(scopes)),
                    rate_limit=rate_limit,
                    exact_distances=exact_distances,
                    created_at=utcnow(),
                )
            )
            audit.record(
                session,
                actor,
                "client.created",
                "client",
                client.name,
                scopes=client.scopes,
                exact_distances=exact_distances,
            )
            view = _view(client)
        return NewClient(view, key)

    def list(self) -> list[ClientView]:
        with self.db.read() as session:
            return [_view(c) for c in ClientRepository(session).list()]

    def revoke(self, name_or_id: str | int, *, actor: str) -> ClientView:
        with self.db.write() as session:
            client = _client(ClientRepository(session), name_or_id)
            if client.revoked_at is None:
                client.revoked_at = utcnow()
                audit.record(session, actor, "client.revoked", "client", client.name)
            view = _view(client)
            key_hash = client.key_hash
        self._forget(key_hash)
        return view

    def _cached(self, digest: str, now: float) -> tuple[float, ClientView | None] | None:
        """The cache entry of a key digest (fresh or stale), or None when there is none."""
        with self._lock:
            entry = self._cache.get(digest)
            if entry is not None:
                self._cache.move_to_end(digest)
                return entry
            at = self._unknown.get(digest)
            return (at, None) if at is not None else None

    def _remember(self, digest: str, now: float, client: ClientView | None) -> None:
        with self._lock:
            if client is None:
                self._cache.pop(digest, None)
                cache: OrderedDict[str, Any] = self._unknown
                cache[digest] = now
                limit = UNKNOWN_KEY_CACHE_SIZE
            else:
                self._unknown.pop(digest, None)
                cache = self._cache
                cache[digest] = (now, client)
                limit = KEY_CACHE_SIZE
            cache.move_to_end(digest)
            while len(cache) > limit:
                cache.popitem(last=False)

    def set_exact_distances(self, name_or_id: str | int, on: bool, *, actor: str) -> ClientView:
        """Let a client's checks answer exact distances (or stop); other processes follow
        within their key cache's lifetime."""
        with self.db.write() as session:
            client = _client(ClientRepository(session), name_or_id)
            if client.exact_distances != on:
                client.exact_distances = on
                audit.record(session, actor, "client.exact_distances", "client", client.name, on=on)
            view = _view(client)
            key_hash = client.key_hash
        self._forget(key_hash)
        return view

    def _forget(self, key_hash: str) -> None:
        """Drop a key from this process's cache: its next use reads the database."""
        with self._lock:
            self._cache.pop(key_hash, None)

    def authenticate(self, key: str | None, scope: str) -> ClientView:
        """The client owning ``key`` if it is valid and has ``scope``.

        Raises:
            Unauthorized: no key, an unknown key or a revoked key.
            Forbidden: a valid key without the scope.
        """
        if not key:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cached(digest, now)
        if cached is not None and now - cached[0] < self.cache_seconds:
            client = cached[1]
        else:
            try:
                with self.db.read() as session:
                    row = ClientRepository(session).by_key_hash(digest)
                    client = _view(row) if row is not None else None
            except DatabaseError:
                if cached is None:
                    raise
                # database unreachable: a key known a moment ago stays valid meanwhile,
                # so checks keep being answered from memory during a database restart
                log.warning("database unreachable: using the cached API key")
                return self._admit(cached[1], scope)
            self._remember(digest, now, client)
        return self._admit(client, scope)

    def authenticate_cached(self, key: str | None, scope: str) -> ClientView | None:
        """Like :meth:`authenticate` from the in-memory cache only (no I/O, so it can run
        on the event loop); None when the key is not cached or its entry is stale."""
        if not key:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        now = time.monotonic()
        cached = self._cached(hash_key(key), now)
        if cached is None or now - cached[0] >= self.cache_seconds:
            return None
        return self._admit(cached[1], scope)

    def _admit(self, client: ClientView | None, scope: str) -> ClientView:
        if client is None or client.revoked_at is not None:
            raise Unauthorized("unknown or revoked API key")
        if scope not in client.scopes:
            raise Forbidden(f"this key lacks the {scope!r} scope")
        self._last_used[client.id] = utcnow()
        return client

    def flush_last_used(self) -> None:
        """Write the batched "last used" times (called periodically and at shutdown)."""
        with self._lock:
            pending, self._last_used = self._last_used, {}
        if pending:
            with self.db.write() as session:
                ClientRepository(session).touch(pending)


def _client(repo: ClientRepository, name_or_id: str | int) -> Client:
    """The client of that id (int) or name (str).

    Raises:
        NotFound: there is none.
    """
    client = repo.get(name_or_id) if isinstance(name_or_id, int) else repo.by_name(name_or_id)
    if client is None:
        raise NotFound(f"no client {name_or_id!r}")
    return client
