"""Per-platform records: what each API client checked, matched and said it did about it.

How each figure is counted is written once, in docs/records.md ("Platform records"), and
:data:`DEFINITIONS` (the words the dashboard page, the report and the CSV print beside
the figures). Every surface (the API, the dashboard, the report in HTML, PDF and CSV)
reads the figures from :meth:`RecordService.record`, so they cannot disagree.
"""

from __future__ import annotations

import statistics
import threading
import time as clock
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.errors import InvalidInput, NotFound
from app.storage.db import Database
from app.storage.models import utcnow
from app.storage.records import MatchFact, RecordRepository

__all__ = [
    "DEFINITIONS",
    "FEEDBACK_VALUES",
    "MAX_PERIOD_DAYS",
    "RISE_MIN_FEEDBACK",
    "RISE_POINTS",
    "RISE_WINDOW_DAYS",
    "CheckCounter",
    "DayFigures",
    "Period",
    "PlatformRecord",
    "RecordService",
    "WebhookHealth",
]

FEEDBACK_VALUES = ("blocked", "not_blocked", "false_positive", "none")
MAX_PERIOD_DAYS = 731  # two years, a leap day included
DEFAULT_PERIOD_DAYS = 30
# "not blocked rises": the share of not_blocked among the feedback a platform gave on the
# matches of the last RISE_WINDOW_DAYS before the period's end, against the same share in
# the RISE_WINDOW_DAYS before those, is RISE_POINTS or more higher, with at least
# RISE_MIN_FEEDBACK answers in each window (two answers are not a trend)
RISE_WINDOW_DAYS = 30
RISE_POINTS = 0.10
RISE_MIN_FEEDBACK = 5

# (client id, period) -> the webhook endpoints' delivery health, or None: no webhooks
WebhookHealth = Callable[[int, "Period"], Mapping[str, Any] | None]

DEFINITIONS: dict[str, str] = {
    "checks": "Uploads the platform checked against the bank (API checks, each upload of "
    "a batch counted once), counted per UTC day.",
    "matches": "Hashes of the platform's checks that matched the bank (one upload can match "
    "several stored hashes), by the day of the match.",
    "reupload_attempts": "Uploads that matched at least one image of a case: one per upload "
    "and case (the count victims see).",
    "feedback": "Matches on which the platform said what it did (blocked, not blocked, "
    "false positive), whenever it said it; 'none': no word yet. Shares are of the matches.",
    "no_feedback_24h": "Of the matches at least 24 hours old, the share with no feedback "
    "within 24 hours of the match.",
    "no_feedback_7d": "Of the matches at least 7 days old, the share with no feedback within "
    "7 days of the match.",
    "median_feedback": "Median time from a match to the platform's feedback on it, over the "
    "matches with feedback.",
    "days_since_last_check": "Whole UTC days from the platform's last check (any period) to "
    "the day the record was made.",
    "silent": "No check for HASHBANK_SILENT_AFTER_DAYS days or more (or none ever, for a "
    "client older than that).",
    "not_blocked_rising": f"The share of 'not blocked' among the feedback on matches of the "
    f"last {RISE_WINDOW_DAYS} days of the period is at least {RISE_POINTS:.0%} points above "
    f"that of the {RISE_WINDOW_DAYS} days before, with at least {RISE_MIN_FEEDBACK} answers "
    f"in each.",
}


def _day(d: date) -> str:
    return d.isoformat()


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(), UTC)


