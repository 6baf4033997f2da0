"""Platform checks: hashes (or an image) in, action and matches out; matches logged."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from app.index.replica import BankInfo, IndexReplica
from app.services.inputs import HashInput
from app.storage.db import Database
from app.storage.models import BankPolicy, CaseStatus, Match, utcnow
from app.storage.repositories import CaseRepository, MatchRepository

log = logging.getLogger(__name__)

__all__ = ["CheckResult", "CheckService", "MatchOut", "Thresholds"]

ACTION_RANK = {"none": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class Thresholds:
    """Default match distances per perceptual signal type (a bank may override)."""

    pdq: int = 31
    phash: int = 8

    def for_bank(self, signal_type: str, bank: BankInfo) -> int:
        if signal_type == "pdq":
            return bank.pdq_threshold if bank.pdq_threshold is not None else self.pdq
        if signal_type == "phash":
            return bank.phash_threshold if bank.phash_threshold is not None else self.phash
        return 0


@dataclass(frozen=True)
class MatchOut:
    signal_type: str
    distance: int
    bank: str
    match_id: int | None  # None: the database was unreachable, the match is not logged
    action: str


@dataclass
class CheckResult:
    match: bool = False
    action: str = "none"
    matches: list[MatchOut] = field(default_factory=list)


@dataclass
class _Candidate:
    signal_id: int
    signal_type: str
    distance: int
    query_value: str
    bank: BankInfo
    case_id: int | None
    action: str


class CheckService:
    """Answers checks from the in-memory index; writes only when something matched."""

    def __init__(self, db: Database, replica: IndexReplica, thresholds: Thresholds) -> None:
        self.db = db
        self.replica = replica
        self.thresholds = thresholds

    def _radius(self, signal_type: str) -> int:
        """The widest distance any bank accepts for this type (search once, filter per bank)."""
        radius = getattr(self.thresholds, signal_type, 0)
        for bank in list(self.replica.banks.values()):
            radius = max(radius, self.thresholds.for_bank(signal_type, bank))
        return int(radius)

    def find(self, items: Sequence[HashInput]) -> list[_Candidate]:
        """Matches for one item (one uploaded image's hashes); no database access.

        An allow-list hit cancels the matches of its signal type that are farther
        from the query than the allow-list entry: the image a moderator marked as a
        false positive stops matching, while the victim's own image (closer to the
        victim's hash than to the allow-listed look-alike) keeps matching. One
        candidate per case (or per bank entry) and signal type: the closest.
        """
        return self.find_many([items])[0]

    def find_many(self, batch: Sequence[Sequence[HashInput]]) -> list[list[_Candidate]]:
        """:meth:`find` for many items with one index search per signal type in all."""
        values: dict[str, list[str]] = {}
        owners: dict[str, list[int]] = {}
        for i, items in enumerate(batch):
            for item in items:
                values.setdefault(item.type, []).append(item.value)
                owners.setdefault(item.type, []).append(i)
        best: dict[int, dict[tuple[int | None, int, str], _Candidate]] = {}
        allowed: dict[int, dict[str, int]] = {}  # item -> signal type -> closest allow hit
        for signal_type, queries in values.items():
            owner = owners[signal_type]
            for hit in self.replica.search(signal_type, queries, self._radius(signal_type)):
                info = self.replica.info(hit.signal_id)
                if info is None:
                    continue
                bank = self.replica.bank(info.bank_id)
                if bank is None or hit.distance > self.thresholds.for_bank(signal_type, bank):
                    continue
                i = owner[hit.query]
                if bank.policy == BankPolicy.ALLOW:
                    allow = allowed.setdefault(i, {})
                    allow[signal_type] = min(hit.distance, allow.get(signal_type, hit.distance))
                    continue
                action = _action(bank.policy, info.status)
                if action == "none":
                    continue
                key = (info.case_id, info.bank_id if info.case_id is None else 0, signal_type)
                found = best.setdefault(i, {})
                if key not in found or hit.distance < found[key].distance:
                    found[key] = _Candidate(
                        hit.signal_id,
                        signal_type,
                        hit.distance,
                        queries[hit.query],
                        bank,
                        info.case_id,
                        action,
                    )
        out: list[list[_Candidate]] = [[] for _ in batch]
        for i, found in best.items():
            allow = allowed.get(i, {})
            kept = [c for c in found.values() if c.distance <= allow.get(c.signal_type, c.distance)]
            out[i] = sorted(kept, key=lambda c: (c.distance, c.signal_id))
        return out

    def _log(
        self, flat: Sequence[tuple[int, _Candidate]], client_id: int | None, now: datetime
    ) -> list[int | None]:
        """Write the match rows and bump the cases' counters in one transaction."""
        with self.db.write() as session:
            rows = [
                Match(
                    created_at=now,
                    client_id=client_id,
                    signal_id=c.signal_id,
                    case_id=c.case_id,
                    bank_id=c.bank.id,
                    signal_type=c.signal_type,
                    distance=c.distance,
                    query_value=c.query_value,
                    action=c.action,
                )
                for _, c in flat
            ]
            MatchRepository(session).add_many(rows)
            per_case: dict[int, int] = {}
            for _, c in flat:
                if c.case_id is not None:
                    per_case[c.case_id] = per_case.get(c.case_id, 0) + 1
            cases = CaseRepository(session)
            for case_id, n in sorted(per_case.items()):
                cases.bump_matches(case_id, n, now)
            return [row.id for row in rows]

    def record(
        self, found: Sequence[Sequence[_Candidate]], client_id: int | None
    ) -> list[CheckResult]:
        """Log the matches of several items in one transaction; build their results."""
        results = [CheckResult() for _ in found]
        flat = [(i, c) for i, cands in enumerate(found) for c in cands]
        if not flat:
            return results
        now = utcnow()
        try:
            ids = self._log(flat, client_id, now)
        except DBAPIError:
            # The answer comes from memory: a platform still gets "block" while the
            # database is down (it must not let a victim's image through); only the match
            # log entry is lost, and that is logged and counted.
            log.warning("database unreachable: match answered but not logged", exc_info=True)
            ids = [None] * len(flat)
        for (i, c), match_id in zip(flat, ids, strict=True):
            res = results[i]
            res.match = True
            if ACTION_RANK[c.action] > ACTION_RANK[res.action]:
                res.action = c.action
            res.matches.append(MatchOut(c.signal_type, c.distance, c.bank.name, match_id, c.action))
        return results

    def check(self, items: Sequence[HashInput], client_id: int | None) -> CheckResult:
        return self.record([self.find(items)], client_id)[0]

    def check_batch(
        self, batch: Sequence[Sequence[HashInput]], client_id: int | None
    ) -> list[CheckResult]:
        return self.record([self.find(items) for items in batch], client_id)


def _action(policy: BankPolicy, status: str) -> str:
    if status == CaseStatus.PENDING:
        return "review"
    if status in (CaseStatus.ACTIVE, "bank"):
        return {BankPolicy.BLOCK: "block", BankPolicy.REVIEW: "review"}.get(policy, "none")
    return "none"
