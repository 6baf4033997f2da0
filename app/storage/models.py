"""SQLAlchemy 2 ORM models: banks, cases, signals, matches, clients, users, audit, change log.

No model has a field for personal data about a reporter: a case is known only by
its public id and the argon2 hash of its PIN. No model ever holds image bytes.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "NOT_IN_FEED",
    "VALUE_LENGTH",
    "AuditEvent",
    "Bank",
    "BankPolicy",
    "BankThreshold",
    "Base",
    "Case",
    "CaseStatus",
    "Change",
    "ChangeOp",
    "CheckDay",
    "Client",
    "DashboardSession",
    "DeploymentSecret",
    "Feedback",
    "HashFeedback",
    "Match",
    "MatchReview",
    "Role",
    "Signal",
    "SignalQuarantine",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "stored_value",
    "utcnow",
]


# The longest hash value the signal, match and change-log columns hold (a 256-bit hash in
# hex); a signal type whose values are longer cannot be enabled (app.services.signal_types)
VALUE_LENGTH = 64


def stored_value(value: str) -> tuple[str, str | None]:
    """The (``value``, ``body``) columns of a parsed hash value.

    A value of a type with its own serialisation (``bits=None``, such as a ``vpdq`` frame
    list, up to megabytes) is longer than the value columns: ``value`` then holds the
    SHA-256 of its canonical text (the digest that equality, the change log, the match log
    and the (type, value) index work on) and ``body`` the text itself (what feeds and
    exports hand out, unchanged). A fixed-length hash is its own value and has no body.
    """
    if len(value) <= VALUE_LENGTH:
        return value, None
    return hashlib.sha256(value.encode()).hexdigest(), value


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Base class of every model."""


class BankPolicy(enum.StrEnum):
    BLOCK = "block"
    REVIEW = "review"
    ALLOW = "allow"


class CaseStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Feedback(enum.StrEnum):
    BLOCKED = "blocked"
    NOT_BLOCKED = "not_blocked"
    FALSE_POSITIVE = "false_positive"


