"""Hot-hash quarantine: list the stored hashes held for review, and release them.

:class:`app.services.checks.CheckService` quarantines a hash when it matches far more
than a victim's image would (:class:`~app.services.checks.QuarantinePolicy`); its matches
then answer ``review`` instead of ``block``. A moderator either releases it (it acts as
its case says again, and is never quarantined again) or rejects its case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from app.errors import Conflict, NotFound
from app.index.replica import IndexReplica
from app.services import audit
from app.services.feed import GroupTokens
from app.storage import Session
from app.storage.db import Database
from app.storage.models import Case, ChangeOp, Signal, utcnow
from app.storage.repositories import (
    MATCHABLE,
    QUARANTINED,
    CaseRepository,
    ChangeRepository,
    QuarantineRepository,
    SignalRepository,
)
from app.storage.rows import QuarantineRow

__all__ = ["QuarantineService", "QuarantineState", "QuarantineView"]

QuarantineState = Literal["quarantined", "released"]  # a hot hash held, or let go
RELEASED: QuarantineState = "released"


@dataclass(frozen=True)
class QuarantineView:
    """A quarantined hash as an admin key sees it: never its value, nor its case's id
    (``group`` is the feed's opaque token of the case, see ``GroupTokens``)."""

    signal_id: int
    signal_type: str
    bank: str
    group: str | None
    state: QuarantineState
    reason: str
    matches: int
    clients: int
    since: datetime
    released_at: datetime | None
    released_by: str | None


class QuarantineService:
    def __init__(
        self, db: Database, replica: IndexReplica, groups: GroupTokens | None = None
    ) -> None:
        self.db = db
        self.replica = replica
        self.groups = groups or GroupTokens(db)

    def list(self, *, state: QuarantineState | None = "quarantined") -> list[QuarantineView]:
        """Quarantined hashes, newest first (``state=None``: released ones too)."""
        with self.db.read() as session:
            rows = QuarantineRepository(session).list(state)
        return [self._view(row) for row in rows]

    def release(self, signal_id: int, *, actor: str) -> QuarantineView:
        """Let a quarantined hash act again as its case says; it stays exempt from then on.

        Raises:
            NotFound: the hash is not quarantined and never was.
            Conflict: it was released already.
        """
        now = utcnow()
        with self.db.write() as session:
            row = QuarantineRepository(session).get(signal_id, for_update=True)
            if row is None:
                raise NotFound(f"hash {signal_id} is not quarantined")
            if row.state != QUARANTINED:
                raise Conflict(f"hash {signal_id} was released already")
            row.state, row.released_at, row.released_by = RELEASED, now, actor
            session.flush()
            signal = SignalRepository(session).get(signal_id)
            case = _case_of(session, signal)
            if signal is not None and signal.deleted_at is None:
                status = "bank" if case is None else str(case.status)
                if case is None or case.status in MATCHABLE:
                    changes = ChangeRepository(session)
                    changes.append(changes.for_signals(ChangeOp.UPDATE, [signal], status, now))
            audit.record(session, actor, "signal.released", "signal", signal_id)
            released = QuarantineRepository(session).row(signal_id)
        self.replica.sync()
        assert released is not None  # written above, in this transaction
        return self._view(released)

    def _view(self, row: QuarantineRow) -> QuarantineView:
        return QuarantineView(
            signal_id=row.signal_id,
            signal_type=row.signal_type,
            bank=row.bank,
            group=self.groups.of(row.case_id),
            state=cast(QuarantineState, row.state),
            reason=row.reason,
            matches=row.matches,
            clients=row.clients,
            since=row.created_at,
            released_at=row.released_at,
            released_by=row.released_by,
        )


def _case_of(session: Session, signal: Signal | None) -> Case | None:
    if signal is None or signal.case_id is None:
        return None
    return CaseRepository(session).get(signal.case_id)
