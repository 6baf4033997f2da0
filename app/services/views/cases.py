"""Cases as moderators read them: a filtered, sorted list, and one case in detail."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.errors import NotFound
from app.services.views.audit import AuditRow, audit_row
from app.services.views.paging import Page, Sort, row_offset
from app.storage.db import Database
from app.storage.exchanges import ExchangeRepository, FeedbackRow
from app.storage.models import CaseStatus
from app.storage.repositories import DashboardRepository
from app.storage.rows import CaseRow, HashRow, MatchRow

__all__ = ["CaseDetail", "CaseViews", "TimelineEvent"]


@dataclass(frozen=True)
class TimelineEvent:
    """One line of a case's history: a lifecycle step, or a re-upload attempt (``match``)."""

    at: datetime
    kind: str  # reported, hashes_added, active, rejected, withdrawn, locked, reupload
    actor: str | None = None
    detail: str | None = None
    match: MatchRow | None = None


@dataclass(frozen=True)
class CaseDetail:
    case: CaseRow
    reported_by_client: str | None
    hashes: Page[HashRow]
    timeline: Page[TimelineEvent]
    newest_first: bool
    # platforms' feedback on the page's hash values (StopNCII's SubmitFeedback), newest
    # first: (type, value) -> rows
    feedback: dict[tuple[str, str], list[FeedbackRow]] = field(default_factory=dict)


_LIFECYCLE = {
    "case.reported": "reported",
    "case.hashes_added": "hashes_added",
    "case.active": "active",
    "case.rejected": "rejected",
    "case.withdrawn": "withdrawn",
    "case.locked": "locked",
}


def _detail_text(detail: dict[str, Any]) -> str | None:
    if not detail:
        return None
    if set(detail) == {"reason"}:
        return str(detail["reason"])
    return ", ".join(f"{k}: {v}" for k, v in sorted(detail.items()))


class CaseViews:
    """The case list and a case's page: its hashes and its timeline."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self,
        *,
        status: str | None,
        search: str | None,
        sort: Sort,
        page: int,
        per_page: int,
    ) -> Page[CaseRow]:
        """Cases filtered by status and by a fragment of their id.

        Sort keys: ``created_at``, ``updated_at``, ``matches``, ``hashes``, ``status``.
        """
        status_value = CaseStatus(status) if status else None
        with self.db.read() as session:
            rows, total = DashboardRepository(session).case_page(
                status=status_value,
                order=sort.key,
                descending=sort.descending,
                offset=row_offset(page, per_page),
                limit=per_page,
                search=(search or "").strip() or None,
            )
            return Page(rows, total, page, per_page)

    def detail(
        self,
        case_id: int,
        *,
        hash_page: int = 1,
        hash_sort: Sort = Sort("id"),
        timeline_page: int = 1,
        newest_first: bool = True,
        per_page: int = 50,
    ) -> CaseDetail:
        """A case with one page of its hashes (sort keys: ``id``, ``type``, ``quality``) and
        one page of its timeline.

        Raises:
            NotFound: no such case.
        """
        with self.db.read() as session:
            dash = DashboardRepository(session)
            row = dash.case(case_id)
            if row is None:
                raise NotFound(f"no case {case_id}")
            client = dash.client_name(row.client_id) if row.client_id else None
            signals, signal_total = dash.signal_page(
                row.id,
                order=hash_sort.key,
                descending=hash_sort.descending,
                offset=row_offset(hash_page, per_page),
                limit=per_page,
            )
            feedback: dict[tuple[str, str], list[FeedbackRow]] = {}
            for fb in ExchangeRepository(session).feedback_on({(h.type, h.value) for h in signals}):
                feedback.setdefault((fb.signal_type, fb.value), []).append(fb)
            events = dash.history("case", row.public_id)
            offset = row_offset(timeline_page, per_page)
            before = 1 if offset > 0 else 0
            matches, match_total = dash.match_page(
                case_id=row.id,
                descending=newest_first,
                offset=offset - before,
                limit=per_page + before + 1,
            )
        lifecycle = self._lifecycle(row, [audit_row(e) for e in events])
        timeline = _timeline(matches, lifecycle, before, per_page, newest_first)
        return CaseDetail(
            case=row,
            reported_by_client=client,
            hashes=Page(signals, signal_total, hash_page, per_page),
            timeline=Page(timeline, match_total, timeline_page, per_page),
            newest_first=newest_first,
            feedback=feedback,
        )

    @staticmethod
    def _lifecycle(case: CaseRow, events: list[AuditRow]) -> list[TimelineEvent]:
        """Reported, reviewed, withdrawn... from the audit log, or the case's own dates."""
        out = [
            TimelineEvent(e.at, _LIFECYCLE[e.action], e.actor, _detail_text(e.detail))
            for e in events
            if e.action in _LIFECYCLE
        ]
        kinds = {e.kind for e in out}
        if "reported" not in kinds:
            out.append(TimelineEvent(case.created_at, "reported"))
        if case.reviewed_at and not kinds & {"active", "rejected"}:
            kind = "rejected" if case.status == CaseStatus.REJECTED else "active"
            out.append(TimelineEvent(case.reviewed_at, kind, case.reviewed_by, case.review_reason))
        if case.withdrawn_at and "withdrawn" not in kinds:
            out.append(TimelineEvent(case.withdrawn_at, "withdrawn", "reporter"))
        return out


def _timeline(
    matches: list[MatchRow],
    lifecycle: list[TimelineEvent],
    before: int,
    per_page: int,
    newest_first: bool,
) -> list[TimelineEvent]:
    """Merge one page of re-uploads with the lifecycle events that fall on that page.

    ``matches`` holds the page's rows plus the row just before it (when ``before``) and
    the row just after it (when there is one): those bound the page in time.
    """
    sign = -1 if newest_first else 1

    def key(at: datetime) -> float:
        return sign * at.timestamp()

    shown = matches[before : before + per_page]
    if before and not shown:  # a page past the end: nothing on it
        return []
    has_more = len(matches) > before + per_page
    lower = key(matches[0].created_at) if before else -math.inf
    upper = key(shown[-1].created_at) if has_more else math.inf
    picked = [e for e in lifecycle if lower < key(e.at) <= upper]
    merged = [TimelineEvent(m.created_at, "reupload", m.client, None, m) for m in shown] + picked
    merged.sort(key=lambda e: key(e.at))
    return merged