class MatchReview(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


class Role(enum.StrEnum):
    MODERATOR = "moderator"
    ADMIN = "admin"


class ChangeOp(enum.StrEnum):
    ADD = "add"  # a signal starts to match (or is re-stated with its full data)
    UPDATE = "update"  # a signal's case status changed
    REMOVE = "remove"  # a signal stops matching (tombstone)
    BANK = "bank"  # a bank's policy or thresholds changed
    MATCH = "match"  # a moderator confirmed a platform's match (webhooks only, not the feed)


NOT_IN_FEED = (ChangeOp.BANK, ChangeOp.MATCH)
"""Changes the feed and the exchanges never hand out (index and webhook events only)."""


class Bank(Base):
    __tablename__ = "bank"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    policy: Mapped[BankPolicy] = mapped_column(_enum(BankPolicy, "bank_policy"))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a pHash-only match blocks only in a bank that says so (64 bits collide too easily;
    # migration 0006): elsewhere it answers review
    phash_block: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # videos (migration 0010): vPDQ's quality floor and query-match percent (the frame
    # distance is the bank's ``vpdq`` threshold); across media: an image checked may match
    # a stored video's frames, a video checked may match a stored image shown for at
    # least ``video_image_seconds`` of its sampled seconds
    video_quality_floor: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    video_match_percent: Mapped[int] = mapped_column(Integer, default=80, server_default="80")
    image_in_video: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    video_has_image: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    video_image_seconds: Mapped[int] = mapped_column(Integer, default=2, server_default="2")


class BankThreshold(Base):
    """A bank's own match distance for one signal type (migration 0008; before it, two
    columns of ``bank``). A type with no row here uses the service's default."""

    __tablename__ = "bank_threshold"

    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"), primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)


class Client(Base):
    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(100))
    rate_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # checks answer this client the exact Hamming distance, not just a band (migration 0006)
    exact_distances: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Case(Base):
    __tablename__ = "case_report"
    __table_args__ = (Index("ix_case_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    review_reason: Mapped[str | None] = mapped_column(String(500))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signal_count: Mapped[int] = mapped_column(Integer, default=0)
    match_count: Mapped[int] = mapped_column(Integer, default=0)
    blocked_count: Mapped[int] = mapped_column(Integer, default=0)
    last_match_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


MEDIA_ROWS = "body IS NOT NULL OR seconds IS NOT NULL"
"""A stored video (its frame list is a body) or a frame of one (it has a time)."""
VIDEO_PARTS = "video_key IS NOT NULL AND deleted_at IS NULL"
"""A live video that came in parts (``part_of``): one per case and video file."""


class Signal(Base):
    __tablename__ = "signal"
    __table_args__ = (
        Index("ix_signal_type_value", "type", "value"),
        # the few rows a replica reads besides a mapped snapshot: videos and their frames
        Index(
            "ix_signal_media",
            "id",
            sqlite_where=text(MEDIA_ROWS),
            postgresql_where=text(MEDIA_ROWS),
        ),
        # migration 0014: one stored video per (case, video) however many parts it came in
        Index(
            "ux_signal_case_video",
            "case_id",
            "video_key",
            unique=True,
            sqlite_where=text(VIDEO_PARTS),
            postgresql_where=text(VIDEO_PARTS),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_report.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(VALUE_LENGTH))
    quality: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))
    # migration 0010: the canonical text of a value longer than the value column (a vPDQ
    # frame list; ``value`` is then its SHA-256, see stored_value), and for a PDQ hash of
    # one frame of its case's video, that frame's time in the video
    body: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    # migration 0014: a vpdq value sent in parts (``part_of``): the SHA-256 of the video
    # file (its case's video_sha256 value); later parts of that video are appended to it
    video_key: Mapped[str | None] = mapped_column(String(VALUE_LENGTH))

    @property
    def full_value(self) -> str:
        """The value as its type writes it (the body of a long one)."""
        return self.value if self.body is None else self.body


class SignalQuarantine(Base):
    """A stored hash that matched far more than a victim's image would: held for review.

    ``state`` is ``quarantined`` (its matches answer review, not block) or ``released``
    (a moderator let it act again; it is never quarantined again). Only the quarantine
    service writes it; the change log tells the index replicas.
    """

    __tablename__ = "signal_quarantine"

    signal_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("signal.id"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    matches: Mapped[int] = mapped_column(Integer)
    clients: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))


class Match(Base):
    __tablename__ = "match"
    __table_args__ = (
        Index("ix_match_created", "created_at"),
        Index("ix_match_signal_created", "signal_id", "created_at"),
        Index("ix_match_case_created", "case_id", "created_at"),
        Index("ix_match_review", "review"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), index=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signal.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_report.id"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"))
    signal_type: Mapped[str] = mapped_column(String(32))
    distance: Mapped[int] = mapped_column(Integer)
    query_value: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(8))
    feedback: Mapped[Feedback | None] = mapped_column(_enum(Feedback, "match_feedback"))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review: Mapped[MatchReview | None] = mapped_column(_enum(MatchReview, "match_review"))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    # true on one row per (upload, case): the rows that count as re-upload attempts
    attempt: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # a match in a stored video (migration 0010): the first and last matched frame times
    video_start: Mapped[float | None] = mapped_column(Float)
    video_end: Mapped[float | None] = mapped_column(Float)


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_actor", "actor"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


class Change(Base):
    """The change log: a monotonic sequence feeds and index replicas follow."""

    __tablename__ = "change_log"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse a sequence number

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    op: Mapped[ChangeOp] = mapped_column(_enum(ChangeOp, "change_op"))
    signal_id: Mapped[int | None] = mapped_column(BigInteger)
    case_id: Mapped[int | None] = mapped_column(Integer)
    bank_id: Mapped[int | None] = mapped_column(Integer)
    signal_type: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(16))
    seconds: Mapped[float | None] = mapped_column(Float)  # the signal's (migration 0010)
    match_id: Mapped[int | None] = mapped_column(BigInteger)  # op MATCH (migration 0013)


