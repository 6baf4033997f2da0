"""What the moderators' dashboard reads: figures, queues, cases, matches, search, audit.

Every list comes as a :class:`Page` (sorted, one page of rows, the total). Actions go to
the services that own them (``CaseService.review``, ``MatchService.mark_false_positive``,
``ClientService``, ``UserService``, ``BankService``); the few that need more than one
service (disabling a user ends their sessions) are here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

import hashes
from app.errors import Conflict, InvalidInput, NotFound
from app.index.replica import IndexReplica
from app.services.cases import CaseService, CaseView
from app.services.checks import Thresholds
from app.services.clients import ClientService, ClientView
from app.services.secrets import normalize_case_id
from app.services.sessions import SessionService, Staff
from app.services.users import UserService, UserView
from app.storage.db import Database
from app.storage.models import AuditEvent, Case, CaseStatus, Match, MatchReview, Signal, utcnow
from app.storage.repositories import (
    AuditRepository,
    CaseRepository,
    ClientRepository,
    DashboardRepository,
)

__all__ = [
    "AuditFilter",
    "AuditRow",
    "CaseDetail",
    "CaseRow",
    "DashboardService",
    "HashRow",
    "MatchRow",
    "Overview",
    "Page",
    "SearchHit",
    "SearchResult",
    "Sort",
    "TimelineEvent",
]

T = TypeVar("T")
CHART_DAYS = 30
TOP_CASES = 10
SEARCH_LIMIT = 200
EXPORT_LIMIT = 50_000
_CASE_ID = re.compile(r"HB-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def types_by_length(types: hashes.SignalRegistry) -> dict[int, tuple[str, ...]]:
    """Hex length -> the enabled types of that length: a hash typed into the search box is
    looked up as each of them (PDQ and SHA-256 share 64)."""
    out: dict[int, tuple[str, ...]] = {}
    for spec in types:
        if spec.hex_length is not None:
            out[spec.hex_length] = (*out.get(spec.hex_length, ()), spec.name)
    return out


@dataclass(frozen=True)
class Sort:
    """A list's order: a column key (checked by the caller) and its direction."""

    key: str
    descending: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a sorted list: ``items`` of ``total``; pages count from 1."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def paginate(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    """A page of an in-memory list (banks, clients, users: short lists)."""
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return Page(list(items[start : start + per_page]), len(items), page, per_page)


def _offset(page: int, per_page: int) -> int:
    return (max(1, page) - 1) * per_page


@dataclass(frozen=True)
class CaseRow:
    id: int
    public_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    hashes: int
    reuploads: int
    blocked: int
    last_match_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_reason: str | None
    withdrawn_at: datetime | None


def _case_row(c: Case) -> CaseRow:
    return CaseRow(
        c.id,
        c.public_id,
        str(c.status),
        c.created_at,
        c.updated_at,
        c.signal_count,
        c.match_count,
        c.blocked_count,
        c.last_match_at,
        c.reviewed_at,
        c.reviewed_by,
        c.review_reason,
        c.withdrawn_at,
    )


@dataclass(frozen=True)
class MatchRow:
    id: int
    created_at: datetime
    client: str | None
    case_id: int | None
    case_public_id: str | None
    bank: str
    signal_type: str
    distance: int
    action: str
    feedback: str | None
    review: str | None
    reviewed_by: str | None
    query_value: str
    attempt: bool = True  # the first match of its upload for this case

    @property
    def reviewable(self) -> bool:
        """Not yet settled by a moderator (confirmed or marked a false positive)."""
        return self.review in (None, MatchReview.PENDING)


def _match_row(m: Match, client: str | None, case_public_id: str | None, bank: str) -> MatchRow:
    return MatchRow(
        m.id,
        m.created_at,
        client,
        m.case_id,
        case_public_id,
        bank,
        m.signal_type,
        m.distance,
        m.action,
        str(m.feedback) if m.feedback is not None else None,
        str(m.review) if m.review is not None else None,
        m.reviewed_by,
        m.query_value,
        m.attempt,
    )


@dataclass(frozen=True)
class HashRow:
    id: int
    type: str
    value: str
    quality: int | None
    created_at: datetime
    deleted_at: datetime | None


def _hash_row(s: Signal) -> HashRow:
    return HashRow(s.id, s.type, s.value, s.quality, s.created_at, s.deleted_at)


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


def _audit_row(e: AuditEvent) -> AuditRow:
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


@dataclass(frozen=True)
class SearchHit:
    signal_id: int
    type: str
    value: str
    distance: int
    bank: str
    case_id: int | None
    case_public_id: str | None
    case_status: str | None
    created_at: datetime
    deleted: bool


@dataclass(frozen=True)
class SearchResult:
    query: str
    kind: str  # "", "case", "hash"
    case: CaseRow | None = None
    hits: list[SearchHit] = field(default_factory=list)
    types: tuple[str, ...] = ()
    distance: int = 0
    message: str | None = None


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


class DashboardService:
    """Read models of the dashboard, and its actions that span services."""

    def __init__(
        self,
        db: Database,
        replica: IndexReplica,
        thresholds: Thresholds,
        *,
        cases: CaseService,
        users: UserService,
        clients: ClientService,
        sessions: SessionService,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.replica = replica
        self.thresholds = thresholds
        self.case_service = cases
        self.users = users
        self.clients = clients
        self.sessions = sessions
        self.clock = clock

    # -- overview ----------------------------------------------------------------------
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
            top = CaseRepository(session).top_by_matches(TOP_CASES)
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
            top_cases=[_case_row(c) for c in top],
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

    # -- cases ---------------------------------------------------------------------------
    def cases(
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
                offset=_offset(page, per_page),
                limit=per_page,
                search=(search or "").strip() or None,
            )
            return Page([_case_row(c) for c in rows], total, page, per_page)

    def case(
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
            case = CaseRepository(session).get(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            row = _case_row(case)
            client = ClientRepository(session).get(case.client_id) if case.client_id else None
            dash = DashboardRepository(session)
            signals, signal_total = dash.signal_page(
                case.id,
                order=hash_sort.key,
                descending=hash_sort.descending,
                offset=_offset(hash_page, per_page),
                limit=per_page,
            )
            events = AuditRepository(session).for_object("case", case.public_id)
            offset = _offset(timeline_page, per_page)
            before = 1 if offset > 0 else 0
            window, match_total = dash.match_page(
                case_id=case.id,
                descending=newest_first,
                offset=offset - before,
                limit=per_page + before + 1,
            )
        lifecycle = self._lifecycle(row, [_audit_row(e) for e in events])
        matches = [_match_row(*r) for r in window]
        timeline = _timeline(matches, lifecycle, before, per_page, newest_first)
        return CaseDetail(
            case=row,
            reported_by_client=client.name if client is not None else None,
            hashes=Page([_hash_row(s) for s in signals], signal_total, hash_page, per_page),
            timeline=Page(timeline, match_total, timeline_page, per_page),
            newest_first=newest_first,
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
            case = CaseRepository(session).get(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            public_id = case.public_id
        return self.case_service.review(
            public_id, confirm=confirm, actor=staff.actor, reason=reason
        )

    # -- matches ---------------------------------------------------------------------------
    def matches(
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
                offset=_offset(page, per_page),
                limit=per_page,
            )
        return Page([_match_row(*r) for r in rows], total, page, per_page)

    def client_names(self) -> list[tuple[int, str]]:
        """Every client's id and name (for filters), by name."""
        return sorted(((c.id, c.name) for c in self.clients.list()), key=lambda c: c[1])

    # -- search ------------------------------------------------------------------------------
    def search(self, query: str, *, signal_type: str = "", distance: int = 0) -> SearchResult:
        """Find a case by its id, or hashes by value: exactly (every hash, whatever its case's
        status) or within ``distance`` (PDQ, pHash: the in-memory index, which holds the
        hashes that can match — pending and active cases, and banks)."""
        text = query.strip()
        if not text:
            return SearchResult("", "")
        value = text.lower()
        by_length = types_by_length(self.replica.types)
        # 16 hex digits are a pHash as well as a case id without its dashes: a hash of an
        # enabled type's length is looked up as a hash (a case id is typed with HB- or dashes)
        hashlike = _HEX.fullmatch(value) is not None and (
            bool(signal_type) or len(value) in by_length
        )
        case_id = normalize_case_id(text)
        if not hashlike and _CASE_ID.fullmatch(case_id):
            with self.db.read() as session:
                case = CaseRepository(session).by_public_id(case_id)
                found = _case_row(case) if case is not None else None
            message = None if found else f"No case {case_id}."
            return SearchResult(case_id, "case", case=found, message=message)
        if not _HEX.fullmatch(value):
            return SearchResult(
                text, "", message="Type a case id (HB-XXXX-XXXX-XXXX-XXXX) or a hash in hex."
            )
        types = (signal_type,) if signal_type else by_length.get(len(value), ())
        if not types:
            lengths = ", ".join(
                f"{'/'.join(self.replica.types.get(k).label or k for k in kinds)} {n}"
                for n, kinds in sorted(by_length.items(), reverse=True)
            )
            return SearchResult(
                text,
                "hash",
                message=f"No signal type has hashes of this length (hex digits: {lengths}).",
            )
        try:
            for kind in types:
                self.replica.types.parse(kind, value)
        except hashes.InvalidHash as exc:
            return SearchResult(text, "hash", types=types, message=str(exc))
        if distance < 0:
            raise InvalidInput("a distance is 0 or more")
        hits = self._hash_hits(value, types, distance)
        return SearchResult(text, "hash", hits=hits, types=types, distance=distance)

    def _hash_hits(self, value: str, types: Sequence[str], distance: int) -> list[SearchHit]:
        near: dict[int, int] = {}
        for kind in types:
            radius = min(distance, self.replica.max_radius.get(kind, 0))
            if radius > 0:
                for hit in self.replica.search(kind, [value], radius):
                    near[hit.signal_id] = hit.distance
        with self.db.read() as session:
            dash = DashboardRepository(session)
            rows = []
            for kind in types:
                rows += dash.signals_in_context(value=(kind, value), limit=SEARCH_LIMIT)
            ranked = sorted(near, key=lambda i: (near[i], i))[:SEARCH_LIMIT]
            exact_ids = {r[0].id for r in rows}
            rows += dash.signals_in_context(ids=[i for i in ranked if i not in exact_ids])
        hits = [
            SearchHit(
                s.id,
                s.type,
                s.value,
                near.get(s.id, 0) if s.value != value else 0,
                bank,
                s.case_id,
                public_id,
                status,
                s.created_at,
                s.deleted_at is not None,
            )
            for s, public_id, status, bank in rows
        ]
        hits.sort(key=lambda h: (h.distance, h.signal_id))
        return hits[:SEARCH_LIMIT]

    # -- audit -------------------------------------------------------------------------------
    def audit(
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
                offset=_offset(page, per_page),
                limit=per_page,
            )
            cases = CaseRepository(session).ids_by_public_id(
                {e.object_id for e in rows if e.object_type == "case"}
            )
            items = [
                replace(_audit_row(e), case_id=cases.get(e.object_id))
                if e.object_type == "case"
                else _audit_row(e)
                for e in rows
            ]
            return Page(items, total, page, per_page)

    def audit_actions(self) -> list[str]:
        with self.db.read() as session:
            return DashboardRepository(session).audit_actions()

    def audit_csv(self, filters: AuditFilter, *, newest_first: bool) -> Iterator[str]:
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

    # -- admin -------------------------------------------------------------------------------
    def client_list(self) -> list[ClientView]:
        """Every client; "last used" times this process still holds are written first."""
        self.clients.flush_last_used()
        return self.clients.list()

    def set_user_disabled(self, user_id: int, disabled: bool, *, staff: Staff) -> UserView:
        """Disable (ending every session at once) or re-enable a user; never oneself.

        Raises:
            NotFound: no such user.
            Conflict: an admin disabling their own account.
        """
        target = next((u for u in self.users.list() if u.id == user_id), None)
        if target is None:
            raise NotFound(f"no user {user_id}")
        if disabled and target.id == staff.user_id:
            raise Conflict("you cannot disable your own account")
        view = self.users.set_disabled(target.username, disabled, actor=staff.actor)
        if disabled:
            self.sessions.end_all(target.id)
        return view


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


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
