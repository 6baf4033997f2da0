"""Match follow-up: platform feedback, moderator review, false positives to the allow-list."""

from __future__ import annotations

from app.errors import Conflict, InvalidInput, NotFound
from app.index.replica import IndexReplica
from app.services import audit
from app.services.inputs import HashInput, refuse_weak, validate_hashes
from app.storage.db import Database
from app.storage.models import (
    BankPolicy,
    CaseStatus,
    Change,
    ChangeOp,
    Feedback,
    Match,
    MatchReview,
    Signal,
    utcnow,
)
from app.storage.repositories import (
    BankRepository,
    CaseRepository,
    ChangeRepository,
    MatchRepository,
    QuarantineRepository,
    SignalRepository,
)

__all__ = ["ALLOWLIST_BANK", "HASH_FEEDBACK", "MatchService"]

ALLOWLIST_BANK = "allowlist"

# What a platform matching on its own side (from the feed) says about a feed hash:
# ``seen`` a re-upload, or what it did with it (the values of a match's feedback).
HASH_FEEDBACK = ("seen", "blocked", "not_blocked", "false_positive")


class MatchService:
    def __init__(self, db: Database, replica: IndexReplica) -> None:
        self.db = db
        self.replica = replica

    def feedback(self, match_id: int, value: str, *, client_id: int, client_name: str) -> str:
        """A platform reports what it did with a match (only the client that checked)."""
        try:
            feedback = Feedback(value)
        except ValueError:
            raise InvalidInput("feedback must be blocked, not_blocked or false_positive") from None
        with self.db.write() as session:
            match = MatchRepository(session).get(match_id, for_update=True)
            if match is None or match.client_id != client_id:
                raise NotFound(f"no match {match_id} for this client")
            if match.feedback == feedback:
                return str(feedback)
            if match.feedback is not None:
                raise Conflict("feedback was already given for this match")
            match.feedback = feedback
            match.feedback_at = utcnow()
            if feedback == Feedback.BLOCKED and match.case_id is not None:
                CaseRepository(session).bump_blocked(match.case_id)
            if feedback == Feedback.FALSE_POSITIVE:
                match.review = MatchReview.PENDING
            audit.record(session, f"client:{client_name}", f"match.{feedback}", "match", match_id)
        return str(feedback)

    def feedback_on_hash(
        self, signal_type: str, value: str, feedback: str, *, client_id: int, client_name: str
    ) -> int:
        """A platform that matches from the feed reports content matching a feed hash.

        Each live hash of that exact value the feed shows (not an ``allow`` bank's, not
        deleted, its case neither withdrawn nor rejected) gets a match row, as a check
        would have logged: it counts as a re-upload of the case, ``blocked`` also as a
        confirmed block, and ``false_positive`` puts the row in the moderators' review.
        Returns how many hashes were recorded.

        Raises:
            InvalidInput: an unknown type, a malformed value or feedback.
            NotFound: no hash of the feed has this value.
        """
        if feedback not in HASH_FEEDBACK:
            raise InvalidInput("feedback must be one of " + ", ".join(HASH_FEEDBACK))
        [item] = validate_hashes([HashInput(signal_type, value)], self.replica.types)
        now = utcnow()
        with self.db.write() as session:
            banks = BankRepository(session)
            cases = CaseRepository(session)
            live = []
            for signal in SignalRepository(session).find_value(item.type, item.value):
                bank = banks.get(signal.bank_id)
                if signal.deleted_at is not None or bank is None:
                    continue
                if bank.policy == BankPolicy.ALLOW:
                    continue
                case = cases.get(signal.case_id) if signal.case_id is not None else None
                if case is not None and case.status in (CaseStatus.WITHDRAWN, CaseStatus.REJECTED):
                    continue
                blocks = bank.policy == BankPolicy.BLOCK and (
                    case is None or case.status == CaseStatus.ACTIVE
                )
                live.append((signal, blocks))
            if not live:
                raise NotFound("no hash of the feed has this value")
            held = QuarantineRepository(session).quarantined_among([s.id for s, _ in live])
            given = None if feedback == "seen" else Feedback(feedback)
            rows = [
                Match(
                    created_at=now,
                    client_id=client_id,
                    signal_id=signal.id,
                    case_id=signal.case_id,
                    bank_id=signal.bank_id,
                    signal_type=item.type,
                    distance=0,
                    query_value=item.value,
                    action="block" if blocks and signal.id not in held else "review",
                    feedback=given,
                    feedback_at=now if given is not None else None,
                    review=MatchReview.PENDING if given == Feedback.FALSE_POSITIVE else None,
                )
                for signal, blocks in live
            ]
            MatchRepository(session).add_many(rows)
            for case_id in sorted({s.case_id for s, _ in live if s.case_id is not None}):
                cases.bump_matches(case_id, 1, now)
                if given == Feedback.BLOCKED:
                    cases.bump_blocked(case_id)
            audit.record(
                session,
                f"client:{client_name}",
                f"feed.feedback.{feedback}",
                "match",
                rows[0].id,
                hashes=len(rows),
            )
        return len(rows)

    def mark_false_positive(self, match_id: int, *, actor: str) -> int:
        """Put the match's *query* hash on the allow-list; the victim's hash stays.

        Returns the id of the allow-list signal.
        """
        with self.db.write() as session:
            match = MatchRepository(session).get(match_id, for_update=True)
            if match is None:
                raise NotFound(f"no match {match_id}")
            bank = BankRepository(session).by_name(ALLOWLIST_BANK)
            if bank is None:
                raise NotFound("the allowlist bank is missing")
            if match.signal_type in self.replica.types and (
                self.replica.types.get(match.signal_type).bits is None
            ):
                # the match log holds a checked video's digest, not its frames
                raise InvalidInput(
                    f"match {match_id} is a video's (vpdq): only its digest is kept, so it "
                    "cannot go on the allow-list; review the stored video's case instead"
                )
            existing = [
                s
                for s in SignalRepository(session).find_value(match.signal_type, match.query_value)
                if s.bank_id == bank.id and s.deleted_at is None
            ]
            if existing:
                signal = existing[0]
            else:
                # the allow-list is a bank too: a hash that matches everything would
                # cancel every match near it, so it passes the same poisoning guard
                try:
                    refuse_weak(
                        [HashInput(match.signal_type, match.query_value)],
                        types=self.replica.types,
                    )
                except InvalidInput as exc:
                    raise InvalidInput(
                        f"match {match_id}: the uploaded image's hash cannot go on the "
                        f"allow-list: {exc.extra['weak'][0]['reason']}, it would cancel "
                        "matches of unrelated images",
                        weak=exc.extra["weak"],
                    ) from exc
                signal = Signal(
                    case_id=None,
                    bank_id=bank.id,
                    type=match.signal_type,
                    value=match.query_value,
                    created_at=utcnow(),
                    note=f"false positive of match {match_id}",
                )
                SignalRepository(session).add_many([signal])
                changes = ChangeRepository(session)
                changes.append(changes.for_signals(ChangeOp.ADD, [signal], "bank"))
            match.review = MatchReview.FALSE_POSITIVE
            match.reviewed_by = actor
            audit.record(
                session,
                actor,
                "match.false_positive",
                "match",
                match_id,
                allowlist_signal=signal.id,
            )
            signal_id = signal.id
        self.replica.sync()
        return signal_id

    def confirm(self, match_id: int, *, actor: str) -> None:
        """A moderator confirms a match under review as a true re-upload; the platform
        whose match it was hears of it by webhook (``match.confirmed``): a change-log row
        written in this transaction, which the feed never hands out."""
        with self.db.write() as session:
            match = MatchRepository(session).get(match_id, for_update=True)
            if match is None:
                raise NotFound(f"no match {match_id}")
            first = match.review != MatchReview.CONFIRMED
            match.review = MatchReview.CONFIRMED
            match.reviewed_by = actor
            audit.record(session, actor, "match.confirmed", "match", match_id)
            signal = SignalRepository(session).get(match.signal_id)
            if first and match.client_id is not None and signal is not None:
                ChangeRepository(session).append(
                    [
                        Change(
                            at=utcnow(),
                            op=ChangeOp.MATCH,
                            signal_id=signal.id,
                            bank_id=match.bank_id,
                            signal_type=match.signal_type,
                            value=signal.value,
                            status="confirmed",
                            match_id=match.id,
                        )
                    ]
                )
