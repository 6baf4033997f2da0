"""The webhook delivery worker: follows the change log and POSTs each endpoint its batches.

Every server process runs one. Each round it **leases** the endpoints that have changes
to get and are due (``WebhookRepository.claim``: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two replicas never take the same endpoint; SQLite serialises the claim),
and sends each leased endpoint one batch in a thread of its own: a slow or dead receiver
holds one thread for at most the timeout, never another endpoint's delivery. The cursor
moves only after a 2xx is recorded, so a crash (``kill -9``) between the POST and the
record sends that batch again: at least once, always in feed order. A lease a crashed
replica held runs out after ``LEASE``, and another replica takes the endpoint over.

It wakes on PostgreSQL's NOTIFY of a committed change (``app.storage.notify``), and polls
every ``HASHBANK_WEBHOOK_POLL_SECONDS`` as the safety net (SQLite: polling only).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from app.errors import InvalidInput
from app.services.feed import GroupTokens
from app.services.webhook_crypto import signature_header
from app.services.webhook_sender import Outcome, Sender
from app.services.webhooks import WebhookService
from app.storage.db import Database
from app.storage.models import BankPolicy, ChangeOp, WebhookDelivery, utcnow
from app.storage.notify import ChangeListener
from app.storage.repositories import BankRepository, ChangeRepository
from app.storage.rows import BankRow, ChangeRow
from app.storage.webhooks import DEAD, DELIVERED, RETRYING, EndpointRow, WebhookRepository

__all__ = ["LEASE", "DeliveryConfig", "WebhookWorker", "event_of"]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=20)  # > the 5 s timeout plus the record: a live lease never runs out
MAX_BACKOFF = 3600.0  # seconds between two attempts, at most
_JITTER = secrets.SystemRandom()  # app/ uses no `random` (tests/app/test_abuse.py)
REVOKED = "refused: the client is revoked or lacks the feed scope"


@dataclass(frozen=True)
class DeliveryConfig:
    batch_size: int = 100
    timeout: float = 5.0
    retry_for: timedelta = timedelta(hours=24)
    first_backoff: float = 1.0
    poll_seconds: float = 1.0
    concurrency: int = 8
    include_allow_list: bool = False


def event_type(change: ChangeRow) -> str | None:
    """The webhook event a change is (None: not one, such as a bank's settings)."""
    if change.op == ChangeOp.ADD:
        return "hash.added"
    if change.op == ChangeOp.UPDATE:
        return "hash.status_changed"
    if change.op == ChangeOp.REMOVE:
        return "hash.withdrawn" if change.status == "withdrawn" else "hash.removed"
    if change.op == ChangeOp.MATCH:
        return "match.confirmed"
    return None


def event_of(change: ChangeRow, kind: str, bank: str, groups: GroupTokens) -> dict[str, Any]:
    """One event of a delivery's body: hashes and opaque ids only (the case is its feed
    ``group`` token, never its id or PIN)."""
    event: dict[str, Any] = {
        "type": kind,
        "seq": change.seq,
        "at": change.at.replace(microsecond=0).isoformat(),
        "signal_id": change.signal_id,
        "group": groups.of(change.case_id),
        "signal_type": change.signal_type,
        "value": change.value,
        "bank": bank,
        "status": change.status or "",
    }
    if change.op == ChangeOp.MATCH:
        event["match_id"] = change.match_id  # the id the platform's check answer gave it
    return event


def backoff(attempts: int, first: float) -> float:
    """Seconds before the next attempt: doubling from ``first``, capped at an hour, with
    full jitter in its upper half (receivers coming back are not hit all at once)."""
    delay = min(first * 2 ** max(attempts - 1, 0), MAX_BACKOFF)
    return float(delay * _JITTER.uniform(0.5, 1.0))


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        service: WebhookService,
        groups: GroupTokens,
        config: DeliveryConfig,
        sender: Sender | None = None,
    ) -> None:
        self.db = db
        self.service = service
        self.groups = groups
        self.config = config
        self.sender = sender or Sender(config.timeout)
        self.holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._listener = None if db.sqlite else ChangeListener(db.url, self.wake)

    # -- the loop -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        if self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sender.close()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.poll_seconds)
            self._wake.clear()
            try:
                self.run_once()
            except Exception:
                log.warning("webhook round failed", exc_info=True)
                self._stop.wait(1.0)

    def run_once(self) -> list[int]:
        """Lease the due endpoints this process has room for and start their batches.

        Returns the endpoints leased."""
        with self._busy_lock:
            room = self.config.concurrency - len(self._busy)
        if room <= 0:
            return []
        now = utcnow()
        with self.db.write() as session:
            ids = WebhookRepository(session).claim(self.holder, now, now + LEASE, room)
        for endpoint_id in ids:
            with self._busy_lock:
                self._busy.add(endpoint_id)
            self._pool.submit(self._job, endpoint_id)
        return ids

    def _job(self, endpoint_id: int) -> None:
        try:
            self.deliver(endpoint_id)
        except Exception:
            log.warning("webhook delivery failed", exc_info=True, extra={"endpoint": endpoint_id})
            with self.db.write() as session:
                WebhookRepository(session).release(endpoint_id, self.holder)
        finally:
            with self._busy_lock:
                self._busy.discard(endpoint_id)
            self._wake.set()  # more changes may wait

    # -- one batch ------------------------------------------------------------------------------

    def deliver(self, endpoint_id: int) -> Outcome | None:
        """Send a leased endpoint its next batch and record the outcome; releases the lease.

        Returns the outcome, or None when there was nothing to send (the cursor then moves
        past changes the endpoint does not subscribe to)."""
        with self.db.read() as session:
            repo = WebhookRepository(session)
            row = repo.get(endpoint_id)
            changes = (
                ChangeRepository(session).after(row.cursor, self.config.batch_size)
                if row is not None
                else []
            )
            banks = {b.id: b for b in BankRepository(session).list()}
            owners = repo.match_clients(
                [c.match_id for c in changes if c.op == ChangeOp.MATCH and c.match_id]
            )
        if row is None or not changes:
            with self.db.write() as session:
                WebhookRepository(session).release(endpoint_id, self.holder)
            return None
        events = self._events(changes, set(row.events), banks, row.client_id, owners)
        last_seq = changes[-1].seq
        if not events:
            with self.db.write() as session:
                repo = WebhookRepository(session)
                repo.advance(endpoint_id, last_seq, None)
                repo.release(endpoint_id, self.holder)
            return None
        body = orjson.dumps({"events": events})
        if row.may_read:
            outcome = self._post(row.url, row, body, endpoint_id, changes[0].seq, last_seq)
        else:  # revoked, or its feed scope taken away since: nothing leaves, retried later
            outcome = Outcome(
                False, None, 0, "refused: the client is revoked or lacks the feed scope"
            )
        self._record(endpoint_id, changes[0].seq, last_seq, len(events), outcome)
        return outcome

    def _events(
        self,
        changes: list[ChangeRow],
        wanted: set[str],
        banks: dict[int, BankRow],
        client_id: int,
        owners: dict[int, int | None],
    ) -> list[dict[str, Any]]:
        out = []
        for change in changes:
            kind = event_type(change)
            if kind is None or kind not in wanted:
                continue
            if change.op == ChangeOp.MATCH and owners.get(change.match_id or 0) != client_id:
                continue  # another platform's match: theirs alone
            bank = banks.get(change.bank_id) if change.bank_id is not None else None
            allow = bank is not None and bank.policy == BankPolicy.ALLOW
            if allow and not self.config.include_allow_list:
                continue
            out.append(event_of(change, kind, bank.name if bank else "", self.groups))
        return out

    def _post(
        self, url: str, row: EndpointRow, body: bytes, endpoint_id: int, first: int, last: int
    ) -> Outcome:
        try:
            # resolved and checked again now: DNS may have changed since the endpoint was
            # added; the POST goes to the address checked here
            target = self.service.policy.check(url)
            secrets_ = self.service.secrets_of(row, utcnow())
        except InvalidInput as exc:
            return Outcome(False, None, 0, f"refused: {exc.detail}"[:300])
        except ValueError as exc:
            return Outcome(False, None, 0, str(exc))
        t = int(time.time())
        headers = {
            "X-Hashbank-Signature": signature_header(secrets_, t, body),
            "X-Hashbank-Delivery": f"{endpoint_id}-{first}-{last}",
        }
        return self.sender.post(target, body, headers)

    def _record(
        self, endpoint_id: int, first: int, last: int, count: int, outcome: Outcome
    ) -> None:
        now = utcnow()
        with self.db.write() as session:
            repo = WebhookRepository(session)
            delivery = repo.open_delivery(endpoint_id)
            if delivery is None:
                delivery = repo.add_delivery(
                    WebhookDelivery(
                        endpoint_id=endpoint_id,
                        first_seq=first,
                        last_seq=last,
                        events=count,
                        status=RETRYING,
                        attempts=0,
                        created_at=now,
                        last_error="",
                    )
                )
            delivery.first_seq = min(delivery.first_seq, first)
            delivery.last_seq, delivery.events = last, count
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.latency_ms = outcome.latency_ms
            delivery.response_status = outcome.status
            if outcome.ok:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                    DELIVERED,
                    now,
                    None,
                )
                repo.advance(endpoint_id, last, None)
            else:
                delivery.last_error = outcome.error[:300]
                if now - delivery.created_at >= self.config.retry_for:
                    # a dead letter: the endpoint moves on; an admin may redeliver it
                    delivery.status, delivery.next_attempt_at = DEAD, None
                    repo.advance(endpoint_id, last, None)
                    log.warning("webhook dead-lettered", extra={"endpoint": endpoint_id})
                else:
                    wait = backoff(delivery.attempts, self.config.first_backoff)
                    delivery.next_attempt_at = now + timedelta(seconds=wait)
                    repo.advance(endpoint_id, 0, delivery.next_attempt_at)
            repo.release(endpoint_id, self.holder)
