"""Read models of the moderators' dashboard, one per screen family.

Each reads through :class:`app.storage.repositories.DashboardRepository`, which hands up
plain rows (``app.storage.rows``), and returns a :class:`Page` of them or a small frozen
dataclass; none writes. The dashboard's actions are use cases elsewhere:
``ReviewService`` (a case's review), ``MatchService`` (a false positive),
``AdminService`` (users and clients), ``BankService``.

``Views`` holds one of each, built once per process in ``container.Services``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.index.replica import IndexReplica
from app.services.clients import ClientService
from app.services.views.audit import AuditFilter, AuditRow, AuditViews
from app.services.views.cases import CaseDetail, CaseViews, TimelineEvent
from app.services.views.matches import MatchViews
from app.services.views.paging import Page, Sort, paginate
from app.services.views.search import HashSearch, SearchHit, SearchResult, types_by_length
from app.services.views.statistics import Overview, Statistics
from app.storage.db import Database
from app.storage.rows import CaseRow, HashRow, MatchRow

__all__ = [
    "AuditFilter",
    "AuditRow",
    "AuditViews",
    "CaseDetail",
    "CaseRow",
    "CaseViews",
    "HashRow",
    "HashSearch",
    "MatchRow",
    "MatchViews",
    "Overview",
    "Page",
    "SearchHit",
    "SearchResult",
    "Sort",
    "Statistics",
    "TimelineEvent",
    "Views",
    "paginate",
    "types_by_length",
]


@dataclass(frozen=True)
class Views:
    """Every read model of the dashboard."""

    statistics: Statistics
    cases: CaseViews
    matches: MatchViews
    search: HashSearch
    audit: AuditViews

    @classmethod
    def build(cls, db: Database, replica: IndexReplica, clients: ClientService) -> Views:
        return cls(
            Statistics(db, clients),
            CaseViews(db),
            MatchViews(db, clients),
            HashSearch(db, replica),
            AuditViews(db),
        )
