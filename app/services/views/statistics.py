"""The overview's figures: cases per state, re-uploads per day, top cases, probing clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from app.services.clients import ClientService
from app.storage import Session
from app.storage.db import Database
from app.storage.models import CaseStatus, MatchReview, utcnow
from app.storage.repositories import AuditRepository, DashboardRepository
from app.storage.rows import CaseRow

__all__ = ["Overview", "Statistics"]

CHART_DAYS = 30
TOP_CASES = 10


@dataclass(frozen=True)
class Overview:
    pending_cases: int
    active_cases: int
    active_hashes: int
    awaiting_matches: int
    reuploads_today: int
    reuploads_7d: int
    reuploads_30d: int
    per_day: list[tuple[date, int]]
    top_cases: list[CaseRow]
    probing_clients: list[str] = field(default_factory=list)  # flagged in the last 24 h


class Statistics:
    """What the overview page shows, from counts the indexes answer."""

    def __init__(
        self, db: Database, clients: ClientService, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.clients = clients
        self.clock = clock

    def overview(self) -> Overview:
        """Counts, re-uploads per UTC day over the last 30 days, and the top cases."""
        now = self.clock()
        today = datetime.combine(now.date(), time(), UTC)
        first_day = today - timedelta(days=CHART_DAYS - 1)
        with self.db.read() as session:
            dash = DashboardRepository(session)
            figures = dash.case_figures()
            awaiting = dash.match_count(review=MatchReview.PENDING)
            counts = dash.match_counts_per_day(first_day, CHART_DAYS)
            top = dash.top_cases(TOP_CASES)
            probing = self._probing(session, now)
        days = [(first_day + timedelta(days=i)).date() for i in range(CHART_DAYS)]
        series = list(zip(days, counts, strict=True))
        return Overview(
            pending_cases=figures.get(CaseStatus.PENDING, 0),
            active_cases=figures.get(CaseStatus.ACTIVE, 0),
            active_hashes=figures.get("active_hashes", 0),
            awaiting_matches=awaiting,
            reuploads_today=series[-1][1],
            reuploads_7d=sum(n for _, n in series[-7:]),
            reuploads_30d=sum(n for _, n in series),
            per_day=series,
            top_cases=top,
            probing_clients=(
                sorted(c.name for c in self.clients.list() if c.id in probing) if probing else []
            ),
        )

    def probing_clients(self) -> dict[int, datetime]:
        """client id -> when it was last refused for probing stored hashes (last 24 h)."""
        with self.db.read() as session:
            return self._probing(session, self.clock())

    @staticmethod
    def _probing(session: Session, now: datetime) -> dict[int, datetime]:
        latest = AuditRepository(session).latest("client.probing", now - timedelta(days=1))
        return {int(cid): at for cid, at in latest.items() if cid.isdigit()}
