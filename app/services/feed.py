"""The hash feed: the change log for platforms that match on their own side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.storage.db import Database
from app.storage.repositories import BankRepository, ChangeRepository

__all__ = ["FeedItem", "FeedPage", "FeedService"]


@dataclass(frozen=True)
class FeedItem:
    seq: int
    op: str  # add | update | remove
    at: datetime
    signal_id: int
    group: int | None  # one group per case: its stored hashes belong together
    type: str
    value: str | None  # None on tombstones: the platform removes by signal_id
    bank: str
    status: str


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_after: int
    has_more: bool


class FeedService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def page(self, after: int, limit: int) -> FeedPage:
        with self.db.read() as session:
            rows = ChangeRepository(session).after(after, limit + 1, feed_only=True)
            banks = {b.id: b.name for b in BankRepository(session).list()}
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            FeedItem(
                seq=r.seq,
                op=str(r.op),
                at=r.at,
                signal_id=int(r.signal_id or 0),
                group=r.case_id,
                type=r.signal_type or "",
                value=None if str(r.op) == "remove" else r.value,
                bank=banks.get(r.bank_id or 0, ""),
                status=r.status or "",
            )
            for r in rows
        ]
        return FeedPage(items, rows[-1].seq if rows else after, more)
