"""Audit trail: who did what to which object, when."""

from __future__ import annotations

import json
from typing import Any

from app.storage import Session
from app.storage.models import AuditEvent, utcnow
from app.storage.repositories import AuditRepository

__all__ = ["record"]


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    **detail: Any,
) -> None:
    """Add an audit event to the session's transaction (committed with the action).

    ``actor`` and ``object_id`` are cut to their columns' lengths (100 and 64 characters):
    a client's name may be 100 characters long, so "client:<name>" may not fit, and
    PostgreSQL refuses text longer than its column.
    """
    AuditRepository(session).add(
        AuditEvent(
            at=utcnow(),
            actor=actor[:100],
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            detail=json.dumps(detail, sort_keys=True, default=str) if detail else "",
        )
    )
