"""SQL of the hash exchanges' compatible routes (StopNCII's partner API): the change log
read by time, the state of hash values across cases, platforms' feedback on hash values."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, null, select
from sqlalchemy.orm import Session

from app.storage.models import (
    NOT_IN_FEED,
    Bank,
    Case,
    Change,
    Client,
    HashFeedback,
    Signal,
    SignalQuarantine,
)

__all__ = [
    "ExchangeRepository",
    "FeedbackRow",
    "HeldSignal",
    "ValueChange",
    "ValueState",
]


@dataclass(frozen=True, slots=True)
class ValueChange:
    """A change-log entry as a hash exchange needs it: which value changed, when."""

    seq: int
    at: datetime
    signal_type: str
    value: str


@dataclass(frozen=True, slots=True)
class HeldSignal:
    """One stored hash of a value, with what decides its state."""

    signal_id: int
    signal_type: str
    value: str
    case_id: int | None
    case_status: str | None  # None: a bank's own entry (imported), no case
    bank_policy: str
    deleted: bool
    quarantined: bool


@dataclass(frozen=True, slots=True)
class ValueState:
    """A changed value (``change``) with one stored hash holding it (``held``: None when
    none does any more) and the asking client's feedback on it (feedback, JSON tags)."""

    change: ValueChange
    held: HeldSignal | None
    feedback: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    signal_type: str
    value: str
    client: str
    feedback: str
    tags: tuple[str, ...]
    at: datetime


