"""Use cases of a report: create, add hashes, follow, withdraw, review."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import hashes
from app.errors import CaseLocked, Conflict, InvalidInput, NotFound, Unauthorized
from app.index.replica import IndexReplica
from app.services import audit
from app.services.inputs import (
    DEFAULT_MIN_PDQ_QUALITY,
    HashInput,
    inherit_frame_quality,
    join_parts,
    refuse_weak,
)
from app.services.secrets import hash_pin, new_case_id, new_pin, normalize_case_id, verify_pin
from app.services.video_parts import plan_parts
from app.storage.db import Database
from app.storage.models import Case, CaseStatus, ChangeOp, Signal, stored_value, utcnow
from app.storage.records import RecordRepository
from app.storage.repositories import (
    BankRepository,
    CaseRepository,
    ChangeRepository,
    SignalRepository,
)

__all__ = ["CaseService", "CaseView", "NewCase"]

REPORTS_BANK = "reports"


@dataclass(frozen=True)
class NewCase:
    case_id: str
    pin: str
    status: CaseStatus
    hashes: int


@dataclass(frozen=True)
class PlatformCount:
    """One platform's part of a case's counts, shown to its reporter only where the
    deployment allows platform names (``HASHBANK_SHOW_PLATFORM_NAMES_TO_VICTIMS``)."""

    name: str
    reupload_attempts: int
    confirmed_blocked: int


@dataclass(frozen=True)
class CaseView:
    """What a reporter may see of their own case."""

    case_id: str
    status: CaseStatus
    hashes: int
    reupload_attempts: int
    confirmed_blocked: int
    last_detected: datetime | None
    created_at: datetime
    # per platform, by name; None where the deployment shows no platform names
    platforms: tuple[PlatformCount, ...] | None = None


def _view(case: Case) -> CaseView:
    return CaseView(
        case_id=case.public_id,
        status=CaseStatus(case.status),
        hashes=case.signal_count,
        reupload_attempts=case.match_count,
        confirmed_blocked=case.blocked_count,
        last_detected=case.last_match_at,
        created_at=case.created_at,
    )


def _dedupe(items: Sequence[HashInput]) -> list[HashInput]:
    """``items`` each once, the parts of one video joined (:func:`join_parts`)."""
    seen: dict[tuple[str, str | None, str], HashInput] = {}
    for item in inherit_frame_quality(join_parts(items)):
        seen.setdefault((item.type, item.part_of, item.value), item)
    return list(seen.values())


def _signals(case_id: int, bank_id: int, items: Sequence[HashInput], now: datetime) -> list[Signal]:
    out = []
    for i in items:
        value, body = stored_value(i.value)
        out.append(
            Signal(
                case_id=case_id,
                bank_id=bank_id,
                type=i.type,
                value=value,
                body=body,
                quality=i.quality,
                seconds=i.seconds,
                video_key=i.part_of,
                created_at=now,
            )
        )
    return out


def _locked(locked_until: datetime | None, now: datetime) -> None:
    """Raise CaseLocked while a lockout lasts."""
    if locked_until is not None and locked_until > now:
        raise CaseLocked(
            "too many wrong PINs: this case is locked for a while",
            # rounded up: a client that waits Retry-After seconds finds the case open
            retry_after=max(1, math.ceil((locked_until - now).total_seconds())),
        )


class CaseService:
    """Reports, follow-ups and reviews of cases; owns their transactions."""

    def __init__(
        self,
        db: Database,
        replica: IndexReplica,
        *,
        pin_attempts: int = 10,
        pin_lock_seconds: int = 900,
        min_pdq_quality: int = DEFAULT_MIN_PDQ_QUALITY,
        types: hashes.SignalRegistry = hashes.BUILTINS,
        show_platform_names: bool = False,
        max_video_frames: int = hashes.MAX_FRAMES,
    ) -> None:
        """``max_video_frames``: the most frames of a video sent in parts, joined."""
        self.db = db
        self.max_video_frames = max_video_frames
        self.replica = replica
        self.types = types
        self.show_platform_names = show_platform_names
        self.pin_attempts = pin_attempts
        self.pin_lock = timedelta(seconds=pin_lock_seconds)
        self.min_pdq_quality = min_pdq_quality

    # -- reporting -----------------------------------------------------------------------
    def prepare(
        self, items: Sequence[HashInput], *, quality_required: bool, adding: bool = False
    ) -> list[HashInput]:
        """``items`` without duplicates, once they pass the checks :meth:`report` and
        :meth:`add_hashes` make before writing (so a caller can check a request before
        it spends a rate-limit token on it).

        Raises:
            InvalidInput: no hashes, or weak ones that would match unrelated images (see
                :func:`app.services.inputs.weakness`; ``quality_required``: a PDQ hash
                with no quality is one).
        """
        items = _dedupe(items)
        if not items:
            raise InvalidInput("no hashes to add" if adding else "a case needs at least one hash")
        refuse_weak(
            items,
            min_pdq_quality=self.min_pdq_quality,
            quality_required=quality_required,
            types=self.types,
        )
        if not adding:  # a new case: its videos' parts are all in this request
            plan_parts(items, [], max_frames=self.max_video_frames)
        return items

    def report(
        self,
        items: Sequence[HashInput],
        *,
        actor: str,
        client_id: int | None = None,
        quality_required: bool = False,
    ) -> NewCase:
        """Create a pending case holding ``items``; the PIN is returned only here.

        ``quality_required``: refuse PDQ hashes sent without a quality (anonymous
        reports; a ``report`` key's client is trusted to omit it).

        Raises:
            InvalidInput: no hashes, weak ones that would match unrelated images
                (see :func:`app.services.inputs.weakness`), or a video part naming no
                video of the request (:func:`app.services.video_parts.check_links`).
        """
        items = _dedupe(items)
        if not items:
            raise InvalidInput("a case needs at least one hash")
        refuse_weak(
            items,
            min_pdq_quality=self.min_pdq_quality,
            quality_required=quality_required,
            types=self.types,
        )
        items = plan_parts(items, [], max_frames=self.max_video_frames).new
        pin = new_pin()
        pin_hash = hash_pin(pin)  # argon2 outside the write transaction
        now = utcnow()
        with self.db.write() as session:
            bank = BankRepository(session).by_name(REPORTS_BANK)
            if bank is None:
                raise NotFound(f"bank {REPORTS_BANK!r} is missing")
            cases = CaseRepository(session)
            for _attempt in range(5):  # 80 random bits: a collision is astronomically rare
                public_id = new_case_id()
                if cases.by_public_id(public_id) is None:
                    break
            case = cases.add(
                Case(
                    public_id=public_id,
                    pin_hash=pin_hash,
                    status=CaseStatus.PENDING,
                    client_id=client_id,
                    created_at=now,
                    updated_at=now,
                    signal_count=len(items),
                )
            )
            signals = _signals(case.id, bank.id, items, now)
            SignalRepository(session).add_many(signals)
            changes = ChangeRepository(session)
            changes.append(changes.for_signals(ChangeOp.ADD, signals, CaseStatus.PENDING, now))
            audit.record(session, actor, "case.reported", "case", public_id, hashes=len(items))
        self.replica.sync()
        return NewCase(public_id, pin, CaseStatus.PENDING, len(items))

    def add_hashes(
        self,
        case: CaseView,
        items: Sequence[HashInput],
        *,
        limit: int,
        quality_required: bool = True,
    ) -> CaseView:
        """Add hashes to a reporter's own (pending or active) case.

        ``case``: the view :meth:`authenticate` returned for this request. The PIN is
        checked there, once (one argon2 run): the API checks it before it reads the body,
        so a wrong PIN never gets as far as decoding images.

        A ``vpdq`` value with ``part_of`` is a part of the case's video of that
        ``video_sha256``: appended to it when the case holds that video already
        (:mod:`app.services.video_parts`). The stored signal keeps its id and takes the
        joined value; the change log says so as a ``remove`` of the old value and an
        ``add`` of the joined one (so replicas, feed readers and webhooks replace it).
        Two parts sent at once are serialized by the case's row lock (taken first), so
        neither append is lost.

        Raises:
            Unauthorized: the case is gone.
            Conflict: the case is closed.
            InvalidInput: no hashes, weak ones, more than ``limit`` in the case, a part
                naming no video of the case, or a video over the frame limit.
        """
        items = _dedupe(items)
        if not items:
            raise InvalidInput("no hashes to add")
        refuse_weak(
            items,
            min_pdq_quality=self.min_pdq_quality,
            quality_required=quality_required,
            types=self.types,
        )
        now = utcnow()
        with self.db.write() as session:
            row = CaseRepository(session).by_public_id(case.case_id, for_update=True)
            if row is None:
                raise Unauthorized("unknown case or wrong PIN")
            if row.status not in (CaseStatus.PENDING, CaseStatus.ACTIVE):
                raise Conflict(f"a {row.status} case cannot take more hashes")
            signals_repo = SignalRepository(session)
            held = [s for s in signals_repo.for_case(row.id) if s.deleted_at is None]
            plan = plan_parts(items, held, max_frames=self.max_video_frames)
            if row.signal_count + len(plan.new) > limit:
                raise InvalidInput(f"a case may hold at most {limit} hashes")
            bank = BankRepository(session).by_name(REPORTS_BANK)
            assert bank is not None
            signals = _signals(row.id, bank.id, plan.new, now)
            signals_repo.add_many(signals)
            row.signal_count += len(signals)
            row.updated_at = now
            status = str(row.status)
            changes = ChangeRepository(session)
            joined = [video for video, _ in plan.appends]
            log = changes.for_signals(ChangeOp.REMOVE, joined, status, now)  # old values
            for video, value in plan.appends:
                video.value, video.body = stored_value(value)
            log += changes.for_signals(ChangeOp.ADD, [*joined, *signals], status, now)
            changes.append(log)
            audit.record(
                session,
                "reporter",
                "case.hashes_added",
                "case",
                row.public_id,
                hashes=len(signals),
                **({"video_frames": plan.frames_added} if plan.frames_added else {}),
            )
            view = _view(row)
        self.replica.sync()
        return view

    # -- the reporter's PIN ----------------------------------------------------------------
    def authenticate(self, case_id: str, pin: str) -> CaseView:
        """Check a case id + PIN; 10 wrong PINs lock the case (423) for 15 minutes.

        An unknown id and a wrong PIN get the same answer and cost the same: one argon2
        run and one committed row write each (a wrong PIN counts a failure on its case;
        an unknown id rewrites the reports bank's row unchanged), so the time of the
        answer does not tell whether a case id exists (docs/security.md has the numbers).
        """
        public_id = normalize_case_id(case_id)
        with self.db.read() as session:
            case = CaseRepository(session).by_public_id(public_id)
            pin_hash = case.pin_hash if case is not None else None
            locked_until = case.locked_until if case is not None else None
        now = utcnow()
        _locked(locked_until, now)
        ok = verify_pin(pin_hash, pin)
        view: CaseView | None = None
        with self.db.write() as session:
            case = CaseRepository(session).by_public_id(public_id, for_update=True)
            if case is None:
                # committed like a counted failure: an unknown id must not answer faster
                BankRepository(session).rewrite(REPORTS_BANK)
            else:
                _locked(case.locked_until, now)  # locked by a concurrent attempt meanwhile?
                if not ok:
                    case.failed_pins += 1
                    if case.failed_pins >= self.pin_attempts:
                        case.failed_pins = 0
                        case.locked_until = now + self.pin_lock
                        audit.record(session, "system", "case.locked", "case", public_id)
                else:
                    if case.failed_pins:
                        case.failed_pins = 0
                    view = _view(case)
        if view is None:
            raise Unauthorized("unknown case or wrong PIN")
        return view

    def status(self, case_id: str, pin: str) -> CaseView:
        """The case as its reporter sees it (with its PIN): per platform by name too where
        the deployment allows (read only once the PIN is right)."""
        view = self.authenticate(case_id, pin)
        if not self.show_platform_names:
            return view
        with self.db.read() as session:
            case = CaseRepository(session).by_public_id(view.case_id)
            rows = RecordRepository(session).case_platforms(case.id) if case is not None else []
        return replace(view, platforms=tuple(PlatformCount(*row) for row in rows))

    def withdraw(self, case_id: str, pin: str) -> CaseView:
        """The reporter withdraws: the case's hashes stop matching at once."""
        self.authenticate(case_id, pin)
        view = self._set_status(
            normalize_case_id(case_id),
            CaseStatus.WITHDRAWN,
            actor="reporter",
            allowed_from=(CaseStatus.PENDING, CaseStatus.ACTIVE, CaseStatus.REJECTED),
        )
        return view

    # -- moderation --------------------------------------------------------------------
    def review(
        self, case_id: str, *, confirm: bool, actor: str, reason: str | None = None
    ) -> CaseView:
        """A moderator confirms (→ active) or rejects (→ rejected) a pending case."""
        if not confirm and not (reason and reason.strip()):
            raise InvalidInput("a rejection needs a reason")
        return self._set_status(
            normalize_case_id(case_id),
            CaseStatus.ACTIVE if confirm else CaseStatus.REJECTED,
            actor=actor,
            allowed_from=(CaseStatus.PENDING,),
            reason=reason,
        )

    def rereview(
        self, case_id: str, *, keep: bool, actor: str, reason: str | None = None
    ) -> CaseView:
        """The periodic re-review of an active case (see ``hashbank rereview``).

        ``keep``: it stays active and its review date starts over (audit
        ``case.rereviewed``); else it is rejected (``case.rejected``) and stops matching.

        Raises:
            NotFound: no such case.
            Conflict: the case is not active.
            InvalidInput: a rejection without a reason.
        """
        public_id = normalize_case_id(case_id)
        if keep:
            with self.db.write() as session:
                case = CaseRepository(session).by_public_id(public_id, for_update=True)
                if case is None:
                    raise NotFound(f"no case {public_id}")
                if case.status != CaseStatus.ACTIVE:
                    raise Conflict(f"only active cases are re-reviewed; this one is {case.status}")
                case.reviewed_at = utcnow()
                case.reviewed_by = actor
                audit.record(
                    session,
                    actor,
                    "case.rereviewed",
                    "case",
                    public_id,
                    **({"reason": reason} if reason else {}),
                )
                return _view(case)
        if not (reason and reason.strip()):
            raise InvalidInput("a rejection needs a reason")
        return self._set_status(
            public_id,
            CaseStatus.REJECTED,
            actor=actor,
            allowed_from=(CaseStatus.ACTIVE,),
            reason=reason,
        )

    def _set_status(
        self,
        public_id: str,
        status: CaseStatus,
        *,
        actor: str,
        allowed_from: tuple[CaseStatus, ...],
        reason: str | None = None,
    ) -> CaseView:
        now = utcnow()
        with self.db.write() as session:
            case = CaseRepository(session).by_public_id(public_id, for_update=True)
            if case is None:
                raise NotFound(f"no case {public_id}")
            if case.status == status:
                return _view(case)
            if case.status not in allowed_from:
                raise Conflict(f"a {case.status} case cannot become {status}")
            was_matchable = case.status in (CaseStatus.PENDING, CaseStatus.ACTIVE)
            case.status = status
            case.updated_at = now
            if status == CaseStatus.WITHDRAWN:
                case.withdrawn_at = now
            else:
                case.reviewed_at = now
                case.reviewed_by = actor
                case.review_reason = reason
            signals = [
                s for s in SignalRepository(session).for_case(case.id) if s.deleted_at is None
            ]
            changes = ChangeRepository(session)
            if status in (CaseStatus.PENDING, CaseStatus.ACTIVE):
                op = ChangeOp.UPDATE if was_matchable else ChangeOp.ADD
            else:
                op = ChangeOp.REMOVE
            changes.append(changes.for_signals(op, signals, str(status), now))
            audit.record(
                session,
                actor,
                f"case.{status}",
                "case",
                public_id,
                **({"reason": reason} if reason else {}),
            )
            view = _view(case)
        self.replica.sync()
        return view
