"""The audit log as moderators read it: filtered pages, the actions, a CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.services.views.paging import Page, row_offset
from app.storage.db import Database
from app.storage.repositories import CaseRepository, DashboardRepository
from app.storage.rows import AuditEventRow

__all__ = ["AuditFilter", "AuditRow", "AuditViews", "audit_row"]

EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]
    case_id: int | None = None  # the case's internal id when the object is a known case


def audit_row(e: AuditEventRow) -> AuditRow:
    try:
        detail = json.loads(e.detail) if e.detail else {}
    except ValueError:
        detail = {"detail": e.detail}
    if not isinstance(detail, dict):
        detail = {"detail": detail}
    return AuditRow(e.id, e.at, e.actor, e.action, e.object_type, e.object_id, detail)


@dataclass(frozen=True)
class AuditFilter:
    """Audit log filters: actor (substring), action (exact), a date range (UTC days)."""

    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None  # inclusive

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        lo = datetime.combine(self.since, time(), UTC) if self.since else None
        hi = datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None
        return lo, hi


class AuditViews:
    """Pages of the audit log, its distinct actions, and its CSV export."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self, filters: AuditFilter, *, newest_first: bool, page: int, per_page: int
    ) -> Page[AuditRow]:
        lo, hi = filters.bounds()
        with self.db.read() as session:
            rows, total = DashboardRepository(session).audit_page(
                actor=filters.actor or None,
                action=filters.action or None,
                since=lo,
                until=hi,
                descending=newest_first,
                offset=row_offset(page, per_page),
                limit=per_page,
            )
            cases = CaseRepository(session).ids_by_public_id(
                {e.object_id for e in rows if e.object_type == "case"}
            )
            items = [
                replace(audit_row(e), case_id=cases.get(e.object_id))
                if e.object_type == "case"
                else audit_row(e)
                for e in rows
            ]
            return Page(items, total, page, per_page)

    def actions(self) -> list[str]:
        with self.db.read() as session:
            return DashboardRepository(session).audit_actions()

    def csv(self, filters: AuditFilter, *, newest_first: bool) -> Iterator[str]:
        """The filtered audit log as CSV lines (at most 50,000 events per export)."""
        lo, hi = filters.bounds()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", "at", "actor", "action", "object_type", "object_id", "detail"])
        yield _drain(buffer)
        batch = 5_000
        for offset in range(0, EXPORT_LIMIT, batch):
            with self.db.read() as session:
                rows, _ = DashboardRepository(session).audit_page(
                    actor=filters.actor or None,
                    action=filters.action or None,
                    since=lo,
                    until=hi,
                    descending=newest_first,
                    offset=offset,
                    limit=batch,
                )
            for e in rows:
                writer.writerow(
                    [
                        e.id,
                        e.at.isoformat(),
                        *(_cell(v) for v in (e.actor, e.action, e.object_type, e.object_id)),
                        _cell(e.detail),
                    ]
                )
            yield _drain(buffer)
            if len(rows) < batch:
                return


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
