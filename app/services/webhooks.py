"""Platforms' webhooks: endpoints (add, list, remove, rotate), deliveries, redelivery, health.

The delivery itself is :mod:`app.services.webhook_worker`; what a receiver gets and how it
checks the signature is in docs/integrations.md ("Webhooks").
"""

from __future__ import annotations

import builtins
import statistics
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import InvalidInput, NotFound
from app.services import audit
from app.services.webhook_crypto import SecretBox, new_secret
from app.services.webhook_urls import UrlPolicy
from app.storage import Session
from app.storage.db import Database
from app.storage.models import WebhookEndpoint, utcnow
from app.storage.repositories import ClientRepository
from app.storage.secrets import WEBHOOK_KEY, SecretRepository
from app.storage.webhooks import (
    DEAD,
    REDELIVERED,
    DeliveryRow,
    EndpointRow,
    WebhookRepository,
)

__all__ = [
    "EVENT_TYPES",
    "EndpointView",
    "NewEndpoint",
    "WebhookService",
    "parse_events",
]

# What a change of the log is called in a delivery (``ChangeOp`` and its status);
# ``match.confirmed`` goes only to the endpoints of the platform whose match it was
EVENT_TYPES = (
    "hash.added",
    "hash.status_changed",
    "hash.withdrawn",
    "hash.removed",
    "match.confirmed",
)
MAX_ENDPOINTS_PER_CLIENT = 10
FEED_SCOPE = "feed"  # what a client needs to get deliveries: they carry the feed's values
ROTATION_OVERLAP = timedelta(hours=24)  # how long the previous secret still signs


def parse_events(events: str | Iterable[str] | None) -> tuple[str, ...]:
    """The event types asked for (None or empty: every type).

    Raises:
        InvalidInput: an unknown event type.
    """
    if events is None:
        return EVENT_TYPES
    items = events.split(",") if isinstance(events, str) else list(events)
    names = [e.strip() for e in items if e.strip()]
    if not names:
        return EVENT_TYPES
    unknown = sorted(set(names) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}",
            known=list(EVENT_TYPES),
        )
    return tuple(e for e in EVENT_TYPES if e in names)


@dataclass(frozen=True)
class EndpointView:
    id: int
    client: str
    url: str
    events: list[str]
    created_at: datetime
    cursor: int
    rotating: bool  # a previous secret still signs


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: EndpointView
    secret: str  # shown once


def _view(row: EndpointRow, now: datetime) -> EndpointView:
    return EndpointView(
        id=row.id,
        client=row.client_name,
        url=row.url,
        events=list(row.events),
        created_at=row.created_at,
        cursor=row.cursor,
        rotating=row.previous_secret is not None
        and row.previous_until is not None
        and row.previous_until > now,
    )


