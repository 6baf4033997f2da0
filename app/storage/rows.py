"""Plain rows that repositories hand upward: frozen dataclasses, not ORM objects.

A service or the index reads these outside any session, with no lazy loading and no
way to write back by accident. Writes still go through ORM objects that a repository
owns inside a write session (``by_name`` then change a field, ``add``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import hashes
from app.storage.models import (
    AuditEvent,
    Bank,
    BankPolicy,
    Case,
    Change,
    ChangeOp,
    Match,
    MatchReview,
    Signal,
)

__all__ = [
    "AuditEventRow",
    "BankEntryRow",
    "BankRow",
    "CaseRow",
    "ChangeRow",
    "HashRow",
    "MatchRow",
    "QuarantineRow",
    "SignalInContext",
    "SignedIn",
]


@dataclass(frozen=True, slots=True)
class BankEntryRow:
    """A hash a bank holds itself, as a bulk import writes it: ``value`` and ``body`` as
    ``models.stored_value`` splits them, ``seconds`` a video frame's time or None."""

    type: str
    value: str
    body: str | None
    quality: int | None
    seconds: float | None


@dataclass(frozen=True, slots=True)
class BankRow:
    """A bank (its per-type thresholds are rows of their own: ``BankThresholdRepository``)."""

    id: int
    name: str
    policy: BankPolicy
    description: str
    phash_block: bool
    created_at: datetime
    # videos (migration 0010; see models.Bank)
    video_quality_floor: int = 50
    video_match_percent: int = 80
    image_in_video: bool = True
    video_has_image: bool = True
    video_image_seconds: int = 2

    @classmethod
    def of(cls, bank: Bank) -> BankRow:
        return cls(
            bank.id,
            bank.name,
            BankPolicy(bank.policy),
            bank.description,
            bool(bank.phash_block),
            bank.created_at,
            int(bank.video_quality_floor),
            int(bank.video_match_percent),
            bool(bank.image_in_video),
            bool(bank.video_has_image),
            int(bank.video_image_seconds),
        )


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One entry of the change log (see :class:`app.storage.models.Change`)."""

    seq: int
    at: datetime
    op: ChangeOp
    signal_id: int | None
    case_id: int | None
    bank_id: int | None
    signal_type: str | None
    value: str | None  # the full value: a long one's body (see models.stored_value)
    status: str | None
    seconds: float | None = None  # a video frame's PDQ hash: the frame's time
    match_id: int | None = None  # op MATCH: the match confirmed

    @classmethod
    def of(cls, change: Change) -> ChangeRow:
        return cls(
            change.seq,
            change.at,
            ChangeOp(change.op),
            change.signal_id,
            change.case_id,
            change.bank_id,
            change.signal_type,
            change.value,
            change.status,
            change.seconds,
            change.match_id,
        )


@dataclass(frozen=True)
class CaseRow:
    """A case as the moderators see it (never its PIN hash)."""

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
    client_id: int | None = None  # the client that reported it (None: the portal)

    @classmethod
    def of(cls, c: Case) -> CaseRow:
        return cls(
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
            c.client_id,
        )


@dataclass(frozen=True)
class MatchRow:
    """A match with its client's name, its case's public id and its bank's name."""

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
    video_start: float | None = None  # a match in a stored video: the matched interval
    video_end: float | None = None

    @property
    def reviewable(self) -> bool:
        """Not yet settled by a moderator (confirmed or marked a false positive)."""
        return self.review in (None, MatchReview.PENDING)

    @classmethod
    def of(cls, m: Match, client: str | None, case_public_id: str | None, bank: str) -> MatchRow:
        return cls(
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
            m.video_start,
            m.video_end,
        )


@dataclass(frozen=True)
class HashRow:
    """One stored hash of a case."""

    id: int
    type: str
    value: str
    quality: int | None
    created_at: datetime
    deleted_at: datetime | None
    seconds: float | None = None  # a frame variant: its time in the case's video
    frames: int | None = None  # a vPDQ value: its sampled frames ...
    duration: float | None = None  # ... and the last one's time (the video's length)

    @classmethod
    def of(cls, s: Signal) -> HashRow:
        frames: int | None = None
        duration: float | None = None
        if s.body is not None:
            try:
                listed = hashes.parse_vpdq(s.body)
                frames, duration = len(listed), max(f.seconds for f in listed)
            except hashes.InvalidHash:
                pass  # a long value of another type: shown by its digest alone
        return cls(
            s.id,
            s.type,
            s.value,
            s.quality,
            s.created_at,
            s.deleted_at,
            s.seconds,
            frames,
            duration,
        )


@dataclass(frozen=True, slots=True)
class SignalInContext:
    """A stored hash with its bank's name and its case's public id and status."""

    id: int
    type: str
    value: str
    created_at: datetime
    deleted_at: datetime | None
    bank: str
    case_id: int | None
    case_public_id: str | None
    case_status: str | None


@dataclass(frozen=True, slots=True)
class AuditEventRow:
    """An audit event; ``detail`` is the JSON text it was recorded with."""

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: str

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventRow:
        return cls(e.id, e.at, e.actor, e.action, e.object_type, e.object_id, e.detail)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A dashboard session with what a request needs of its user (no password hash)."""

    session_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_id: int
    username: str
    role: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """A quarantined (or released) hash with its type, bank and case (no hash value)."""

    signal_id: int
    signal_type: str
    bank: str
    case_id: int | None
    state: str
    reason: str
    matches: int
    clients: int
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
