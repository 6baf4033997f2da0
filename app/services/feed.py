"""The hash feed: the change log for platforms that match on their own side."""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from app.index.signals import SignalStatus
from app.storage.db import Database
from app.storage.models import BankPolicy
from app.storage.repositories import BankRepository, ChangeRepository
from app.storage.secrets import FEED_GROUP, SecretRepository

__all__ = ["FeedItem", "FeedPage", "FeedService", "GroupTokens"]


class GroupTokens:
    """The opaque token that stands for a case outside the service (feed, quarantine list).

    An HMAC-SHA-256 of the internal case number under the deployment's secret
    (``deployment_secret``, made once by the schema migration, kept by backup and
    restore), cut to 128 bits: the same on every replica and across restarts, so a
    platform still sees which hashes belong together, but neither how many cases there
    are nor the number a case has anywhere else.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _secret(self) -> bytes:
        if self._key is None:
            with self._lock, self.db.read() as session:
                key = SecretRepository(session).get(FEED_GROUP)
                if key is None:
                    raise RuntimeError("no feed_group secret: run `hashbank db upgrade`")
                self._key = key
        return self._key

    def digest(self, message: bytes) -> bytes:
        """HMAC-SHA-256 of ``message`` under the deployment's secret (callers prefix their
        own domain, ``b"case:"``, ``b"hma-content:"``, so tokens of one never equal
        another's)."""
        # hmac.digest: OpenSSL's one-shot HMAC, a third of hmac.new's cost (a feed or
        # FetchHashes page makes up to 1,000 of these)
        return hmac.digest(self._secret(), message, "sha256")

    def mac(self, purpose: bytes, message: bytes) -> str:
        """A 64-bit HMAC of ``message`` for ``purpose`` under the same secret (other
        opaque tokens, such as StopNCII's page tokens: a forged one is told apart)."""
        return self.digest(purpose + b":" + message).hex()[:16]

    def of(self, case_id: int | None) -> str | None:
        """The token of the case numbered ``case_id``; None for hashes of no case."""
        if case_id is None:
            return None
        return self.digest(b"case:%d" % case_id).hex()[:32]


@dataclass(frozen=True)
class FeedItem:
    seq: int
    op: str  # add | update | remove
    at: datetime  # to the second
    signal_id: int
    group: str | None  # one opaque token per case: its stored hashes belong together
    type: str
    value: str | None  # None on tombstones: the platform removes by signal_id
    bank: str
    status: SignalStatus | Literal[""]  # the hash's status as of this change


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_after: int
    has_more: bool


class FeedService:
    """Pages of the change log as platforms see them.

    Entries of ``allow`` banks (hashes of other platforms' users' images, marked as not
    abuse) are left out unless ``include_allow_list``: a page may then hold fewer items
    than asked for, and ``next_after`` still moves past what was left out.
    """

    def __init__(
        self, db: Database, groups: GroupTokens | None = None, *, include_allow_list: bool = False
    ) -> None:
        self.db = db
        self.groups = groups or GroupTokens(db)
        self.include_allow_list = include_allow_list

    def page(self, after: int, limit: int) -> FeedPage:
        with self.db.read() as session:
            rows = ChangeRepository(session).after(after, limit + 1, feed_only=True)
            banks = {b.id: b for b in BankRepository(session).list()}
        more = len(rows) > limit
        rows = rows[:limit]
        hidden = set()
        if not self.include_allow_list:
            hidden = {i for i, b in banks.items() if b.policy == BankPolicy.ALLOW}
        items = [
            FeedItem(
                seq=r.seq,
                op=str(r.op),
                at=r.at.replace(microsecond=0),
                signal_id=int(r.signal_id or 0),
                group=self.groups.of(r.case_id),
                type=r.signal_type or "",
                value=None if str(r.op) == "remove" else r.value,
                bank=banks[r.bank_id].name if r.bank_id in banks else "",
                status=cast(SignalStatus, r.status or ""),
            )
            for r in rows
            if r.bank_id not in hidden
        ]
        return FeedPage(items, rows[-1].seq if rows else after, more)