class WebhookService:
    """Endpoints and their deliveries, for the API, the CLI and the dashboard."""

    def __init__(self, db: Database, policy: UrlPolicy, secret_key: str | None = None) -> None:
        self.db = db
        self.policy = policy
        self._secret_key = secret_key.encode() if secret_key else None
        self._box: SecretBox | None = None
        self._lock = threading.Lock()

    def box(self) -> SecretBox:
        """What seals and opens signing secrets (see :mod:`app.services.webhook_crypto`)."""
        if self._box is None:
            with self._lock:
                key = self._secret_key
                if key is None:
                    with self.db.read() as session:
                        key = SecretRepository(session).get(WEBHOOK_KEY)
                    if key is None:
                        raise RuntimeError("no webhook_key secret: run `hashbank db upgrade`")
                self._box = SecretBox(key)
        return self._box

    def add(
        self, client: str | int, url: str, events: str | Iterable[str] | None, *, actor: str
    ) -> NewEndpoint:
        """Give ``client`` (name or id) an endpoint; it gets the changes from now on.

        Returns the endpoint and its signing secret (shown this once).

        Raises:
            InvalidInput: a bad URL (scheme, host, port, length), a refused address, an
                unknown event type, too many endpoints for the client, or a client that is
                revoked or lacks the ``feed`` scope (deliveries carry hash values, which
                only that scope may read).
            NotFound: no such client.
        """
        kinds = parse_events(events)
        self.policy.check(url)  # before anything is written: 422 with the rule broken
        secret = new_secret()
        sealed = self.box().seal(secret)
        with self.db.write() as session:
            clients = ClientRepository(session)
            row = clients.get(client) if isinstance(client, int) else clients.by_name(client)
            if row is None:
                raise NotFound(f"no client {client!r}")
            if row.revoked_at is not None:
                raise InvalidInput(f"client {row.name!r} is revoked")
            if FEED_SCOPE not in row.scope_set:
                raise InvalidInput(
                    f"client {row.name!r} lacks the {FEED_SCOPE} scope: webhook deliveries "
                    "carry hash values, which only that scope may read (docs/security.md)"
                )
            repo = WebhookRepository(session)
            if len(repo.list(row.id)) >= MAX_ENDPOINTS_PER_CLIENT:
                raise InvalidInput(
                    f"a client has at most {MAX_ENDPOINTS_PER_CLIENT} webhook endpoints"
                )
            endpoint_id = repo.add(
                WebhookEndpoint(
                    client_id=row.id,
                    url=url,
                    events=",".join(kinds),
                    secret=sealed,
                    cursor=repo.head(),
                    created_at=utcnow(),
                )
            )
            audit.record(
                session, actor, "webhook.add", "webhook", endpoint_id, client=row.name, url=url
            )
            view = repo.get(endpoint_id)
        assert view is not None
        return NewEndpoint(_view(view, utcnow()), secret)

    def list(self, client: str | int | None = None) -> builtins.list[EndpointView]:
        with self.db.read() as session:
            client_id = self._client_id(session, client) if client is not None else None
            rows = WebhookRepository(session).list(client_id)
        now = utcnow()
        return [_view(r, now) for r in rows]

    def get(self, endpoint_id: int) -> EndpointView:
        """Raises: NotFound."""
        with self.db.read() as session:
            row = WebhookRepository(session).get(endpoint_id)
        if row is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return _view(row, utcnow())

    def remove(self, endpoint_id: int, *, actor: str) -> None:
        """Delete an endpoint and its delivery history. Raises: NotFound."""
        with self.db.write() as session:
            if not WebhookRepository(session).remove(endpoint_id):
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            audit.record(session, actor, "webhook.remove", "webhook", endpoint_id)

    def rotate(self, endpoint_id: int, *, actor: str) -> str:
        """A new signing secret (returned, shown once); the current one keeps signing
        beside it for 24 hours, so receivers can switch without losing a delivery.

        Raises: NotFound."""
        secret = new_secret()
        sealed = self.box().seal(secret)
        with self.db.write() as session:
            repo = WebhookRepository(session)
            row = repo.get(endpoint_id)
            if row is None:
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            repo.set_secrets(endpoint_id, sealed, row.secret, utcnow() + ROTATION_OVERLAP)
            audit.record(session, actor, "webhook.rotate", "webhook", endpoint_id)
        return secret

    def secrets_of(self, row: EndpointRow, now: datetime) -> builtins.list[str]:
        """The secrets that sign a delivery now: the current one, then the previous one
        while the rotation lasts."""
        box = self.box()
        out = [box.open(row.secret)]
        if row.previous_secret is not None and row.previous_until and row.previous_until > now:
            out.append(box.open(row.previous_secret))
        return out

    def deliveries(
        self, endpoint_id: int, limit: int = 50, before: int | None = None
    ) -> builtins.list[DeliveryRow]:
        """The endpoint's latest deliveries, newest first. Raises: NotFound."""
        with self.db.read() as session:
            repo = WebhookRepository(session)
            if repo.get(endpoint_id) is None:
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            rows = repo.deliveries(endpoint_id, limit, before)
        return rows

    def redeliver(self, endpoint_id: int, delivery_id: int, *, actor: str) -> None:
        """Send the changes of a delivery, and everything after it, again (in order: the
        endpoint's cursor goes back to just before the delivery's first change).

        Raises: NotFound (no such endpoint, or the delivery is not one of its own)."""
        with self.db.write() as session:
            repo = WebhookRepository(session)
            delivery = repo.delivery(delivery_id)
            if delivery is None or delivery.endpoint_id != endpoint_id:
                raise NotFound(f"no delivery {delivery_id} of webhook endpoint {endpoint_id}")
            repo.rewind(endpoint_id, delivery.first_seq - 1)
            if delivery.status == DEAD:
                repo.set_delivery_status(delivery_id, REDELIVERED)
            audit.record(
                session,
                actor,
                "webhook.redeliver",
                "webhook",
                endpoint_id,
                delivery=delivery_id,
                from_seq=delivery.first_seq,
            )

    def webhook_health(
        self, client_id: int, period: tuple[datetime, datetime]
    ) -> dict[str, object]:
        """Delivery health of one client's endpoints over ``period`` (start, end), counted
        over the deliveries created in it.

        Returns ``{"endpoints": int, "delivered": int, "failed": int (failed attempts),
        "dead_lettered": int, "retrying": int, "median_latency_ms": int | None,
        "last_error": str | None, "last_error_at": datetime | None}``.
        """
        start, end = period
        with self.db.read() as session:
            h = WebhookRepository(session).health(client_id, start, end)
        return {
            "endpoints": h.endpoints,
            "delivered": h.delivered,
            "failed": h.failed,
            "dead_lettered": h.dead,
            "retrying": h.retrying,
            "median_latency_ms": round(statistics.median(h.latencies_ms))
            if h.latencies_ms
            else None,
            "last_error": h.last_error or None,
            "last_error_at": h.last_error_at,
        }

    @staticmethod
    def _client_id(session: Session, client: str | int) -> int:
        clients = ClientRepository(session)
        row = clients.get(client) if isinstance(client, int) else clients.by_name(client)
        if row is None:
            raise NotFound(f"no client {client!r}")
        return row.id
