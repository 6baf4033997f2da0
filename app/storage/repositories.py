"""Repositories: the only code that writes SQL. Each wraps one session.

``IntegrityError`` becomes :class:`app.errors.Conflict` here, so services never see
driver exceptions.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, case, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.storage.models import (
    NOT_IN_FEED,
    AuditEvent,
    Bank,
    BankThreshold,
    Base,
    Case,
    CaseStatus,
    Change,
    ChangeOp,
    Client,
    DashboardSession,
    Match,
    Signal,
    SignalQuarantine,
    User,
    utcnow,
)
from app.storage.rows import (
    AuditEventRow,
    BankEntryRow,
    BankRow,
    CaseRow,
    ChangeRow,
    HashRow,
    MatchRow,
    QuarantineRow,
    SignalInContext,
    SignedIn,
)

__all__ = [
    "CHANGES_CHANNEL",
    "AuditRepository",
    "BankRepository",
    "BankThresholdRepository",
    "CaseRepository",
    "ChangeRepository",
    "ClientRepository",
    "DashboardRepository",
    "IndexedSignal",
    "MatchRepository",
    "QuarantineRepository",
    "SessionRepository",
    "SignalRepository",
    "UserRepository",
    "flush_or_conflict",
]

MATCHABLE = (CaseStatus.PENDING, CaseStatus.ACTIVE)
# The status a quarantined signal has in the change log and the index, whatever its case's
QUARANTINED = "quarantined"
# The PostgreSQL NOTIFY channel a committed change wakes the index followers on
CHANGES_CHANNEL = "hashbank_changes"


def flush_or_conflict(session: Session, what: str) -> None:
    """Flush pending writes; a uniqueness violation becomes :class:`Conflict`."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc


class BankRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def list(self) -> list[BankRow]:
        return [BankRow.of(b) for b in self.s.scalars(select(Bank).order_by(Bank.id))]

    def get(self, bank_id: int) -> Bank | None:
        return self.s.get(Bank, bank_id)

    def by_name(self, name: str) -> Bank | None:
        return self.s.scalars(select(Bank).where(Bank.name == name)).first()

    def add(self, bank: Bank) -> Bank:
        self.s.add(bank)
        flush_or_conflict(self.s, f"bank {bank.name!r}")
        return bank

    def rewrite(self, name: str) -> None:
        """Write bank ``name``'s row back unchanged: a real row write and commit, which
        :meth:`app.services.cases.CaseService.authenticate` spends on an unknown case id
        so that it costs what a wrong PIN's counter update costs."""
        self.s.execute(update(Bank).where(Bank.name == name).values(name=Bank.name))

    def hash_counts(self) -> dict[int, int]:
        rows = self.s.execute(
            select(Signal.bank_id, func.count())
            .where(Signal.deleted_at.is_(None))
            .group_by(Signal.bank_id)
        ).all()
        return {bank_id: count for bank_id, count in rows}


class BankThresholdRepository:
    """Banks' own match distances, one row per (bank, signal type)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def all(self) -> dict[int, dict[str, int]]:
        """Every bank's overrides: bank id -> signal type -> threshold."""
        out: dict[int, dict[str, int]] = {}
        for row in self.s.scalars(select(BankThreshold)):
            out.setdefault(row.bank_id, {})[row.signal_type] = row.threshold
        return out

    def of(self, bank_id: int) -> dict[str, int]:
        rows = self.s.scalars(select(BankThreshold).where(BankThreshold.bank_id == bank_id))
        return {row.signal_type: row.threshold for row in rows}

    def replace(self, bank_id: int, thresholds: dict[str, int | None]) -> None:
        """Set the given types' thresholds (None: back to the default); others unchanged."""
        if not thresholds:
            return
        self.s.execute(
            delete(BankThreshold).where(
                BankThreshold.bank_id == bank_id,
                BankThreshold.signal_type.in_(sorted(thresholds)),
            )
        )
        self.s.add_all(
            BankThreshold(bank_id=bank_id, signal_type=kind, threshold=value)
            for kind, value in sorted(thresholds.items())
            if value is not None
        )
        self.s.flush()


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, case: Case) -> Case:
        self.s.add(case)
        flush_or_conflict(self.s, "case")
        return case

    def by_public_id(self, public_id: str, *, for_update: bool = False) -> Case | None:
        stmt = select(Case).where(Case.public_id == public_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.s.scalars(stmt).first()

    def get(self, case_id: int) -> Case | None:
        return self.s.get(Case, case_id)

    def public_id(self, case_id: int) -> str | None:
        """The public id of the case numbered ``case_id`` (None: no such case)."""
        return self.s.scalar(select(Case.public_id).where(Case.id == case_id))

    def ids_by_public_id(self, public_ids: Collection[str]) -> dict[str, int]:
        """Internal ids of the cases with these public ids (unknown ones left out)."""
        if not public_ids:
            return {}
        stmt = select(Case.public_id, Case.id).where(Case.public_id.in_(sorted(public_ids)))
        return {public_id: case_id for public_id, case_id in self.s.execute(stmt).all()}

    def count_by_status(self) -> dict[str, int]:
        rows = self.s.execute(select(Case.status, func.count()).group_by(Case.status)).all()
        return {str(status): n for status, n in rows}

    def bump_matches(self, case_id: int, n: int, at: datetime) -> None:
        self.s.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(match_count=Case.match_count + n, last_match_at=at)
        )

    def bump_blocked(self, case_id: int) -> None:
        self.s.execute(
            update(Case).where(Case.id == case_id).values(blocked_count=Case.blocked_count + 1)
        )