class DashboardSession(Base):
    """A signed-in dashboard user. The cookie holds a random token; only its SHA-256 is here."""

    __tablename__ = "dashboard_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The dashboard's sorted lists and filters (migration 0004): each list's default order and
# its other orders read an index instead of sorting 100k cases or 1M matches per page.
Index("ix_case_created", Case.created_at, Case.id)
Index("ix_case_match_count", Case.match_count, Case.id)
Index("ix_case_status_matches", Case.status, Case.match_count, Case.id)
Index("ix_case_status_hashes", Case.status, Case.signal_count, Case.id)
Index("ix_match_distance", Match.distance, Match.id)
Index("ix_match_client_created", Match.client_id, Match.created_at, Match.id)
Index("ix_audit_object", AuditEvent.object_type, AuditEvent.object_id)
Index("ix_audit_action_at", AuditEvent.action, AuditEvent.at, AuditEvent.id)
# Re-upload attempts per day (migration 0005), counted from the index alone.
Index("ix_match_created_attempt", Match.created_at, Match.attempt)
# StopNCII's FetchHashes starts at a time (migration 0009): the first change at or after it
# is found in this index, not by scanning the log (a covering index: seq rides along).
Index("ix_change_at", Change.at, Change.seq)


class DeploymentSecret(Base):
    """A random secret of this deployment, the same for every replica, made by the schema
    migration and kept by backup and restore. ``feed_group`` keys the opaque group token
    that stands for a case in the feed (``app.services.feed.GroupTokens``)."""

    __tablename__ = "deployment_secret"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HashFeedback(Base):
    """A platform's word on a stored hash value, as StopNCII's ``SubmitFeedback`` sends it
    (``/compat/stopncii/v1``; migration 0009): the latest per client and hash. Only for
    values a bank holds; erased with the last hash of that value (retention)."""

    __tablename__ = "hash_feedback"
    __table_args__ = (Index("ix_hash_feedback_value", "signal_type", "value"),)

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(VALUE_LENGTH), primary_key=True)
    feedback: Mapped[str] = mapped_column(String(16))  # StopNCII's value: Blocked, NotBlocked...
    tags: Mapped[str] = mapped_column(String(2000), default="")  # a JSON list of strings
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(Base):
    """Where a platform (API client) wants the change log POSTed (migration 0011).

    The change log is the outbox: a change is written in the transaction that causes it,
    and ``cursor`` is the last sequence number this endpoint got (or gave up on after
    the retry window): delivery is at least once, in feed order, and survives a crash.
    ``secret`` (and ``previous_secret`` while a rotation lasts) are the signing secrets,
    encrypted (``app.services.webhook_crypto``). ``lease_until`` / ``lease_holder``: the
    replica delivering to this endpoint right now (claimed with ``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL), so one replica at a time sends its batches.
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(String(200))  # comma-separated event types
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_holder: Mapped[str | None] = mapped_column(String(64))


class WebhookDelivery(Base):
    """One batch of changes (``first_seq``..``last_seq``) sent to an endpoint, with its
    attempts: ``retrying`` until the receiver answers 2xx (``delivered``) or the retry
    window ends (``dead``: a dead letter, which an admin may redeliver)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # retrying | delivered | dead | redelivered
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(300), default="")


class CheckDay(Base):
    """How many uploads one client checked on one UTC day (migration 0012).

    Checks without a match touch no table (they are answered from memory), so each
    process counts them in memory and adds its counts here every few seconds
    (:class:`app.services.records.CheckCounter`): the platform records' checks per day.
    ``day`` is ``YYYY-MM-DD`` (a string sorts and compares the same on every engine).
    """

    __tablename__ = "check_day"

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    checks: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
