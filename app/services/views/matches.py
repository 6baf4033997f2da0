"""Matches as moderators read them: a filtered, sorted list."""

from __future__ import annotations

from app.services.clients import ClientService
from app.services.views.paging import Page, Sort, row_offset
from app.storage.db import Database
from app.storage.models import MatchReview
from app.storage.repositories import DashboardRepository
from app.storage.rows import MatchRow

__all__ = ["MatchViews"]


class MatchViews:
    """The matches list and its client filter."""

    def __init__(self, db: Database, clients: ClientService) -> None:
        self.db = db
        self.clients = clients

    def page(
        self,
        *,
        review: str | None,
        action: str | None,
        client_id: int | None,
        sort: Sort,
        page: int,
        per_page: int,
    ) -> Page[MatchRow]:
        """Matches, filtered by review state (``awaiting`` = flagged by a platform, not yet
        settled), action and client. Sort keys: ``created_at``, ``distance``."""
        review_value = {
            "awaiting": MatchReview.PENDING,
            "confirmed": MatchReview.CONFIRMED,
            "false_positive": MatchReview.FALSE_POSITIVE,
        }.get(review or "")
        with self.db.read() as session:
            rows, total = DashboardRepository(session).match_page(
                client_id=client_id,
                review=review_value,
                action=action or None,
                order=sort.key,
                descending=sort.descending,
                offset=row_offset(page, per_page),
                limit=per_page,
            )
        return Page(rows, total, page, per_page)

    def client_names(self) -> list[tuple[int, str]]:
        """Every client's id and name (for filters), by name."""
        return sorted(((c.id, c.name) for c in self.clients.list()), key=lambda c: c[1])
