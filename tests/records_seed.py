"""A database seeded for the platform-record tests: platforms whose figures are known.

The service's own calls make the clients and the case; matches and check counts of the
past are written as rows (a check of ten days ago cannot be made today). The figures
each platform's record must show are written out in :data:`EXPECTED`, worked out by hand
from the rows below (the comments say how), not computed by the code under test.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update

from app.config import Settings
from app.services.container import Services
from app.services.inputs import HashInput
from app.storage.models import Client, Feedback, Match, Signal, utcnow
from app.storage.records import RecordRepository

H = timedelta(hours=1)
D = timedelta(days=1)

# name -> the figures its record over PERIOD_DAYS days ending today must show
EXPECTED: dict[str, dict[str, Any]] = {
    "acts": {
        "checks": 22,  # 5 today, 10 three days ago, 7 forty days ago
        "matches": 6,
        "reupload_attempts": 5,  # match 6 is a second hash of the same upload
        "feedback": 4,
        "feedback_by_value": {"blocked": 2, "not_blocked": 1, "false_positive": 1, "none": 2},
        "feedback_shares": {
            "blocked": 0.3333,
            "not_blocked": 0.1667,
            "false_positive": 0.1667,
            "none": 0.3333,
        },
        "due_24h": 5,  # all but match 1 (2 h old)
        "no_feedback_24h": 3,  # 3 (after 30 h), 4 (none), 5 (after 8 days)
        "no_feedback_24h_share": 0.6,
        "due_7d": 3,  # matches 4, 5, 6 (10 days old)
        "no_feedback_7d": 2,  # 4 (none), 5 (after 8 days)
        "no_feedback_7d_share": 0.6667,
        "median_feedback_seconds": 57600.0,  # 1 h, 2 h, 30 h, 8 d: (2 h + 30 h) / 2
        "days_since_last_check": 0,
        "silent": False,
        "not_blocked_recent_share": None,  # 4 answers in the last 30 days: fewer than 5
        "not_blocked_rising": False,
    },
    "stopped": {
        "checks": 3,  # twelve days ago
        "matches": 12,
        "reupload_attempts": 12,
        "feedback": 12,
        "feedback_by_value": {"blocked": 7, "not_blocked": 5, "false_positive": 0, "none": 0},
        "due_24h": 12,
        "no_feedback_24h": 0,  # every answer came after an hour
        "no_feedback_24h_share": 0.0,
        "median_feedback_seconds": 3600.0,
        "days_since_last_check": 12,
        "silent": True,  # 12 >= HASHBANK_SILENT_AFTER_DAYS (7)
        "not_blocked_recent_share": 0.6667,  # 4 of 6 in the last 30 days
        "not_blocked_previous_share": 0.1667,  # 1 of 6 in the 30 days before
        "not_blocked_rising": True,
    },
    "never": {
        "checks": 0,
        "matches": 0,
        "feedback_shares": {v: None for v in ("blocked", "not_blocked", "false_positive", "none")},
        "median_feedback_seconds": None,
        "days_since_last_check": None,
        "silent": True,  # a key 30 days old that never checked
        "not_blocked_rising": False,
    },
    "revoked": {"checks": 0, "matches": 0, "silent": False},  # revoked: never flagged
}
PERIOD_DAYS = 90


@dataclass(frozen=True)
class Seeded:
    """What the seeding made: the clients' ids and keys, and the victim data that must
    never leave in a report (case id, PIN, hash values)."""

    url: str
    ids: dict[str, int]
    keys: dict[str, str]
    case_id: str
    pin: str
    hashes: list[str]
    today: date

    @property
    def period(self) -> dict[str, str]:
        end = self.today + D
        return {"from": (end - PERIOD_DAYS * D).isoformat(), "to": end.isoformat()}


def seed(url: str) -> Seeded:
    """Seed the database at ``url`` (made and migrated here) and say what it holds."""
    svc = Services.build(Settings(database_url=url))
    try:
        ids: dict[str, int] = {}
        keys: dict[str, str] = {}
        for name in ("acts", "stopped", "never", "revoked"):
            new = svc.clients.create(name, ["check"], actor="test")
            ids[name], keys[name] = new.client.id, new.key
        svc.clients.revoke("revoked", actor="test")
        values = [secrets.token_hex(32), secrets.token_hex(32)]
        case = svc.cases.report(
            [HashInput("pdq", v, 90) for v in values], actor="reporter", client_id=None
        )
        now = utcnow()
        today = now.date()
        with svc.db.write() as s:
            signals = s.scalars(select(Signal).order_by(Signal.id)).all()
            case_pk = signals[0].case_id
            s.execute(
                update(Client).where(Client.id == ids["never"]).values(created_at=now - 30 * D)
            )

            def match(
                client: str,
                ago: timedelta,
                feedback: str | None = None,
                after: timedelta | None = None,
                attempt: bool = True,
                n: int = 0,
            ) -> Match:
                at = now - ago
                sig = signals[n % len(signals)]
                return Match(
                    created_at=at,
                    client_id=ids[client],
                    signal_id=sig.id,
                    case_id=case_pk,
                    bank_id=sig.bank_id,
                    signal_type="pdq",
                    distance=0,
                    query_value=sig.value,
                    action="review",
                    feedback=Feedback(feedback) if feedback else None,
                    feedback_at=at + after if feedback and after else None,
                    attempt=attempt,
                )

            rows = [
                match("acts", 2 * H),  # 1: too young to be late
                match("acts", 3 * D, "blocked", 1 * H),  # 2
                match("acts", 3 * D, "not_blocked", 30 * H),  # 3
                match("acts", 10 * D),  # 4
                match("acts", 10 * D, "false_positive", 8 * D),  # 5
                match("acts", 10 * D, "blocked", 2 * H, attempt=False, n=1),  # 6
            ]
            recent = ["blocked"] * 2 + ["not_blocked"] * 4
            previous = ["blocked"] * 5 + ["not_blocked"]
            rows += [match("stopped", 5 * D, f, 1 * H) for f in recent]
            rows += [match("stopped", 45 * D, f, 1 * H) for f in previous]
            s.add_all(rows)
            day = lambda ago: (today - ago).isoformat()  # noqa: E731
            RecordRepository(s).add_checks(
                {
                    (ids["acts"], day(0 * D)): 5,
                    (ids["acts"], day(3 * D)): 10,
                    (ids["acts"], day(40 * D)): 7,
                    (ids["stopped"], day(12 * D)): 3,
                }
            )
        return Seeded(url, ids, keys, case.case_id, case.pin, values, today)
    finally:
        svc.close()
