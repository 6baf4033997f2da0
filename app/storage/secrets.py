"""The deployment's own secrets (table ``deployment_secret``), read by name."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.models import DeploymentSecret

__all__ = ["FEED_GROUP", "WEBHOOK_KEY", "SecretRepository"]

FEED_GROUP = "feed_group"  # keys the feed's opaque group tokens (made by migration 0007)
# encrypts webhooks' signing secrets unless HASHBANK_WEBHOOK_SECRET_KEY is set (migration 0011)
WEBHOOK_KEY = "webhook_key"


class SecretRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, name: str) -> bytes | None:
        """The secret called ``name``, or None if this database has none."""
        value = self.s.scalar(select(DeploymentSecret.value).where(DeploymentSecret.name == name))
        return bytes(value) if value is not None else None
