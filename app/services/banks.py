"""Banks: named hash sets with a policy and optional per-bank thresholds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType

import hashes
from app.errors import Conflict, InvalidInput, NotFound
from app.index.replica import IndexReplica
from app.services import audit
from app.services.inputs import DEFAULT_MIN_PDQ_QUALITY, HashInput, refuse_weak
from app.storage import Session
from app.storage.db import Database
from app.storage.models import Bank, BankPolicy, Change, ChangeOp, Signal, stored_value, utcnow
from app.storage.repositories import (
    BankRepository,
    BankThresholdRepository,
    ChangeRepository,
    IndexedSignal,
    SignalRepository,
)
from app.storage.rows import BankEntryRow, BankRow

__all__ = ["BankEntries", "BankService", "BankView", "VideoSettings", "check_thresholds"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class VideoSettings:
    """A bank's video settings (the frame distance is its ``vpdq`` threshold).

    ``quality_floor``: vPDQ frames of a lower quality are ignored (0-100);
    ``match_percent``: a video matches a stored video when this share of its frames match
    (1-100); ``image_in_video``: an image checked may match a stored video's frame;
    ``video_has_image``: a video checked may match a stored image shown in it for at least
    ``image_seconds`` of its sampled seconds (1-3600).
    """

    quality_floor: int = hashes.QUALITY_FLOOR
    match_percent: int = int(hashes.QUERY_MATCH_PERCENT)
    image_in_video: bool = True
    video_has_image: bool = True
    image_seconds: int = 2

    def __post_init__(self) -> None:
        for name, low, high in (
            ("quality_floor", 0, 100),
            ("match_percent", 1, 100),
            ("image_seconds", 1, 3600),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInput(f"video {name} must be a whole number from {low} to {high}")

    @classmethod
    def of(cls, bank: Bank | BankRow) -> VideoSettings:
        return cls(
            int(bank.video_quality_floor),
            int(bank.video_match_percent),
            bool(bank.image_in_video),
            bool(bank.video_has_image),
            int(bank.video_image_seconds),
        )

    def apply(self, bank: Bank) -> None:
        bank.video_quality_floor = self.quality_floor
        bank.video_match_percent = self.match_percent
        bank.image_in_video = self.image_in_video
        bank.video_has_image = self.video_has_image
        bank.video_image_seconds = self.image_seconds


@dataclass(frozen=True)
class BankView:
    id: int
    name: str
    policy: str
    description: str
    thresholds: Mapping[str, int]  # the bank's own match distances, by signal type
    hashes: int
    phash_block: bool = False  # pHash-only matches may block (else they answer review)
    video: VideoSettings = VideoSettings()

    @property
    def pdq_threshold(self) -> int | None:
        return self.thresholds.get("pdq")

    @property
    def phash_threshold(self) -> int | None:
        return self.thresholds.get("phash")


def _view(bank: Bank | BankRow, thresholds: Mapping[str, int], hashes: int) -> BankView:
    return BankView(
        bank.id,
        bank.name,
        str(bank.policy),
        bank.description,
        MappingProxyType(dict(sorted(thresholds.items()))),
        hashes,
        bool(bank.phash_block),
        VideoSettings.of(bank),
    )


def check_thresholds(
    types: hashes.SignalRegistry, thresholds: Mapping[str, int | None]
) -> dict[str, int | None]:
    """``thresholds`` once each names an enabled perceptual type and is within its range.

    Raises:
        InvalidInput: an unknown or exact type, or a distance out of range.
    """
    out: dict[str, int | None] = {}
    for kind, value in thresholds.items():
        spec = types.get(kind) if kind in types else None
        if spec is None or not spec.perceptual:
            perceptual = ", ".join(s.name for s in types if s.perceptual)
            raise InvalidInput(
                f"no threshold for {kind!r}: thresholds are set for perceptual signal types "
                f"({perceptual})"
            )
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= spec.max_threshold
        ):
            raise InvalidInput(f"{kind} threshold must be between 0 and {spec.max_threshold}")
        out[kind] = value
    return out


class BankService:
    def __init__(
        self,
        db: Database,
        replica: IndexReplica,
        types: hashes.SignalRegistry = hashes.BUILTINS,
    ) -> None:
        self.db = db
        self.replica = replica
        self.types = types

    def list(self) -> list[BankView]:
        with self.db.read() as session:
            repo = BankRepository(session)
            counts = repo.hash_counts()
            own = BankThresholdRepository(session).all()
            return [_view(b, own.get(b.id, {}), counts.get(b.id, 0)) for b in repo.list()]

    def create(
        self,
        name: str,
        policy: str,
        *,
        actor: str,
        description: str = "",
        thresholds: Mapping[str, int | None] | None = None,
        phash_block: bool = False,
        video: VideoSettings | None = None,
    ) -> BankView:
        """Create a bank, with its own match distance for some signal types
        (``thresholds``; the others use the service's defaults); ``phash_block`` lets a
        pHash-only match block (64-bit pHashes collide too easily: by default such a
        match answers review); ``video``: its video settings (default: vPDQ's)."""
        if not _NAME.fullmatch(name):
            raise InvalidInput("a bank name is 1-64 lowercase letters, digits, '-' or '_'")
        try:
            policy_value = BankPolicy(policy)
        except ValueError:
            raise InvalidInput("policy must be block, review or allow") from None
        own = check_thresholds(self.types, thresholds or {})
        with self.db.write() as session:
            bank = BankRepository(session).add(
                Bank(
                    name=name,
                    policy=policy_value,
                    description=description[:500],
                    phash_block=phash_block,
                    created_at=utcnow(),
                )
            )
            (video or VideoSettings()).apply(bank)
            BankThresholdRepository(session).replace(bank.id, own)
            ChangeRepository(session).append(
                [Change(at=utcnow(), op=ChangeOp.BANK, bank_id=bank.id)]
            )
            audit.record(
                session,
                actor,
                "bank.created",
                "bank",
                name,
                policy=str(policy_value),
                phash_block=phash_block,
                **{f"{k}_threshold": v for k, v in own.items() if v is not None},
            )
            view = _view(bank, {k: v for k, v in own.items() if v is not None}, 0)
        self.replica.sync()
        return view

    def set_thresholds(
        self,
        name: str,
        *,
        actor: str,
        thresholds: Mapping[str, int | None],
        phash_block: bool | None = None,
        video: VideoSettings | None = None,
    ) -> BankView:
        """Set (or clear, with None) a bank's thresholds of the types in ``thresholds``
        (others unchanged), whether a pHash-only match may block and its video settings
        (None: unchanged); every process follows."""
        own = check_thresholds(self.types, thresholds)
        with self.db.write() as session:
            repo = BankRepository(session)
            bank = repo.by_name(name)
            if bank is None:
                raise NotFound(f"no bank {name!r}")
            rows = BankThresholdRepository(session)
            rows.replace(bank.id, own)
            if phash_block is not None and phash_block != bank.phash_block:
                bank.phash_block = phash_block
                audit.record(
                    session, actor, "bank.phash_block", "bank", name, phash_block=phash_block
                )
            if video is not None and video != VideoSettings.of(bank):
                video.apply(bank)
                audit.record(session, actor, "bank.video", "bank", name, **asdict(video))
            ChangeRepository(session).append(
                [Change(at=utcnow(), op=ChangeOp.BANK, bank_id=bank.id)]
            )
            audit.record(session, actor, "bank.thresholds", "bank", name, **own)
            view = _view(bank, rows.of(bank.id), repo.hash_counts().get(bank.id, 0))
        self.replica.sync()
        return view


class BankEntries:
    """Hashes held straight by a bank (no case): imported hash lists and allow-list
    entries. Bulk-load them, remove them, export them; every change goes through the
    change log (replicas and the feed follow) and the audit log.

    Imported hashes pass the same poisoning guard as reported ones
    (:func:`app.services.inputs.refuse_weak`): a hash list from elsewhere is no more
    trusted than a report. A case's hashes are not bank entries: they leave the bank
    with their case (rejected or withdrawn), never one by one.
    """

    def __init__(
        self,
        db: Database,
        replica: IndexReplica | None = None,
        *,
        min_pdq_quality: int = DEFAULT_MIN_PDQ_QUALITY,
        types: hashes.SignalRegistry = hashes.BUILTINS,
    ) -> None:
        self.db = db
        self.replica = replica
        self.min_pdq_quality = min_pdq_quality
        self.types = types

    def add(
        self, bank_name: str, items: list[HashInput], *, actor: str, note: str | None = None
    ) -> int:
        """Add validated hashes to ``bank_name``; return how many were added.

        Raises:
            InvalidInput: a weak hash among ``items`` (nothing of the batch is added).
            NotFound: no such bank.
        """
        if not items:
            return 0
        refuse_weak(items, min_pdq_quality=self.min_pdq_quality, types=self.types)
        now = utcnow()
        with self.db.write() as session:
            bank = BankRepository(session).by_name(bank_name)
            if bank is None:
                raise NotFound(f"no bank {bank_name!r}")
            # plain rows, no ORM objects: bulk imports write millions (benchmarks/bulk_import.py)
            entries = [
                BankEntryRow(i.type, *stored_value(i.value), i.quality, i.seconds) for i in items
            ]
            ids = SignalRepository(session).insert_bank_entries(bank.id, entries, at=now, note=note)
            ChangeRepository(session).append_bank_entries(
                ChangeOp.ADD, bank.id, ids, entries, "bank", now
            )
            audit.record(session, actor, "bank.imported", "bank", bank_name, hashes=len(ids))
        self._sync()
        return len(items)

    def remove(
        self, bank_name: str, items: list[HashInput], *, actor: str, reason: str | None = None
    ) -> int:
        """Remove the entries of ``bank_name`` equal to any of ``items`` (type and value);
        return how many were removed (0 when none is there: removing is idempotent).

        Raises:
            NotFound: no such bank.
        """
        if not items:
            return 0
        wanted = {(i.type, stored_value(i.value)[0]) for i in items}  # a long one: its digest
        with self.db.write() as session:
            bank = BankRepository(session).by_name(bank_name)
            if bank is None:
                raise NotFound(f"no bank {bank_name!r}")
            signals = SignalRepository(session).bank_entries(bank.id, wanted)
            self._tombstone(session, bank.name, signals, actor=actor, reason=reason)
        self._sync()
        return len(signals)

    def remove_one(self, signal_id: int, *, actor: str, reason: str | None = None) -> str:
        """Remove one bank entry by its signal id; return its bank's name.

        Raises:
            NotFound: no such hash, or already removed.
            Conflict: the hash belongs to a case (reject or withdraw the case instead).
        """
        with self.db.write() as session:
            signal = SignalRepository(session).get(signal_id)
            if signal is None or signal.deleted_at is not None:
                raise NotFound(f"no stored hash {signal_id}")
            if signal.case_id is not None:
                raise Conflict(
                    "this hash belongs to a case: it leaves the bank when the case is "
                    "rejected or withdrawn"
                )
            bank = BankRepository(session).get(signal.bank_id)
            name = bank.name if bank is not None else str(signal.bank_id)
            self._tombstone(session, name, [signal], actor=actor, reason=reason)
        self._sync()
        return name

    @staticmethod
    def _tombstone(
        session: Session, bank_name: str, signals: list[Signal], *, actor: str, reason: str | None
    ) -> None:
        if not signals:
            return
        now = utcnow()
        for signal in signals:
            signal.deleted_at = now
        changes = ChangeRepository(session)
        changes.append(changes.for_signals(ChangeOp.REMOVE, signals, "removed", now))
        detail: dict[str, object] = {"hashes": len(signals)}
        if len(signals) == 1:
            detail["signal"] = signals[0].id
        if reason:
            detail["reason"] = reason[:500]
        audit.record(session, actor, "bank.entries_removed", "bank", bank_name, **detail)

    def _sync(self) -> None:
        if self.replica is not None:
            self.replica.sync()

    def banks(self) -> dict[int, BankRow]:
        """Every bank, by id."""
        with self.db.read() as session:
            return {b.id: b for b in BankRepository(session).list()}

    def export(self, bank_name: str | None) -> Iterator[IndexedSignal]:
        """Every matchable signal (of one bank, or all), in id order."""
        with self.db.read() as session:
            banks = {b.id: b.name for b in BankRepository(session).list()}
            for batch in SignalRepository(session).iter_matchable(batch=20_000):
                for sig in batch:
                    if bank_name is None or banks.get(sig.bank_id) == bank_name:
                        yield sig