def _by_type(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, value in sorted(set(pairs)):
        out.setdefault(kind, []).append(value)
    return out


class ExchangeRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def head(self) -> int:
        return int(self.s.scalar(select(func.max(Change.seq))) or 0)

    def seq_before(self, at: datetime) -> int:
        """The sequence number to read after so as to see every change made at or after
        ``at``: one before the lowest sequence number of those changes (their times are
        not strictly in sequence order: a transaction stamps its time before it takes the
        log's lock). Read from ``ix_change_at``; a time before the first change is 0."""
        first = self.s.scalar(select(func.min(Change.at)))
        if first is None or at <= first:
            return 0
        lowest = self.s.scalar(select(func.min(Change.seq)).where(Change.at >= at))
        if lowest is None:
            return self.head()
        return int(lowest) - 1

    def value_states(
        self,
        after: int,
        limit: int,
        types: Collection[str],
        hidden_banks: Collection[int],
        client_id: int | None,
    ) -> list[ValueState]:
        """Up to ``limit`` changes after ``after`` of values of ``types`` outside
        ``hidden_banks`` (erased values left out), joined to every stored hash of each
        value outside ``hidden_banks`` and to ``client_id``'s feedback on it (None: none
        looked up): one row per (change, hash), in sequence order. One statement, each
        value looked up through the (type, value) index: a page of 1,000 values is one
        round trip with no list of 1,000 bound values to expand."""
        if not types:
            return []
        page_where = [
            Change.seq > after,
            Change.op.not_in(NOT_IN_FEED),
            Change.signal_type.in_(sorted(types)),
            Change.value.is_not(None),
        ]
        if hidden_banks:
            page_where.append(Change.bank_id.not_in(sorted(hidden_banks)))
        page = (
            select(Change.seq, Change.at, Change.signal_type, Change.value)
            .where(*page_where)
            .order_by(Change.seq)
            .limit(limit)
            .subquery()
        )
        same_value = and_(Signal.type == page.c.signal_type, Signal.value == page.c.value)
        if hidden_banks:
            same_value = and_(same_value, Signal.bank_id.not_in(sorted(hidden_banks)))
        stmt = (
            select(
                page.c.seq,
                page.c.at,
                page.c.signal_type,
                page.c.value,
                Signal.case_id,
                Case.status,
                Bank.policy,
                Signal.deleted_at.is_not(None),  # a flag: no timestamp to parse per row
                SignalQuarantine.state,
                HashFeedback.feedback if client_id is not None else null(),
                HashFeedback.tags if client_id is not None else null(),
                Signal.id,
            )
            .select_from(page)
            .outerjoin(Signal, same_value)
            .outerjoin(Bank, Bank.id == Signal.bank_id)
            .outerjoin(Case, Case.id == Signal.case_id)
            .outerjoin(SignalQuarantine, SignalQuarantine.signal_id == Signal.id)
        )
        if client_id is not None:
            stmt = stmt.outerjoin(
                HashFeedback,
                and_(
                    HashFeedback.client_id == client_id,
                    HashFeedback.signal_type == page.c.signal_type,
                    HashFeedback.value == page.c.value,
                ),
            )
        stmt = stmt.order_by(page.c.seq)
        out: list[ValueState] = []
        for r in self.s.execute(stmt).all():
            kind, value = str(r[2]), str(r[3])
            held = None
            if r[11] is not None:
                held = HeldSignal(
                    int(r[11]),
                    kind,
                    value,
                    r[4],
                    str(r[5]) if r[5] is not None else None,
                    str(r[6]),
                    bool(r[7]),
                    r[8] == "quarantined",
                )
            out.append(
                ValueState(
                    ValueChange(int(r[0]), r[1], kind, value),
                    held,
                    (str(r[9]), str(r[10] or "[]")) if r[9] is not None else None,
                )
            )
        return out

    def held(
        self, pairs: Collection[tuple[str, str]], hidden_banks: Collection[int]
    ) -> list[HeldSignal]:
        """Every stored hash (deleted ones too) equal to a (type, value) of ``pairs``, outside
        ``hidden_banks``, looked up through the (type, value) index."""
        out: list[HeldSignal] = []
        for kind, values in _by_type(pairs).items():
            for start in range(0, len(values), 500):
                stmt = (
                    select(
                        Signal.id,
                        Signal.type,
                        Signal.value,
                        Signal.case_id,
                        Case.status,
                        Bank.policy,
                        Signal.deleted_at,
                        SignalQuarantine.state,
                    )
                    .join(Bank, Bank.id == Signal.bank_id)
                    .outerjoin(Case, Case.id == Signal.case_id)
                    .outerjoin(SignalQuarantine, SignalQuarantine.signal_id == Signal.id)
                    .where(Signal.type == kind, Signal.value.in_(values[start : start + 500]))
                )
                if hidden_banks:
                    stmt = stmt.where(Signal.bank_id.not_in(sorted(hidden_banks)))
                out += [
                    HeldSignal(
                        int(r[0]),
                        str(r[1]),
                        str(r[2]),
                        r[3],
                        str(r[4]) if r[4] is not None else None,
                        str(r[5]),
                        r[6] is not None,
                        r[7] == "quarantined",
                    )
                    for r in self.s.execute(stmt).all()
                ]
        return out

    def feedback_of(
        self, client_id: int, pairs: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], HashFeedback]:
        """One client's feedback on any of ``pairs``."""
        out: dict[tuple[str, str], HashFeedback] = {}
        for kind, values in _by_type(pairs).items():
            for start in range(0, len(values), 500):
                stmt = select(HashFeedback).where(
                    HashFeedback.client_id == client_id,
                    HashFeedback.signal_type == kind,
                    HashFeedback.value.in_(values[start : start + 500]),
                )
                for row in self.s.scalars(stmt):
                    out[(row.signal_type, row.value)] = row
        return out

    def any_feedback(self, client_id: int) -> bool:
        stmt = select(HashFeedback.value).where(HashFeedback.client_id == client_id).limit(1)
        return self.s.scalar(stmt) is not None

    def put_feedback(
        self, client_id: int, rows: Iterable[tuple[str, str, str, str]], at: datetime
    ) -> int:
        """Set the client's feedback (type, value, feedback, tags) on each hash, replacing
        what it said before. Returns how many rows were written."""
        wanted = {(kind, value): (fb, tags) for kind, value, fb, tags in rows}
        have = self.feedback_of(client_id, list(wanted))
        for (kind, value), (fb, tags) in sorted(wanted.items()):
            row = have.get((kind, value))
            if row is None:
                self.s.add(
                    HashFeedback(
                        client_id=client_id,
                        signal_type=kind,
                        value=value,
                        feedback=fb,
                        tags=tags,
                        at=at,
                    )
                )
            else:
                row.feedback, row.tags, row.at = fb, tags, at
        self.s.flush()
        return len(wanted)

    def feedback_on(self, pairs: Collection[tuple[str, str]]) -> list[FeedbackRow]:
        """Every client's feedback on any of ``pairs`` (the dashboard), newest first."""
        out: list[FeedbackRow] = []
        for kind, values in _by_type(pairs).items():
            for start in range(0, len(values), 500):
                stmt = (
                    select(HashFeedback, Client.name)
                    .join(Client, Client.id == HashFeedback.client_id)
                    .where(
                        HashFeedback.signal_type == kind,
                        HashFeedback.value.in_(values[start : start + 500]),
                    )
                )
                out += [
                    FeedbackRow(
                        fb.signal_type,
                        fb.value,
                        str(name),
                        fb.feedback,
                        tuple(str(t) for t in json.loads(fb.tags or "[]")),
                        fb.at,
                    )
                    for fb, name in self.s.execute(stmt).all()
                ]
        return sorted(out, key=lambda r: r.at, reverse=True)

    def erase_orphan_feedback(self, pairs: Collection[tuple[str, str]]) -> int:
        """Delete feedback on any of ``pairs`` that no stored hash holds any more (the
        retention job, once it erased a closed case's hashes)."""
        removed = 0
        for kind, values in _by_type(pairs).items():
            held = exists().where(
                and_(Signal.type == HashFeedback.signal_type, Signal.value == HashFeedback.value)
            )
            result = self.s.execute(
                delete(HashFeedback).where(
                    HashFeedback.signal_type == kind, HashFeedback.value.in_(values), ~held
                )
            )
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return removed
