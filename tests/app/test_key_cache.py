"""The API-key cache cannot be flushed by spraying random keys: unknown keys are cached
apart, both caches bounded, so a platform's valid key stays served from memory."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import update

from app.errors import Unauthorized
from app.services.clients import KEY_CACHE_SIZE, UNKNOWN_KEY_CACHE_SIZE, ClientService
from app.storage.db import Database
from app.storage.models import Client, utcnow
from tests.servers import fresh_database_url


def test_spraying_random_keys_does_not_evict_a_valid_key(tmp_path: Path) -> None:
    db = Database(fresh_database_url(tmp_path))
    db.upgrade()
    try:
        clients = ClientService(db, cache_seconds=3600)
        new = clients.create("platform", ["check"], actor="test")
        assert clients.authenticate(new.key, "check").id == new.client.id  # now cached
        # more than either cache holds (the old single cache was cleared past 10,000)
        spray = max(UNKNOWN_KEY_CACHE_SIZE, KEY_CACHE_SIZE) + 1_000
        for _ in range(spray):
            with pytest.raises(Unauthorized):
                clients.authenticate("hbk_" + secrets.token_urlsafe(32), "check")
        # revoked behind the service's back: only a cache hit can still admit the key
        with db.write() as session:
            session.execute(
                update(Client).where(Client.id == new.client.id).values(revoked_at=utcnow())
            )
        cached = clients.authenticate_cached(new.key, "check")
        assert cached is not None and cached.id == new.client.id
        assert clients.authenticate(new.key, "check").id == new.client.id
        # and the unknown keys were bounded, not kept without end
        assert len(clients._unknown) == UNKNOWN_KEY_CACHE_SIZE
    finally:
        db.dispose()