@dataclass(frozen=True)
class Period:
    """Whole UTC days: from ``start`` (included) to ``end`` (excluded)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date) -> Period:
        """A period from ``from`` and ``to`` as given (``YYYY-MM-DD``; ``to`` excluded).
        Without ``to``: up to and including today; without ``from``: 30 days before ``to``.

        Raises:
            InvalidInput: a malformed date, ``from`` not before ``to``, or more than two years.
        """
        to = _parse_day(end, "to") if end else today + timedelta(days=1)
        first = _parse_day(start, "from") if start else to - timedelta(days=DEFAULT_PERIOD_DAYS)
        if first >= to:
            raise InvalidInput("'from' must be before 'to'")
        if (to - first).days > MAX_PERIOD_DAYS:
            raise InvalidInput(f"a period is at most two years ({MAX_PERIOD_DAYS} days)")
        return cls(first, to)


def _parse_day(text: str, name: str) -> date:
    if len(text) != 10:
        raise InvalidInput(f"'{name}' is a date: YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{name}' is a date: YYYY-MM-DD") from None


@dataclass(frozen=True)
class DayFigures:
    day: date
    checks: int
    matches: int
    reupload_attempts: int


@dataclass(frozen=True)
class PlatformRecord:
    """One platform's figures over one period (see :data:`DEFINITIONS`)."""

    client_id: int
    name: str
    revoked: bool
    period: Period
    made_at: datetime
    checks: int
    matches: int
    reupload_attempts: int
    feedback: int  # matches with feedback (any value)
    feedback_by_value: dict[str, int]  # FEEDBACK_VALUES -> matches
    feedback_shares: dict[str, float | None]  # of the matches; None without matches
    due_24h: int  # matches at least 24 h old
    no_feedback_24h: int
    no_feedback_24h_share: float | None
    due_7d: int
    no_feedback_7d: int
    no_feedback_7d_share: float | None
    median_feedback_seconds: float | None
    last_check_day: date | None
    days_since_last_check: int | None
    silent: bool
    not_blocked_recent_share: float | None
    not_blocked_previous_share: float | None
    not_blocked_rising: bool
    per_day: list[DayFigures] = field(default_factory=list)
    # LEAD (issue 21 item 1): webhook_health(client_id, period) of the webhooks branch,
    # passed to RecordService(webhook_health=...) in container.Services; None: no webhooks
    webhooks: Mapping[str, Any] | None = None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class CheckCounter:
    """This process's checks per (client, UTC day) not yet added to ``check_day``.

    A check without a match writes nothing (it is answered from memory in microseconds),
    so counting it is a dict update under a lock, keyed by the UTC day as a number (no
    date object per check: this is on every check's path); :meth:`flush` adds the counts
    to the database in one transaction (every few seconds, at shutdown, and before a
    record is read). A process killed with ``kill -9`` loses at most its last few
    seconds of counts.
    """

    def __init__(self, time_source: Callable[[], float] = clock.time) -> None:
        self.time_source = time_source
        self._counts: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    def add(self, client_id: int | None, n: int = 1) -> None:
        if client_id is None or n <= 0:
            return
        key = (client_id, int(self.time_source() // 86_400))  # days since 1970-01-01 UTC
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def flush(self, db: Database) -> None:
        """Add the pending counts to the database; on failure they are kept for the next."""
        with self._lock:
            pending, self._counts = self._counts, {}
        if not pending:
            return
        rows = {(c, _day(date.fromordinal(_EPOCH + d))): n for (c, d), n in pending.items()}
        try:
            with db.write() as session:
                RecordRepository(session).add_checks(rows)
        except Exception:
            with self._lock:
                for key, n in pending.items():
                    self._counts[key] = self._counts.get(key, 0) + n
            raise


_EPOCH = date(1970, 1, 1).toordinal()


def _no_webhooks(client_id: int, period: Period) -> Mapping[str, Any] | None:
    return None


class RecordService:
    """The records of platforms (API clients) over a period."""

    def __init__(
        self,
        db: Database,
        counter: CheckCounter,
        *,
        silent_after_days: int,
        webhook_health: WebhookHealth = _no_webhooks,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.counter = counter
        self.silent_after_days = silent_after_days
        self.webhook_health = webhook_health
        self.clock = clock

    def period(self, start: str | None, end: str | None) -> Period:
        """See :meth:`Period.parse` (today is the service clock's UTC day)."""
        return Period.parse(start, end, self.clock().date())

    def record(self, client_id: int, period: Period) -> PlatformRecord:
        """One platform's record.

        Raises:
            NotFound: no client has that id.
        """
        (record,) = self._records(period, client_id)
        return record

    def overview(self, period: Period) -> list[PlatformRecord]:
        """Every platform's record (revoked ones included), by name."""
        return self._records(period, None)

    def _records(self, period: Period, client_id: int | None) -> list[PlatformRecord]:
        self.counter.flush(self.db)  # this process's latest checks count too
        now = self.clock()
        rise_start = period.end - timedelta(days=2 * RISE_WINDOW_DAYS)
        read_from = min(period.start, rise_start)
        with self.db.read() as session:
            repo = RecordRepository(session)
            clients = [c for c in repo.clients() if client_id is None or c[0] == client_id]
            if client_id is not None and not clients:
                raise NotFound(f"no client {client_id}")
            checks = repo.checks_per_day(_day(period.start), _day(period.end), client_id)
            last_days = repo.last_check_days()
            facts: dict[int, list[MatchFact]] = {}
            for fact in repo.matches(_midnight(read_from), _midnight(period.end), client_id):
                facts.setdefault(fact.client_id, []).append(fact)
        return [
            self._record(
                cid,
                name,
                created,
                revoked is not None,
                period,
                now,
                {d: n for (c, d), n in checks.items() if c == cid},
                last_days.get(cid),
                facts.get(cid, []),
            )
            for cid, name, created, revoked, _ in clients
        ]

    def _record(
        self,
        client_id: int,
        name: str,
        created: datetime,
        revoked: bool,
        period: Period,
        now: datetime,
        checks: Mapping[str, int],
        last_day: str | None,
        all_facts: list[MatchFact],
    ) -> PlatformRecord:
        start, end = _midnight(period.start), _midnight(period.end)
        facts = [f for f in all_facts if start <= f.created_at < end]
        by_value = Counter(f.feedback or "none" for f in facts)
        feedback_by_value = {v: by_value.get(v, 0) for v in FEEDBACK_VALUES}
        n = len(facts)
        due_24h, late_24h = _late(facts, now, timedelta(hours=24))
        due_7d, late_7d = _late(facts, now, timedelta(days=7))
        delays = [
            (f.feedback_at - f.created_at).total_seconds()
            for f in facts
            if f.feedback is not None and f.feedback_at is not None
        ]
        today = now.date()
        last = date.fromisoformat(last_day) if last_day else None
        since = (today - last).days if last is not None else None
        silent = not revoked and (
            since >= self.silent_after_days
            if since is not None
            else (today - created.date()).days >= self.silent_after_days
        )
        recent, previous = _rise_windows(all_facts, period.end)
        rising = (
            recent is not None
            and previous is not None
            and round(recent - previous, 4) >= RISE_POINTS
        )
        matches_per_day = Counter(f.created_at.date() for f in facts)
        attempts_per_day = Counter(f.created_at.date() for f in facts if f.attempt)
        per_day = [
            DayFigures(
                d,
                checks.get(_day(d), 0),
                matches_per_day.get(d, 0),
                attempts_per_day.get(d, 0),
            )
            for d in (period.start + timedelta(days=i) for i in range(period.days))
        ]
        return PlatformRecord(
            client_id=client_id,
            name=name,
            revoked=revoked,
            period=period,
            made_at=now,
            checks=sum(checks.values()),
            matches=n,
            reupload_attempts=sum(1 for f in facts if f.attempt),
            feedback=n - feedback_by_value["none"],
            feedback_by_value=feedback_by_value,
            feedback_shares={v: _share(c, n) for v, c in feedback_by_value.items()},
            due_24h=due_24h,
            no_feedback_24h=late_24h,
            no_feedback_24h_share=_share(late_24h, due_24h),
            due_7d=due_7d,
            no_feedback_7d=late_7d,
            no_feedback_7d_share=_share(late_7d, due_7d),
            median_feedback_seconds=round(statistics.median(delays), 1) if delays else None,
            last_check_day=last,
            days_since_last_check=since,
            silent=silent,
            not_blocked_recent_share=recent,
            not_blocked_previous_share=previous,
            not_blocked_rising=rising,
            per_day=per_day,
            webhooks=self.webhook_health(client_id, period),
        )


def _late(facts: Iterable[MatchFact], now: datetime, after: timedelta) -> tuple[int, int]:
    """(matches at least ``after`` old, those of them with no feedback within ``after``)."""
    due = late = 0
    for f in facts:
        if f.created_at + after > now:
            continue
        due += 1
        if f.feedback is None or f.feedback_at is None or f.feedback_at > f.created_at + after:
            late += 1
    return due, late


def _rise_windows(facts: Iterable[MatchFact], end: date) -> tuple[float | None, float | None]:
    """The share of not_blocked among the feedback on the matches of the last
    RISE_WINDOW_DAYS before ``end``, and of the RISE_WINDOW_DAYS before those (None: fewer
    than RISE_MIN_FEEDBACK answers)."""
    edge = _midnight(end - timedelta(days=RISE_WINDOW_DAYS))
    first = _midnight(end - timedelta(days=2 * RISE_WINDOW_DAYS))
    last = _midnight(end)
    windows: list[list[str]] = [[], []]
    for f in facts:
        if f.feedback is None or not first <= f.created_at < last:
            continue
        windows[0 if f.created_at >= edge else 1].append(f.feedback)

    def share(values: list[str]) -> float | None:
        if len(values) < RISE_MIN_FEEDBACK:
            return None
        return round(values.count("not_blocked") / len(values), 4)

    return share(windows[0]), share(windows[1])