@dataclass(frozen=True, slots=True)
class MatchableColumns:
    """A batch of matchable signals as columns (case -1 = none, status "bank" = no case)."""

    ids: Sequence[int]
    types: Sequence[str]
    values: Sequence[str]
    banks: Sequence[int]
    cases: Sequence[int]
    statuses: Sequence[str]
    seconds: Sequence[float | None] = ()  # empty: none has a frame time


@dataclass(frozen=True, slots=True)
class IndexedSignal:
    """What an index replica needs of a matchable signal (``value``: the full value)."""

    id: int
    type: str
    value: str
    bank_id: int
    case_id: int | None
    status: str
    seconds: float | None = None


class SignalRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_many(self, signals: Sequence[Signal]) -> None:
        self.s.add_all(signals)
        self.s.flush()

    def insert_bank_entries(
        self,
        bank_id: int,
        entries: Sequence[BankEntryRow],
        *,
        at: datetime,
        note: str | None,
    ) -> list[int]:
        """Insert hashes a bank holds itself (no case) in one multi-row statement without
        ORM objects (~10x faster: bulk imports); return their new ids in the order given."""
        if not entries:
            return []
        ids = self._new_ids(len(entries))
        when, bank, noted = _bound(self.s, Signal, created_at=at, bank_id=bank_id, note=note)
        rows = [
            (sid, bank, e.type, e.value, e.body, e.quality, e.seconds, when, noted)
            for sid, e in zip(ids, entries, strict=True)
        ]
        _executemany(self.s, Signal, ("id", "bank_id", "type", "value", "body", "quality",
                                      "seconds", "created_at", "note"), rows)  # fmt: skip
        return ids

    def _new_ids(self, n: int) -> list[int]:
        """``n`` signal ids nobody else takes: from the sequence on PostgreSQL; on SQLite
        past the largest (writers are serialized, BEGIN IMMEDIATE)."""
        if self.s.get_bind().dialect.name == "postgresql":
            found = self.s.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('signal', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": n},
            ).scalars()
            return [int(i) for i in found]
        top = self.s.scalar(select(func.max(Signal.id))) or 0
        return list(range(top + 1, top + 1 + n))

    def created_at(self, signal_ids: Iterable[int]) -> dict[int, datetime]:
        """signal id -> when it was stored, for those of ``signal_ids`` that exist."""
        ids = sorted(set(signal_ids))
        if not ids:
            return {}
        rows = self.s.execute(select(Signal.id, Signal.created_at).where(Signal.id.in_(ids)))
        return {int(sid): at for sid, at in rows}

    def for_case(self, case_id: int) -> Sequence[Signal]:
        stmt = select(Signal).where(Signal.case_id == case_id).order_by(Signal.id)
        return self.s.scalars(stmt).all()

    def get(self, signal_id: int) -> Signal | None:
        return self.s.get(Signal, signal_id)

    def find_value(self, signal_type: str, value: str) -> Sequence[Signal]:
        stmt = select(Signal).where(Signal.type == signal_type, Signal.value == value)
        return self.s.scalars(stmt.order_by(Signal.id).limit(1000)).all()

    def by_ids(self, ids: Iterable[int]) -> Sequence[Signal]:
        return self.s.scalars(select(Signal).where(Signal.id.in_(list(ids)))).all()

    def bank_entries(self, bank_id: int, values: Collection[tuple[str, str]]) -> list[Signal]:
        """Live hashes held by the bank itself (no case) equal to any (type, value) of
        ``values``, in id order (looked up through the (type, value) index)."""
        by_type: dict[str, list[str]] = {}
        for kind, value in sorted(set(values)):
            by_type.setdefault(kind, []).append(value)
        found: list[Signal] = []
        for kind, wanted in by_type.items():
            for start in range(0, len(wanted), 500):
                stmt = select(Signal).where(
                    Signal.type == kind,
                    Signal.value.in_(wanted[start : start + 500]),
                    Signal.bank_id == bank_id,
                    Signal.case_id.is_(None),
                    Signal.deleted_at.is_(None),
                )
                found.extend(self.s.scalars(stmt).all())
        return sorted(found, key=lambda s: s.id)

    def count_matchable(self) -> int:
        stmt = (
            select(func.count())
            .select_from(Signal)
            .outerjoin(Case, Case.id == Signal.case_id)
            .where(Signal.deleted_at.is_(None))
            .where((Signal.case_id.is_(None)) | (Case.status.in_(MATCHABLE)))
        )
        return self.s.scalar(stmt) or 0

    def iter_matchable(self, batch: int = 100_000) -> Iterator[list[IndexedSignal]]:
        """Every signal that can match, in id order, in batches (for index loading)."""
        last = 0
        while True:
            stmt = (
                select(
                    Signal.id,
                    Signal.type,
                    func.coalesce(Signal.body, Signal.value),
                    Signal.bank_id,
                    Signal.case_id,
                    Case.status,
                    SignalQuarantine.state,
                    Signal.seconds,
                )
                .outerjoin(Case, Case.id == Signal.case_id)
                .outerjoin(SignalQuarantine, SignalQuarantine.signal_id == Signal.id)
                .where(Signal.id > last, Signal.deleted_at.is_(None))
                .where((Signal.case_id.is_(None)) | (Case.status.in_(MATCHABLE)))
                .order_by(Signal.id)
                .limit(batch)
            )
            rows = self.s.execute(stmt).all()
            if not rows:
                return
            yield [
                IndexedSignal(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    QUARANTINED if r[6] == QUARANTINED else str(r[5] or "bank"),
                    r[7],
                )
                for r in rows
            ]
            last = rows[-1][0]

    def iter_matchable_columns(
        self, batch: int = 200_000, *, media_only: bool = False
    ) -> Iterator[MatchableColumns]:
        """Like :meth:`iter_matchable`, as columns of plain values: the fast path for
        loading millions of signals (no ORM rows, no object per signal). ``media_only``:
        only stored videos and frames of videos (``models.MEDIA_ROWS``), what
        a replica standing on a mapped snapshot still reads."""
        last = 0
        # models.MEDIA_ROWS, as the partial index ix_signal_media has it (so it is used)
        media = "AND (s.body IS NOT NULL OR s.seconds IS NOT NULL) " if media_only else ""
        matchable = ", ".join(f"'{status.value}'" for status in MATCHABLE)
        # the DB-API cursor directly: SQLAlchemy Row objects cost more than the query here
        cursor = self.s.connection().connection.cursor()
        try:
            while True:
                # only integers and our own enum values are formatted into the SQL
                cursor.execute(
                    "SELECT s.id, s.type, COALESCE(s.body, s.value), s.bank_id, "  # noqa: S608
                    "COALESCE(s.case_id, -1), "
                    f"CASE WHEN q.state = '{QUARANTINED}' THEN '{QUARANTINED}' "
                    "ELSE COALESCE(c.status, 'bank') END, s.seconds FROM signal s "
                    "LEFT OUTER JOIN case_report c ON c.id = s.case_id "
                    "LEFT OUTER JOIN signal_quarantine q ON q.signal_id = s.id "
                    f"WHERE s.id > {int(last)} AND s.deleted_at IS NULL {media}"
                    f"AND (s.case_id IS NULL OR c.status IN ({matchable})) "
                    f"ORDER BY s.id LIMIT {int(batch)}"
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                ids, types, values, banks, cases, statuses, seconds = zip(*rows, strict=True)
                yield MatchableColumns(ids, types, values, banks, cases, statuses, seconds)
                last = rows[-1][0]
        finally:
            cursor.close()


class MatchRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_many(self, matches: Sequence[Match]) -> None:
        self.s.add_all(matches)
        self.s.flush()

    def get(self, match_id: int, *, for_update: bool = False) -> Match | None:
        stmt = select(Match).where(Match.id == match_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.s.scalars(stmt).first()

    def for_case(self, case_id: int, limit: int = 500) -> Sequence[Match]:
        stmt = (
            select(Match)
            .where(Match.case_id == case_id)
            .order_by(Match.created_at.desc(), Match.id.desc())
            .limit(limit)
        )
        return self.s.scalars(stmt).all()

    def seen_uploads(
        self, client_id: int | None, pairs: set[tuple[int, str]], since: datetime
    ) -> set[tuple[int, str]]:
        """Which (case id, query hash) pairs this client's checks matched since ``since``
        (the case's index narrows the scan to the few matches a case has)."""
        if not pairs:
            return set()
        client = Match.client_id.is_(None) if client_id is None else Match.client_id == client_id
        rows = self.s.execute(
            select(Match.case_id, Match.query_value)
            .where(
                Match.case_id.in_(sorted({case for case, _ in pairs})),
                Match.created_at >= since,
                client,
                Match.query_value.in_(sorted({value for _, value in pairs})),
            )
            .distinct()
        ).all()
        return {(int(case or 0), str(value)) for case, value in rows} & pairs

    def near_query_counts(
        self, client_id: int, signal_ids: Iterable[int], since: datetime
    ) -> dict[int, int]:
        """signal id -> distinct query hashes at a distance above 0 this client's checks
        matched it with since ``since``."""
        ids = sorted(set(signal_ids))
        if not ids:
            return {}
        rows = self.s.execute(
            select(Match.signal_id, func.count(func.distinct(Match.query_value)))
            .where(
                Match.signal_id.in_(ids),
                Match.created_at >= since,
                Match.client_id == client_id,
                Match.distance > 0,
            )
            .group_by(Match.signal_id)
        ).all()
        return {int(sid): int(n) for sid, n in rows}

    def count_since(self, since: datetime) -> int:
        stmt = select(func.count()).select_from(Match).where(Match.created_at >= since)
        return self.s.scalar(stmt) or 0

    def per_day(self, since: datetime) -> list[tuple[str, int]]:
        day = func.date(Match.created_at)
        rows = self.s.execute(
            select(day, func.count()).where(Match.created_at >= since).group_by(day).order_by(day)
        ).all()
        return [(str(d), int(n)) for d, n in rows]


class QuarantineRepository:
    """Stored hashes held for review because they matched far too much."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, signal_id: int, *, for_update: bool = False) -> SignalQuarantine | None:
        stmt = select(SignalQuarantine).where(SignalQuarantine.signal_id == signal_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.s.scalars(stmt).first()

    def states(self, signal_ids: Iterable[int]) -> dict[int, str]:
        """signal id -> state, for those of ``signal_ids`` ever quarantined."""
        ids = list(signal_ids)
        if not ids:
            return {}
        rows = self.s.execute(
            select(SignalQuarantine.signal_id, SignalQuarantine.state).where(
                SignalQuarantine.signal_id.in_(ids)
            )
        ).all()
        return {int(sid): str(state) for sid, state in rows}

    def quarantined_among(self, signal_ids: Sequence[int]) -> set[int]:
        return {sid for sid, st in self.states(signal_ids).items() if st == QUARANTINED}

    def add(self, row: SignalQuarantine) -> bool:
        """Quarantine a signal; False if it already has a row (another process was first)."""
        try:
            with self.s.begin_nested():
                self.s.add(row)
                self.s.flush()
        except IntegrityError:
            return False
        return True

    def list(self, state: str | None = QUARANTINED) -> builtins.list[QuarantineRow]:
        """Quarantined hashes (``state=None``: released ones too), newest first."""
        stmt = (
            select(SignalQuarantine, Signal.type, Signal.case_id, Bank.name)
            .outerjoin(Signal, Signal.id == SignalQuarantine.signal_id)
            .outerjoin(Bank, Bank.id == Signal.bank_id)
        )
        if state is not None:
            stmt = stmt.where(SignalQuarantine.state == state)
        stmt = stmt.order_by(SignalQuarantine.created_at.desc())
        return [_quarantine_row(*r) for r in self.s.execute(stmt).all()]

    def row(self, signal_id: int) -> QuarantineRow | None:
        stmt = (
            select(SignalQuarantine, Signal.type, Signal.case_id, Bank.name)
            .outerjoin(Signal, Signal.id == SignalQuarantine.signal_id)
            .outerjoin(Bank, Bank.id == Signal.bank_id)
            .where(SignalQuarantine.signal_id == signal_id)
        )
        found = self.s.execute(stmt).first()
        return _quarantine_row(*found) if found is not None else None

    def upload_counts(
        self, signal_ids: Iterable[int], since: datetime
    ) -> dict[int, builtins.list[int]]:
        """signal id -> the distinct query hashes each client matched it with since
        ``since``, one number per client (a client checking the same hash again, or many
        times in one batch, is one upload)."""
        ids = list(signal_ids)
        if not ids:
            return {}
        rows = self.s.execute(
            select(Match.signal_id, Match.client_id, func.count(func.distinct(Match.query_value)))
            .where(Match.signal_id.in_(ids), Match.created_at >= since)
            .group_by(Match.signal_id, Match.client_id)
        ).all()
        out: dict[int, builtins.list[int]] = {}
        for sid, _, n in rows:
            out.setdefault(int(sid), []).append(int(n))
        return out


def _quarantine_row(
    q: SignalQuarantine, kind: str | None, case_id: int | None, bank: str | None
) -> QuarantineRow:
    return QuarantineRow(
        q.signal_id,
        kind or "",
        bank or "",
        case_id,
        q.state,
        q.reason,
        q.matches,
        q.clients,
        q.created_at,
        q.released_at,
        q.released_by,
    )


class ClientRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, client: Client) -> Client:
        self.s.add(client)
        flush_or_conflict(self.s, f"client {client.name!r}")
        return client

    def by_key_hash(self, key_hash: str) -> Client | None:
        return self.s.scalars(select(Client).where(Client.key_hash == key_hash)).first()

    def by_name(self, name: str) -> Client | None:
        return self.s.scalars(select(Client).where(Client.name == name)).first()

    def get(self, client_id: int) -> Client | None:
        return self.s.get(Client, client_id)

    def list(self) -> Sequence[Client]:
        return self.s.scalars(select(Client).order_by(Client.id)).all()

    def touch(self, last_used: dict[int, datetime]) -> None:
        for client_id, at in last_used.items():
            self.s.execute(update(Client).where(Client.id == client_id).values(last_used_at=at))


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, user: User) -> User:
        self.s.add(user)
        flush_or_conflict(self.s, f"user {user.username!r}")
        return user

    def by_username(self, username: str) -> User | None:
        return self.s.scalars(select(User).where(User.username == username)).first()

    def by_username_for_update(self, username: str) -> User | None:
        """The user, its row locked until the transaction ends (PostgreSQL: ``FOR
        UPDATE``; SQLite's write transactions are serial anyway), so that concurrent
        sign-ins count their failures one after another instead of over each other."""
        stmt = select(User).where(User.username == username).with_for_update()
        return self.s.scalars(stmt).first()

    def get(self, user_id: int) -> User | None:
        return self.s.get(User, user_id)

    def list(self) -> Sequence[User]:
        return self.s.scalars(select(User).order_by(User.id)).all()

    def count(self) -> int:
        return self.s.scalar(select(func.count()).select_from(User)) or 0


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, event: AuditEvent) -> None:
        self.s.add(event)

    def latest(self, action: str, since: datetime) -> dict[str, datetime]:
        """object id -> its latest ``action`` event since ``since``."""
        rows = self.s.execute(
            select(AuditEvent.object_id, func.max(AuditEvent.at))
            .where(AuditEvent.action == action, AuditEvent.at >= since)
            .group_by(AuditEvent.object_id)
        ).all()
        return {str(oid): at for oid, at in rows}


class ChangeRepository:
    """The change log. Appends are serialized so sequence numbers commit in order."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def _serialize(self) -> None:
        # On PostgreSQL, concurrent transactions could commit sequence numbers out of
        # order, and a follower that already read seq 7 would never see seq 6. An
        # exclusive lock on the table until commit makes commit order = seq order.
        # SQLite serializes writers anyway (BEGIN IMMEDIATE).
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("LOCK TABLE change_log IN EXCLUSIVE MODE"))

    def append(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        self._serialize()
        self.s.add_all(changes)
        self.s.flush()
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text(f"NOTIFY {CHANGES_CHANNEL}"))

    def append_bank_entries(
        self,
        op: ChangeOp,
        bank_id: int,
        ids: Sequence[int],
        entries: Sequence[BankEntryRow],
        status: str,
        at: datetime,
    ) -> None:
        """Append one change per new bank entry (see
        :meth:`SignalRepository.insert_bank_entries`), without ORM objects. New signals
        are not quarantined, so ``status`` is every change's."""
        if not ids:
            return
        self._serialize()
        when, code, bank, state = _bound(
            self.s, Change, at=at, op=op, bank_id=bank_id, status=status
        )
        rows = [
            (when, code, sid, bank, e.type, e.value, state, e.seconds)
            for sid, e in zip(ids, entries, strict=True)
        ]
        _executemany(self.s, Change, ("at", "op", "signal_id", "bank_id", "signal_type",
                                      "value", "status", "seconds"), rows)  # fmt: skip
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text(f"NOTIFY {CHANGES_CHANNEL}"))

    def for_signals(
        self, op: ChangeOp, signals: Iterable[Signal], status: str, at: datetime | None = None
    ) -> list[Change]:
        """Changes stating ``signals`` with ``status``; a quarantined signal that stays
        matchable keeps the status ``quarantined`` whatever its case's becomes."""
        when = at or utcnow()
        signals = list(signals)
        held: set[int] = set()
        if op != ChangeOp.REMOVE and signals:
            held = QuarantineRepository(self.s).quarantined_among([s.id for s in signals])
        return [
            Change(
                at=when,
                op=op,
                signal_id=sig.id,
                case_id=sig.case_id,
                bank_id=sig.bank_id,
                signal_type=sig.type,
                value=sig.value,
                status=QUARANTINED if sig.id in held else status,
                seconds=sig.seconds,
            )
            for sig in signals
        ]

    def head(self) -> int:
        return self.s.scalar(select(func.max(Change.seq))) or 0

    def after(self, seq: int, limit: int, *, feed_only: bool = False) -> list[ChangeRow]:
        # plain columns, no ORM objects: a feed page of 10,000 changes reads in a tenth of
        # the time (benchmarks/tx_extension_fetch.py: a full fetch is paging this)
        stmt = select(
            Change.seq,
            Change.at,
            Change.op,
            Change.signal_id,
            Change.case_id,
            Change.bank_id,
            Change.signal_type,
            # a long value's change holds its digest: the signal row has the text
            case((Signal.body.is_not(None), Signal.body), else_=Change.value),
            Change.status,
            Change.seconds,
            Change.match_id,
        ).where(Change.seq > seq)
        stmt = stmt.outerjoin(
            Signal,
            and_(
                Signal.id == Change.signal_id,
                Change.op != ChangeOp.REMOVE,
            ),
        )
        if feed_only:
            stmt = stmt.where(Change.op.not_in(NOT_IN_FEED))
        rows = self.s.connection().execute(stmt.order_by(Change.seq).limit(limit))
        return [
            ChangeRow(seq_, at, ChangeOp(op), sid, case_id, bank_id, kind, value, status, secs, mid)
            for seq_, at, op, sid, case_id, bank_id, kind, value, status, secs, mid in rows
        ]


class SessionRepository:
    """Dashboard sign-in sessions, found by the SHA-256 of their cookie's token."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, row: DashboardSession) -> DashboardSession:
        self.s.add(row)
        flush_or_conflict(self.s, "session")
        return row

    def with_user(self, token_hash: str) -> SignedIn | None:
        stmt = (
            select(DashboardSession, User)
            .join(User, User.id == DashboardSession.user_id)
            .where(DashboardSession.token_hash == token_hash)
        )
        row = self.s.execute(stmt).first()
        if row is None:
            return None
        session, user = row[0], row[1]
        return SignedIn(
            session.id,
            session.created_at,
            session.last_seen_at,
            session.expires_at,
            user.id,
            user.username,
            str(user.role),
            bool(user.disabled),
        )

    def touch(self, session_id: int, at: datetime) -> None:
        self.s.execute(
            update(DashboardSession)
            .where(DashboardSession.id == session_id)
            .values(last_seen_at=at)
        )

    def delete(self, token_hash: str) -> int:
        result = self.s.execute(
            delete(DashboardSession).where(DashboardSession.token_hash == token_hash)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def delete_for_user(self, user_id: int) -> int:
        result = self.s.execute(delete(DashboardSession).where(DashboardSession.user_id == user_id))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def delete_stale(self, expired_before: datetime, idle_before: datetime) -> int:
        result = self.s.execute(
            delete(DashboardSession).where(
                (DashboardSession.expires_at < expired_before)
                | (DashboardSession.last_seen_at < idle_before)
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class DashboardRepository:
    """Read queries of the moderators' dashboard: figures, sorted pages, look-ups."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def case_figures(self) -> dict[str, int]:
        """Cases per status, and ``active_hashes``: the hashes of active cases."""
        figures = CaseRepository(self.s).count_by_status()
        stmt = select(func.coalesce(func.sum(Case.signal_count), 0)).where(
            Case.status == CaseStatus.ACTIVE
        )
        figures["active_hashes"] = int(self.s.scalar(stmt) or 0)
        return figures

    def case(self, case_id: int) -> CaseRow | None:
        case = self.s.get(Case, case_id)
        return CaseRow.of(case) if case is not None else None

    def case_by_public_id(self, public_id: str) -> CaseRow | None:
        case = self.s.scalars(select(Case).where(Case.public_id == public_id)).first()
        return CaseRow.of(case) if case is not None else None

    def client_name(self, client_id: int) -> str | None:
        return self.s.scalar(select(Client.name).where(Client.id == client_id))

    def top_cases(self, limit: int = 10) -> list[CaseRow]:
        """The cases with the most re-upload attempts (at least one)."""
        stmt = (
            select(Case)
            .where(Case.match_count > 0)
            .order_by(Case.match_count.desc(), Case.id)
            .limit(limit)
        )
        return [CaseRow.of(c) for c in self.s.scalars(stmt)]

    def history(self, object_type: str, object_id: str) -> list[AuditEventRow]:
        """An object's audit events, oldest first."""
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return [AuditEventRow.of(e) for e in self.s.scalars(stmt)]

    def case_page(
        self,
        *,
        status: CaseStatus | None = None,
        search: str | None = None,
        order: str = "created_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[CaseRow], int]:
        """One page of cases and how many match the filters (``search``: a fragment of the
        public id). Ids are paged first, in one direction (ties by id), so an index gives
        the order and a deep page skips index entries, not rows."""
        where = []
        if status is not None:
            where.append(Case.status == status)
        if search:
            where.append(Case.public_id.contains(search.upper(), autoescape=True))
        total = int(self.s.scalar(select(func.count()).select_from(Case).where(*where)) or 0)
        column = {
            "created_at": Case.created_at,
            "updated_at": Case.updated_at,
            "matches": Case.match_count,
            "hashes": Case.signal_count,
            "status": Case.status,
        }.get(order, Case.created_at)
        direction = (column.desc(), Case.id.desc()) if descending else (column.asc(), Case.id.asc())
        ids = self.s.scalars(
            select(Case.id).where(*where).order_by(*direction).offset(offset).limit(limit)
        ).all()
        rows = {c.id: c for c in self.s.scalars(select(Case).where(Case.id.in_(ids)))}
        return [CaseRow.of(rows[i]) for i in ids if i in rows], total

    def match_count(self, *, since: datetime | None = None, review: str | None = None) -> int:
        stmt = select(func.count()).select_from(Match)
        if since is not None:
            stmt = stmt.where(Match.created_at >= since)
        if review is not None:
            stmt = stmt.where(Match.review == review)
        return int(self.s.scalar(stmt) or 0)

    def match_counts_per_day(self, first_day: datetime, days: int) -> list[int]:
        """Re-upload attempts per day for ``days`` days from ``first_day`` (match rows with
        ``attempt``: one per upload and case): one index range count per day (several
        times faster than grouping the rows by a date function)."""
        counts = []
        for i in range(days):
            lo, hi = first_day + timedelta(days=i), first_day + timedelta(days=i + 1)
            stmt = (
                select(func.count())
                .select_from(Match)
                .where(Match.created_at >= lo, Match.created_at < hi, Match.attempt.is_(True))
            )
            counts.append(int(self.s.scalar(stmt) or 0))
        return counts

    def match_page(
        self,
        *,
        case_id: int | None = None,
        client_id: int | None = None,
        review: str | None = None,
        action: str | None = None,
        order: str = "created_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[MatchRow], int]:
        """One page of matches (newest first by default) and how many match the filters."""
        where = []
        if case_id is not None:
            where.append(Match.case_id == case_id)
        if client_id is not None:
            where.append(Match.client_id == client_id)
        if review is not None:
            where.append(Match.review == review)
        if action is not None:
            where.append(Match.action == action)
        total = int(self.s.scalar(select(func.count()).select_from(Match).where(*where)) or 0)
        column = {"created_at": Match.created_at, "distance": Match.distance}.get(
            order, Match.created_at
        )
        ids = (
            select(Match.id)
            .where(*where)
            .order_by(
                column.desc() if descending else column.asc(),
                Match.id.desc() if descending else Match.id.asc(),
            )
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        stmt = (
            select(Match, Client.name, Case.public_id, Bank.name)
            .join(ids, ids.c.id == Match.id)
            .join(Bank, Bank.id == Match.bank_id)
            .outerjoin(Client, Client.id == Match.client_id)
            .outerjoin(Case, Case.id == Match.case_id)
            .order_by(
                column.desc() if descending else column.asc(),
                Match.id.desc() if descending else Match.id.asc(),
            )
        )
        return [MatchRow.of(r[0], r[1], r[2], r[3]) for r in self.s.execute(stmt).all()], total

    def signal_page(
        self,
        case_id: int,
        *,
        order: str = "id",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[HashRow], int]:
        """One page of a case's hashes, by id (the order they were added), type or quality."""
        where = Signal.case_id == case_id
        total = int(self.s.scalar(select(func.count()).select_from(Signal).where(where)) or 0)
        column = {"id": Signal.id, "type": Signal.type, "quality": Signal.quality}.get(
            order, Signal.id
        )
        # no quality (MD5, SHA-256) sorts last either way, on SQLite as on PostgreSQL
        direction = (
            (column.desc().nulls_last(), Signal.id.desc())
            if descending
            else (column.asc().nulls_last(), Signal.id.asc())
        )
        stmt = select(Signal).where(where).order_by(*direction).offset(offset).limit(limit)
        return [HashRow.of(sig) for sig in self.s.scalars(stmt)], total

    def signals_in_context(
        self, *, ids: Sequence[int] = (), value: tuple[str, str] | None = None, limit: int = 500
    ) -> list[SignalInContext]:
        """Signals by id or by (type, value), with their case and bank."""
        stmt = (
            select(Signal, Case.public_id, Case.status, Bank.name)
            .join(Bank, Bank.id == Signal.bank_id)
            .outerjoin(Case, Case.id == Signal.case_id)
        )
        if value is not None:
            stmt = stmt.where(Signal.type == value[0], Signal.value == value[1])
        else:
            stmt = stmt.where(Signal.id.in_(list(ids)))
        rows = self.s.execute(stmt.order_by(Signal.id).limit(limit)).all()
        return [
            SignalInContext(
                sig.id,
                sig.type,
                sig.value,
                sig.created_at,
                sig.deleted_at,
                bank,
                sig.case_id,
                public_id,
                str(status) if status is not None else None,
            )
            for sig, public_id, status, bank in rows
        ]

    def audit_page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[AuditEventRow], int]:
        """Audit events matching the filters (actor: a substring), newest first by default."""
        where = []
        if actor:
            where.append(AuditEvent.actor.contains(actor, autoescape=True))
        if action:
            where.append(AuditEvent.action == action)
        if since is not None:
            where.append(AuditEvent.at >= since)
        if until is not None:
            where.append(AuditEvent.at < until)
        if object_type is not None:
            where.append(AuditEvent.object_type == object_type)
        if object_id is not None:
            where.append(AuditEvent.object_id == object_id)
        total = int(self.s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0)
        order = (
            (AuditEvent.at.desc(), AuditEvent.id.desc())
            if descending
            else (AuditEvent.at.asc(), AuditEvent.id.asc())
        )
        stmt = select(AuditEvent).where(*where).order_by(*order).offset(offset).limit(limit)
        return [AuditEventRow.of(e) for e in self.s.scalars(stmt)], total

    def audit_actions(self) -> list[str]:
        stmt = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
        return [str(a) for a in self.s.scalars(stmt).all()]


def _bound(session: Session, model: type[Base], **values: object) -> list[object]:
    """``values`` of ``model``'s columns as the driver takes them, by SQLAlchemy's own
    bind processors (UTC conversion, SQLite's date text, enum values): once for a whole
    bulk insert instead of once per row."""
    dialect = session.get_bind().dialect
    table = cast(Table, model.__table__)
    out: list[object] = []
    for name, value in values.items():
        # a TypeDecorator's dialect_impl processes as the decorator, then as its impl
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        out.append(process(value) if process is not None and value is not None else value)
    return out


def _executemany(
    session: Session, model: type[Base], columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """One INSERT of plain tuples through the driver's executemany: no per-row parameter
    processing (the values must already be bound: :func:`_bound`)."""
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    table = cast(Table, model.__table__)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608  (our own names)
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    connection.exec_driver_sql(sql, list(rows))
