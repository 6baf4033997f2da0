"""Moderators' review of a case from the dashboard, where cases go by their internal id.

The review itself (pending -> active or rejected, the change log, the audit event) is
:meth:`app.services.cases.CaseService.review`; a match is marked a false positive by
:class:`app.services.matches.MatchService`.
"""

from __future__ import annotations

from app.errors import NotFound
from app.services.cases import CaseService, CaseView
from app.services.sessions import Staff
from app.storage.db import Database
from app.storage.repositories import CaseRepository

__all__ = ["ReviewService"]


class ReviewService:
    def __init__(self, db: Database, cases: CaseService) -> None:
        self.db = db
        self.cases = cases

    def review_case(
        self, case_id: int, *, confirm: bool, staff: Staff, reason: str | None = None
    ) -> CaseView:
        """Confirm (→ active: its hashes block per their bank's policy) or reject a pending
        case, by its internal id.

        Raises:
            NotFound: no such case. InvalidInput: a rejection without a reason.
            Conflict: the case is not pending.
        """
        with self.db.read() as session:
            public_id = CaseRepository(session).public_id(case_id)
        if public_id is None:
            raise NotFound(f"no case {case_id}")
        return self.cases.review(public_id, confirm=confirm, actor=staff.actor, reason=reason)
