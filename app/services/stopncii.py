"""StopNCII's partner API over this bank: hash records by time, platforms' feedback on
hashes, platforms' submissions as pending cases (routes: ``/compat/stopncii/v1``).

A StopNCII record is the state of one hash *value* across every case holding it, so a
record is built from the change log (which values changed, in sequence order) and the
current state of those values (``ExchangeRepository.held``), never from one change alone:
a value one case withdrew while another still holds it stays ``Active``.

Status of one stored hash (``caseNumbers``' values), the record's ``hashStatus`` being the
first of Active, Received, Withdrawn, Deleted that any of its hashes has::

    bank entry (imported, no case)     Active (Received while quarantined)
    case pending, bank policy block    Active (StopNCII's own hashes are unreviewed too)
    case pending, bank policy review   Received
    case active                        Active (Received while quarantined)
    case withdrawn                     Withdrawn
    case rejected, hash deleted        Deleted

Allow-list banks (hashes of other platforms' users' images) are never sent: a record has
no bank, so a consumer could not tell them from abuse. Types with no StopNCII name in the
signal-type registry (``exchange_names["stopncii"]``) are left out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

import hashes
from app.errors import BadRequest, InvalidInput
from app.services import audit
from app.services.cases import CaseService, NewCase
from app.services.feed import GroupTokens
from app.services.inputs import HashInput, validate_hashes
from app.storage.db import Database
from app.storage.exchanges import ExchangeRepository, HeldSignal, ValueChange
from app.storage.models import BankPolicy, utcnow
from app.storage.repositories import BankRepository

__all__ = [
    "CSP_FEEDBACK_VALUES",
    "SYSTEM",
    "CSPFeedbackValue",
    "FetchPage",
    "HashFeedbackIn",
    "HashRecord",
    "StopNCIIService",
]

SYSTEM = "stopncii"  # the key of a spec's exchange_names
# StopNCIICSPFeedbackValue in python-threatexchange
CSPFeedbackValue = Literal[
    "Unknown",
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
]
CSP_FEEDBACK_VALUES: tuple[str, ...] = get_args(CSPFeedbackValue)
# the order a record's hashStatus takes its hashes' statuses in
_PRECEDENCE = ("Active", "Received", "Withdrawn", "Deleted")
_TOKEN = re.compile(r"([0-9]{1,19})\.([0-9]{1,12})\.([0-9a-f]{16})")
_PAGE = b"stopncii-page"
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: datetime's last second


@dataclass(frozen=True)
class HashRecord:
    lastModtimestamp: int
    signalType: str
    hashValue: str
    hashStatus: str
    caseNumbers: dict[str, str]
    CSPFeedbacks: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class FetchPage:
    count: int
    nextPageToken: str
    nextSetTimestamp: int
    hasMoreRecords: bool
    hashRecords: list[HashRecord]


@dataclass(frozen=True)
class HashFeedbackIn:
    hash_value: str
    feedback: str
    tags: Sequence[str] = ()


def _status(h: HeldSignal) -> str:
    """One stored hash's StopNCII status (the table in the module docstring)."""
    if h.deleted or h.case_status == "rejected":
        return "Deleted"
    if h.case_status == "withdrawn":
        return "Withdrawn"
    if h.quarantined:
        return "Received"
    if h.case_status == "pending" and h.bank_policy != BankPolicy.BLOCK:
        return "Received"
    return "Active"


def _aggregate(statuses: Sequence[str]) -> str:
    if not statuses:
        return "Deleted"  # no stored hash holds it any more
    return min(statuses, key=_PRECEDENCE.index)


def _seconds(at: datetime) -> int:
    return math.floor(at.timestamp())


