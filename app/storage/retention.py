"""SQL of the retention job: purging old match and audit rows, erasing closed cases' hashes.

Every method works on a bounded batch so that one transaction never holds a table for
long; the service loops until a batch comes back short.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.storage.exchanges import ExchangeRepository
from app.storage.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Change,
    ChangeOp,
    Match,
    MatchReview,
    Signal,
    SignalQuarantine,
)

__all__ = ["RetentionRepository"]

CLOSED = (CaseStatus.WITHDRAWN, CaseStatus.REJECTED)


class RetentionRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def delete_matches_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` matches logged before ``cutoff``, except those a moderator
        still has to review (they leave the queue only by a decision)."""
        ids = self.s.scalars(
            select(Match.id)
            .where(
                Match.created_at < cutoff,
                or_(Match.review.is_(None), Match.review != MatchReview.PENDING),
            )
            .order_by(Match.created_at)
            .limit(limit)
        ).all()
        if ids:
            self.s.execute(delete(Match).where(Match.id.in_(ids)))
        return len(ids)

    def delete_audit_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` audit events recorded before ``cutoff``."""
        ids = self.s.scalars(
            select(AuditEvent.id).where(AuditEvent.at < cutoff).order_by(AuditEvent.at).limit(limit)
        ).all()
        if ids:
            self.s.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        return len(ids)

    def closed_cases_with_hashes(self, closed_before: datetime, limit: int) -> Sequence[Case]:
        """Withdrawn or rejected cases, closed before ``closed_before``, that still hold
        hashes; locked for update (PostgreSQL) so two purges never erase one case twice."""
        closed_at = func.coalesce(Case.withdrawn_at, Case.reviewed_at, Case.updated_at)
        has_hashes = select(Signal.id).where(Signal.case_id == Case.id).exists()
        stmt = (
            select(Case)
            .where(Case.status.in_(CLOSED), closed_at < closed_before, has_hashes)
            .order_by(Case.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.s.scalars(stmt).all()

    def erase_case_hashes(self, case_id: int) -> tuple[int, int]:
        """Erase every stored hash of a case: its rows, its matches (they hold the
        re-uploaded images' hashes), its quarantine rows, and the hash values in the
        change log. The change log keeps one tombstone per hash, without a value, so a
        platform that follows the feed still removes it. Returns (hashes, matches)."""
        held = self.s.execute(
            select(Signal.id, Signal.type, Signal.value).where(Signal.case_id == case_id)
        ).all()
        ids = [int(r[0]) for r in held]
        if not ids:
            return 0, 0
        result = self.s.execute(
            delete(Match).where(or_(Match.signal_id.in_(ids), Match.case_id == case_id))
        )
        matches = result.rowcount  # type: ignore[attr-defined]
        self.s.execute(delete(SignalQuarantine).where(SignalQuarantine.signal_id.in_(ids)))
        self.s.execute(
            delete(Change).where(Change.signal_id.in_(ids), Change.op != ChangeOp.REMOVE)
        )
        self.s.execute(update(Change).where(Change.signal_id.in_(ids)).values(value=None))
        self.s.execute(delete(Signal).where(Signal.id.in_(ids)))
        # platforms' feedback on these values (StopNCII's SubmitFeedback) goes with the
        # last hash of each value
        ExchangeRepository(self.s).erase_orphan_feedback({(str(r[1]), str(r[2])) for r in held})
        return len(ids), int(matches or 0)

    def active_cases_reviewed_before(self, cutoff: datetime, limit: int) -> Sequence[Case]:
        """Active cases whose last review (or, never reviewed, whose report) is older
        than ``cutoff``, oldest first."""
        last = func.coalesce(Case.reviewed_at, Case.created_at)
        stmt = (
            select(Case)
            .where(Case.status == CaseStatus.ACTIVE, last < cutoff)
            .order_by(last, Case.id)
            .limit(limit)
        )
        return self.s.scalars(stmt).all()

    def count_active_reviewed_before(self, cutoff: datetime) -> int:
        last = func.coalesce(Case.reviewed_at, Case.created_at)
        stmt = select(func.count(Case.id)).where(Case.status == CaseStatus.ACTIVE, last < cutoff)
        return int(self.s.scalar(stmt) or 0)
