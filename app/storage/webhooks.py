"""SQL of platforms' webhooks: endpoints, their cursors and leases, deliveries."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.storage.models import Change, Client, Match, WebhookDelivery, WebhookEndpoint

__all__ = [
    "DeliveryRow",
    "EndpointRow",
    "HealthRow",
    "WebhookRepository",
]

RETRYING, DELIVERED, DEAD, REDELIVERED = "retrying", "delivered", "dead", "redelivered"


@dataclass(frozen=True)
class EndpointRow:
    id: int
    client_id: int
    client_name: str
    url: str
    events: tuple[str, ...]
    secret: bytes  # encrypted
    previous_secret: bytes | None  # encrypted; valid until previous_until
    previous_until: datetime | None
    cursor: int
    created_at: datetime
    next_attempt_at: datetime | None
    may_read: bool = True  # the client is not revoked and holds the feed scope


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    endpoint_id: int
    first_seq: int
    last_seq: int
    events: int
    status: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    latency_ms: int | None
    response_status: int | None
    last_error: str


@dataclass(frozen=True)
class HealthRow:
    """Deliveries of one client's endpoints created in a period, by status."""

    endpoints: int
    delivered: int
    failed: int  # attempts that failed (of delivered, retrying and dead batches)
    dead: int
    retrying: int
    latencies_ms: list[int]
    last_error: str
    last_error_at: datetime | None


def _endpoint(
    e: WebhookEndpoint, client_name: str, scopes: str = "feed", revoked: datetime | None = None
) -> EndpointRow:
    return EndpointRow(
        e.id,
        e.client_id,
        client_name,
        e.url,
        tuple(x for x in e.events.split(",") if x),
        bytes(e.secret),
        bytes(e.previous_secret) if e.previous_secret is not None else None,
        e.previous_until,
        e.cursor,
        e.created_at,
        e.next_attempt_at,
        revoked is None and "feed" in scopes.split(","),
    )


