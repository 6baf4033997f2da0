"""Retention and governance: purge old match and audit rows, erase the hashes of closed
cases, and find active cases due for their periodic re-review.

Run by ``hashbank purge`` and, every ``HASHBANK_PURGE_INTERVAL_SECONDS``, by each server
process (several processes purging at once is safe: each deletes what is still there).
Each run that removes something writes one audit event ``retention.purged`` with the
counts, and each erased case gets ``case.erased``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.config import Settings
from app.index.replica import IndexReplica
from app.services import audit
from app.storage.db import Database
from app.storage.models import utcnow
from app.storage.retention import RetentionRepository

__all__ = ["DueCase", "PurgeResult", "RetentionPolicy", "RetentionService"]

BATCH = 5_000  # rows per transaction: short locks on a busy database
CASE_BATCH = 100
_Step = Callable[[RetentionRepository, datetime], int]


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of record is kept, in days; 0 keeps it forever."""

    match_days: int = 180
    audit_days: int = 730
    closed_case_days: int = 30
    review_after_days: int = 365

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            match_days=settings.match_retention_days,
            audit_days=settings.audit_retention_days,
            closed_case_days=settings.closed_case_retention_days,
            review_after_days=settings.review_after_days,
        )


@dataclass(frozen=True)
class PurgeResult:
    """What one purge removed, and how many active cases are due for re-review."""

    matches: int = 0
    audit_events: int = 0
    erased_cases: int = 0
    erased_hashes: int = 0
    erased_matches: int = 0
    review_due: int = 0
    cutoffs: dict[str, str] = field(default_factory=dict)

    @property
    def removed(self) -> int:
        return self.matches + self.audit_events + self.erased_hashes + self.erased_matches


@dataclass(frozen=True)
class DueCase:
    """An active case whose last review is older than the re-review period."""

    case_id: str
    created_at: datetime
    last_reviewed_at: datetime | None
    last_reviewed_by: str | None
    reupload_attempts: int
    last_detected: datetime | None


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


class RetentionService:
    def __init__(self, db: Database, replica: IndexReplica | None, policy: RetentionPolicy) -> None:
        self.db = db
        self.replica = replica
        self.policy = policy

    def purge(self, *, actor: str, now: datetime | None = None) -> PurgeResult:
        """Apply the retention policy once; return what was removed.

        Matches older than ``match_days`` go (except those still waiting for a
        moderator's review); audit events older than ``audit_days`` go; the hashes of
        cases withdrawn or rejected more than ``closed_case_days`` ago are erased with
        their matches (the case keeps its id, status, dates and counters). Each step
        commits in batches, so an interrupted purge keeps what it did and the next run
        finishes it.
        """
        now = now or utcnow()
        p = self.policy
        cut = {
            "matches": _cutoff(now, p.match_days),
            "audit": _cutoff(now, p.audit_days),
            "closed_cases": _cutoff(now, p.closed_case_days),
        }
        matches = self._batched(lambda r, c: r.delete_matches_before(c, BATCH), cut["matches"])
        audit_events = self._batched(lambda r, c: r.delete_audit_before(c, BATCH), cut["audit"])
        cases = hashes = erased_matches = 0
        if cut["closed_cases"] is not None:
            while True:
                with self.db.write() as session:
                    repo = RetentionRepository(session)
                    batch = repo.closed_cases_with_hashes(cut["closed_cases"], CASE_BATCH)
                    for case in batch:
                        n, m = repo.erase_case_hashes(case.id)
                        audit.record(
                            session,
                            actor,
                            "case.erased",
                            "case",
                            case.public_id,
                            hashes=n,
                            matches=m,
                            status=str(case.status),
                        )
                        cases, hashes, erased_matches = cases + 1, hashes + n, erased_matches + m
                if len(batch) < CASE_BATCH:
                    break
        result = PurgeResult(
            matches=matches,
            audit_events=audit_events,
            erased_cases=cases,
            erased_hashes=hashes,
            erased_matches=erased_matches,
            review_due=self.count_due(now=now),
            cutoffs={k: v.isoformat() for k, v in cut.items() if v is not None},
        )
        if result.removed:
            with self.db.write() as session:
                audit.record(
                    session,
                    actor,
                    "retention.purged",
                    "retention",
                    "purge",
                    matches=result.matches,
                    audit_events=result.audit_events,
                    erased_cases=result.erased_cases,
                    erased_hashes=result.erased_hashes,
                    erased_matches=result.erased_matches,
                    review_due=result.review_due,
                    **{f"before_{k}": v for k, v in result.cutoffs.items()},
                )
        if hashes and self.replica is not None:
            self.replica.sync()
        return result

    def _batched(self, step: _Step, cutoff: datetime | None) -> int:
        if cutoff is None:
            return 0
        total = 0
        while True:
            with self.db.write() as session:
                n = step(RetentionRepository(session), cutoff)
            total += n
            if n < BATCH:
                return total

    def _due_cutoff(self, now: datetime | None) -> datetime | None:
        return _cutoff(now or utcnow(), self.policy.review_after_days)

    def count_due(self, *, now: datetime | None = None) -> int:
        """How many active cases are due for re-review (0 when re-review is off)."""
        cutoff = self._due_cutoff(now)
        if cutoff is None:
            return 0
        with self.db.read() as session:
            return RetentionRepository(session).count_active_reviewed_before(cutoff)

    def due(self, *, now: datetime | None = None, limit: int = 1000) -> list[DueCase]:
        """Active cases due for re-review, the longest unreviewed first."""
        cutoff = self._due_cutoff(now)
        if cutoff is None:
            return []
        with self.db.read() as session:
            rows = RetentionRepository(session).active_cases_reviewed_before(cutoff, limit)
            return [
                DueCase(
                    c.public_id,
                    c.created_at,
                    c.reviewed_at,
                    c.reviewed_by,
                    c.match_count,
                    c.last_match_at,
                )
                for c in rows
            ]