class StopNCIIService:
    """The StopNCII-compatible partner API's use cases.

    ``types``: the enabled signal types; those with a StopNCII name are exchanged.
    """

    def __init__(
        self,
        db: Database,
        types: hashes.SignalRegistry,
        cases: CaseService,
        groups: GroupTokens | None = None,
    ) -> None:
        self.db = db
        self.types = types
        self.cases = cases
        self.groups = groups or GroupTokens(db)
        # hashbank's type name -> StopNCII's, for the types StopNCII has a name for
        self.names = {s.name: s.exchange_names[SYSTEM] for s in types if SYSTEM in s.exchange_names}

    # -- page tokens -----------------------------------------------------------------------
    def _token(self, seq: int, checkpoint: int) -> str:
        body = f"{seq}.{checkpoint}"
        return f"{body}.{self.groups.mac(_PAGE, body.encode())}"

    def _position_of(self, token: str) -> tuple[int, int]:
        """The (sequence number, checkpoint) a page token stands for.

        Raises:
            BadRequest: not a token this deployment made.
        """
        m = _TOKEN.fullmatch(token)
        if m is None or self.groups.mac(_PAGE, f"{m[1]}.{m[2]}".encode()) != m[3]:
            raise BadRequest("nextPageToken is not a token this service gave")
        seq, checkpoint = int(m[1]), int(m[2])
        if seq > 2**63 - 1 or checkpoint > MAX_TIMESTAMP:
            raise BadRequest("nextPageToken is not a token this service gave")
        return seq, checkpoint

    # -- FetchHashes -----------------------------------------------------------------------
    def fetch(
        self,
        start_timestamp: int,
        page_size: int,
        token: str | None,
        *,
        client_id: int,
        client_name: str = "",
    ) -> FetchPage:
        """One page of hash records: the values changed after the token's position, or at
        or after ``start_timestamp`` (Unix seconds) without a token, each with its current
        state and the caller's own feedback. A page holds at most ``page_size`` records
        (fewer when a value changed twice in it). ``nextSetTimestamp`` is a safe
        checkpoint: a fetch started from it sees every change after this page (and some
        of this page's last second again); ``nextPageToken`` resumes exactly.

        Raises:
            BadRequest: a token this service did not give.
            InvalidInput: a page size outside 1-1000 or a time out of range.
        """
        if not 1 <= page_size <= 1000:
            raise InvalidInput("pageSize must be between 1 and 1000")
        if not 0 <= start_timestamp <= MAX_TIMESTAMP:
            raise InvalidInput(f"startTimestamp must be between 0 and {MAX_TIMESTAMP}")
        if token:
            after, checkpoint = self._position_of(token)
        with self.db.read() as session:
            hidden = {b.id for b in BankRepository(session).list() if b.policy == BankPolicy.ALLOW}
            repo = ExchangeRepository(session)
            head = repo.head()  # every change up to it is committed (the log's lock)
            if not token:
                after = repo.seq_before(datetime.fromtimestamp(start_timestamp, UTC))
                checkpoint = start_timestamp
            # most platforms never send feedback: then no look-up of it per value
            asker = client_id if repo.any_feedback(client_id) else None
            rows = repo.value_states(after, page_size + 1, list(self.names), hidden, asker)
        # one row per (change, stored hash of its value): the changes, in order, first
        changes: list[ValueChange] = []
        held: dict[tuple[str, str], dict[int, HeldSignal]] = {}
        own: dict[tuple[str, str], tuple[str, str]] = {}
        for row in rows:
            if not changes or changes[-1].seq != row.change.seq:
                changes.append(row.change)
            key = (row.change.signal_type, row.change.value)
            if row.held is not None:
                # a value changed twice in the page comes with its hashes twice
                held.setdefault(key, {})[row.held.signal_id] = row.held
            if row.feedback is not None:
                own[key] = row.feedback
        more = len(changes) > page_size
        changes = changes[:page_size]
        latest: dict[tuple[str, str], ValueChange] = {}
        for change in changes:
            latest[(change.signal_type, change.value)] = change
        if changes:
            after, checkpoint = changes[-1].seq, _seconds(changes[-1].at)
        if not more:
            # nothing else of ours up to ``head``: the next page need not scan it again
            after = max(after, head)
        records = []
        tokens: dict[int, str | None] = {}  # case id -> its token (a case has several hashes)
        for key, change in sorted(latest.items(), key=lambda kv: kv[1].seq):
            signals = list(held.get(key, {}).values())
            cases: dict[str, str] = {}
            for h in signals:
                if h.case_id is None:
                    continue
                group = tokens.get(h.case_id)
                if group is None:
                    group = tokens[h.case_id] = self.groups.of(h.case_id)
                if group is not None:
                    status = _status(h)
                    cases[group] = _aggregate([status, cases.get(group, status)])
            feedbacks: list[dict[str, object]] = []
            if key in own:
                value, tags = own[key]
                feedbacks.append(
                    {"feedbackValue": value, "tags": json.loads(tags), "source": client_name}
                )
            records.append(
                HashRecord(
                    lastModtimestamp=_seconds(change.at),
                    signalType=self.names[change.signal_type],
                    hashValue=change.value,
                    hashStatus=_aggregate([_status(h) for h in signals]),
                    caseNumbers=cases,
                    CSPFeedbacks=feedbacks,
                )
            )
        return FetchPage(
            count=len(records),
            nextPageToken=self._token(after, checkpoint),
            nextSetTimestamp=checkpoint,
            hasMoreRecords=more,
            hashRecords=records,
        )

    # -- SubmitFeedback --------------------------------------------------------------------
    def _types_of(self, value: str) -> list[tuple[str, str]]:
        """(type, normalised value) for each exchanged type that can read ``value``."""
        out = []
        for name in self.names:
            try:
                out.append((name, self.types.parse(name, value)))
            except hashes.InvalidHash:
                continue
        return out

    def submit_feedback(
        self, items: Sequence[HashFeedbackIn], *, client_id: int, client_name: str
    ) -> int:
        """Record a platform's feedback on hash values (the latest per value replaces what
        it said before). Only values a visible bank holds are recorded: feedback on
        anything else is dropped (a key cannot fill the table with values of its own).
        Returns how many were recorded.

        Raises:
            InvalidInput: a value no exchanged type can read, or an unknown feedback value.
        """
        wanted: dict[tuple[str, str], tuple[str, str]] = {}
        for i, item in enumerate(items):
            if item.feedback not in CSP_FEEDBACK_VALUES:
                raise InvalidInput(
                    f"hashFeedbacks[{i}].feedbackValue must be one of "
                    + ", ".join(CSP_FEEDBACK_VALUES)
                )
            pairs = self._types_of(item.hash_value)
            if not pairs:
                raise InvalidInput(
                    f"hashFeedbacks[{i}].hashValue is not a hash of "
                    + ", ".join(sorted(self.names.values()) or ["any exchanged type"])
                )
            tags = json.dumps(sorted(set(item.tags)))
            for pair in pairs:
                wanted[pair] = (item.feedback, tags)
        if not wanted:
            return 0
        now = utcnow()
        with self.db.write() as session:
            hidden = {b.id for b in BankRepository(session).list() if b.policy == BankPolicy.ALLOW}
            repo = ExchangeRepository(session)
            held = {(h.signal_type, h.value) for h in repo.held(list(wanted), hidden)}
            rows = [(k, v, fb, tags) for (k, v), (fb, tags) in wanted.items() if (k, v) in held]
            recorded = repo.put_feedback(client_id, rows, now)
            if recorded:
                counts: dict[str, int] = {}
                for _k, _v, fb, _t in rows:
                    counts[fb] = counts.get(fb, 0) + 1
                audit.record(
                    session,
                    f"client:{client_name}",
                    "hash.feedback",
                    "client",
                    client_id,
                    **counts,
                )
        return recorded

    # -- SubmitHashes ----------------------------------------------------------------------
    def spec_of(self, signal_type: str) -> hashes.SignalSpec | None:
        """The enabled type StopNCII calls ``signal_type``. python-threatexchange 1.2.x sends
        ``str()`` of its enum (``StopNCIISignalType.ImagePDQ``): that is read too."""
        name = signal_type.removeprefix("StopNCIISignalType.")
        return self.types.by_exchange_name(SYSTEM, name)

    def submit_hashes(
        self,
        records: Sequence[tuple[str, str, Sequence[HashFeedbackIn]]],
        *,
        client_id: int,
        client_name: str,
        limit: int,
    ) -> NewCase:
        """A platform's hashes (signalType, hashValue, its own feedback) become one pending
        case reported by that platform, as ``POST /v1/cases`` with a ``report`` key; the
        platform's feedback on them is recorded as by :meth:`submit_feedback`.

        Raises:
            InvalidInput: no hashes, more than ``limit``, a type StopNCII names that is not
                enabled here, a value its type cannot read, or weak hashes.
        """
        items: list[HashInput] = []
        for i, (signal_type, value, _fb) in enumerate(records):
            spec = self.spec_of(signal_type)
            if spec is None or spec.name not in self.names:
                known = ", ".join(sorted(self.names.values()))
                raise InvalidInput(f"hashRecords[{i}].signalType must be one of {known}")
            items.append(HashInput(spec.name, value))
        if len(items) > limit:
            raise InvalidInput(f"a case may hold at most {limit} hashes")
        items = validate_hashes(items, self.types)
        # the platform's own word on each hash (the last it gave), by the normalised value
        feedback = [
            HashFeedbackIn(item.value, fbs[-1].feedback, fbs[-1].tags)
            for item, (_t, _v, fbs) in zip(items, records, strict=True)
            if fbs
        ]
        items = self.cases.prepare(items, quality_required=False)
        new = self.cases.report(
            items,
            actor=f"client:{client_name}",
            client_id=client_id,
            quality_required=False,
        )
        if feedback:
            self.submit_feedback(feedback, client_id=client_id, client_name=client_name)
        return new
