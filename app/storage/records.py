"""The SQL of the platform records: checks per client and day, and each client's matches.

:class:`app.services.records.RecordService` computes the figures from what these
queries hand up (plain tuples and frozen rows, never ORM objects).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.storage.models import CheckDay, Client, Feedback, Match

__all__ = ["MatchFact", "RecordRepository"]


@dataclass(frozen=True, slots=True)
class MatchFact:
    """What a record needs of one match row: no hash, no case."""

    client_id: int
    created_at: datetime
    attempt: bool
    feedback: str | None
    feedback_at: datetime | None


class RecordRepository:
    """Check counts per client and day, and the matches of a period."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def add_checks(self, counts: Mapping[tuple[int, str], int]) -> None:
        """Add ``counts`` ((client id, ``YYYY-MM-DD``) -> checks) to the stored counts.

        One ``INSERT ... ON CONFLICT DO UPDATE`` per row, so that replicas adding to the
        same day at once never lose a count (both engines have it)."""
        dialect = self.s.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        table = CheckDay.__table__
        assert isinstance(table, Table)
        for (client_id, day), n in sorted(counts.items()):
            stmt = insert(table).values(client_id=client_id, day=day, checks=n)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.client_id, table.c.day],
                set_={"checks": table.c.checks + stmt.excluded.checks},
            )
            self.s.execute(stmt)

    def checks_per_day(
        self, first_day: str, end_day: str, client_id: int | None = None
    ) -> dict[tuple[int, str], int]:
        """(client id, day) -> checks for days in ``[first_day, end_day)``."""
        stmt = select(CheckDay.client_id, CheckDay.day, CheckDay.checks).where(
            CheckDay.day >= first_day, CheckDay.day < end_day
        )
        if client_id is not None:
            stmt = stmt.where(CheckDay.client_id == client_id)
        return {(int(c), str(d)): int(n) for c, d, n in self.s.execute(stmt).all()}

    def last_check_days(self) -> dict[int, str]:
        """client id -> the last day it checked anything (clients that never did: absent)."""
        rows = self.s.execute(
            select(CheckDay.client_id, func.max(CheckDay.day))
            .where(CheckDay.checks > 0)
            .group_by(CheckDay.client_id)
        ).all()
        return {int(c): str(d) for c, d in rows}

    def matches(
        self, start: datetime, end: datetime, client_id: int | None = None
    ) -> Iterator[MatchFact]:
        """The matches created in ``[start, end)`` by clients (one client's, or every
        client's), read in batches (the ``(client_id, created_at)`` index serves it)."""
        stmt = select(
            Match.client_id, Match.created_at, Match.attempt, Match.feedback, Match.feedback_at
        ).where(Match.client_id.is_not(None), Match.created_at >= start, Match.created_at < end)
        if client_id is not None:
            stmt = stmt.where(Match.client_id == client_id)
        for c, at, attempt, feedback, feedback_at in self.s.execute(
            stmt.execution_options(yield_per=10_000)
        ):
            yield MatchFact(
                int(c or 0),
                at,
                bool(attempt),
                str(feedback) if feedback is not None else None,
                feedback_at,
            )

    def clients(self) -> list[tuple[int, str, datetime, datetime | None, datetime | None]]:
        """Every client: (id, name, created, revoked, last used), by name."""
        rows = self.s.execute(
            select(
                Client.id, Client.name, Client.created_at, Client.revoked_at, Client.last_used_at
            ).order_by(Client.name)
        ).all()
        return [(int(i), str(n), c, r, u) for i, n, c, r, u in rows]

    def case_platforms(self, case_id: int) -> list[tuple[str, int, int]]:
        """Per platform that met one case's images: (name, re-upload attempts, matches
        it said it blocked), by name."""
        blocked = func.sum(case((Match.feedback == Feedback.BLOCKED, 1), else_=0))
        attempts = func.sum(case((Match.attempt, 1), else_=0))
        rows = self.s.execute(
            select(Client.name, attempts, blocked)
            .join(Client, Client.id == Match.client_id)
            .where(Match.case_id == case_id)
            .group_by(Client.name)
            .order_by(Client.name)
        ).all()
        return [(str(n), int(a or 0), int(b or 0)) for n, a, b in rows]