def _delivery(d: WebhookDelivery) -> DeliveryRow:
    return DeliveryRow(
        d.id,
        d.endpoint_id,
        d.first_seq,
        d.last_seq,
        d.events,
        d.status,
        d.attempts,
        d.created_at,
        d.last_attempt_at,
        d.next_attempt_at,
        d.delivered_at,
        d.latency_ms,
        d.response_status,
        d.last_error,
    )


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- endpoints ---------------------------------------------------------------------------

    def add(self, endpoint: WebhookEndpoint) -> int:
        self.s.add(endpoint)
        self.s.flush()
        return endpoint.id

    def head(self) -> int:
        """The change log's last sequence number (0 when empty)."""
        return int(self.s.scalar(select(func.max(Change.seq))) or 0)

    def _select(self) -> Select[WebhookEndpoint, str, str, datetime | None]:
        return select(WebhookEndpoint, Client.name, Client.scopes, Client.revoked_at).join(
            Client, Client.id == WebhookEndpoint.client_id
        )

    def get(self, endpoint_id: int) -> EndpointRow | None:
        row = self.s.execute(self._select().where(WebhookEndpoint.id == endpoint_id)).first()
        return _endpoint(*row) if row else None

    def list(self, client_id: int | None = None) -> builtins.list[EndpointRow]:
        stmt = self._select().order_by(WebhookEndpoint.id)
        if client_id is not None:
            stmt = stmt.where(WebhookEndpoint.client_id == client_id)
        return [_endpoint(*row) for row in self.s.execute(stmt)]

    def remove(self, endpoint_id: int) -> bool:
        self.s.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        gone = self.s.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
        return bool(gone.rowcount)  # type: ignore[attr-defined]

    def set_secrets(
        self, endpoint_id: int, secret: bytes, previous: bytes | None, until: datetime | None
    ) -> None:
        self.s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(secret=secret, previous_secret=previous, previous_until=until)
        )

    def rewind(self, endpoint_id: int, cursor: int) -> None:
        """Send again everything after ``cursor`` (never moves the cursor forward)."""
        self.s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.cursor > cursor)
            .values(cursor=cursor)
        )
        self.s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(next_attempt_at=None)
        )

    # -- the delivery worker's lease ------------------------------------------------------------

    def match_clients(self, match_ids: builtins.list[int]) -> dict[int, int | None]:
        """match id -> the client whose check made it (None: no client), for those that
        still exist."""
        if not match_ids:
            return {}
        rows = self.s.execute(
            select(Match.id, Match.client_id).where(Match.id.in_(sorted(set(match_ids))))
        )
        return {int(mid): cid for mid, cid in rows}

    def claim(self, holder: str, now: datetime, until: datetime, limit: int) -> builtins.list[int]:
        """Lease up to ``limit`` endpoints that have changes to get and are due.

        On PostgreSQL the candidate rows are locked ``FOR UPDATE SKIP LOCKED``: two replicas
        claiming at once take disjoint endpoints, neither waits for the other. SQLite
        serialises write transactions, so the lease columns alone decide there.
        """
        head = self.head()
        stmt = (
            select(WebhookEndpoint.id)
            .where(
                WebhookEndpoint.cursor < head,
                or_(
                    WebhookEndpoint.next_attempt_at.is_(None),
                    WebhookEndpoint.next_attempt_at <= now,
                ),
                or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
            )
            .order_by(WebhookEndpoint.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(self.s.scalars(stmt))
        if ids:
            self.s.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(ids))
                .values(lease_until=until, lease_holder=holder)
            )
        return ids

    def release(self, endpoint_id: int, holder: str) -> None:
        self.s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_holder == holder)
            .values(lease_until=None, lease_holder=None)
        )

    def advance(self, endpoint_id: int, cursor: int, next_attempt_at: datetime | None) -> None:
        """Move the cursor forward to ``cursor`` (never back) and set the next attempt."""
        self.s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.cursor < cursor)
            .values(cursor=cursor)
        )
        self.s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(next_attempt_at=next_attempt_at)
        )

    # -- deliveries ---------------------------------------------------------------------------

    def open_delivery(self, endpoint_id: int) -> WebhookDelivery | None:
        """The endpoint's batch still being retried, if any (ORM object: write sessions)."""
        return self.s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == RETRYING)
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        ).first()

    def add_delivery(self, delivery: WebhookDelivery) -> WebhookDelivery:
        self.s.add(delivery)
        self.s.flush()
        return delivery

    def delivery(self, delivery_id: int) -> DeliveryRow | None:
        d = self.s.get(WebhookDelivery, delivery_id)
        return _delivery(d) if d else None

    def set_delivery_status(self, delivery_id: int, status: str) -> None:
        self.s.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(status=status)
        )

    def deliveries(
        self, endpoint_id: int, limit: int, before: int | None = None
    ) -> builtins.list[DeliveryRow]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if before is not None:
            stmt = stmt.where(WebhookDelivery.id < before)
        stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit)
        return [_delivery(d) for d in self.s.scalars(stmt)]

    def health(self, client_id: int, start: datetime, end: datetime) -> HealthRow:
        endpoints = int(
            self.s.scalar(select(func.count()).where(WebhookEndpoint.client_id == client_id)) or 0
        )
        rows = self.s.execute(
            select(
                WebhookDelivery.status,
                WebhookDelivery.attempts,
                WebhookDelivery.latency_ms,
                WebhookDelivery.last_error,
                WebhookDelivery.last_attempt_at,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                and_(
                    WebhookEndpoint.client_id == client_id,
                    WebhookDelivery.created_at >= start,
                    WebhookDelivery.created_at < end,
                )
            )
        ).all()
        counts = {RETRYING: 0, DELIVERED: 0, DEAD: 0}
        failed = 0
        latencies: builtins.list[int] = []
        last_error, last_error_at = "", None
        for status, attempts, latency, error, at in rows:
            counts[status] = counts.get(status, 0) + 1
            failed += attempts - (1 if status == DELIVERED else 0)
            if status == DELIVERED and latency is not None:
                latencies.append(latency)
            if error and at is not None and (last_error_at is None or at > last_error_at):
                last_error, last_error_at = error, at
        return HealthRow(
            endpoints,
            counts[DELIVERED],
            failed,
            counts[DEAD],
            counts[RETRYING],
            latencies,
            last_error,
            last_error_at,
        )
