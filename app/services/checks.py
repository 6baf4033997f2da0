"""Platform checks: hashes (or an image) in, action and matches out; matches logged."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import hashes
from app.errors import RateLimited
from app.index.replica import BankInfo, IndexReplica
from app.index.signals import SignalInfo, SignalStatus
from app.services import audit
from app.services.inputs import HashInput
from app.services.videos import VideoDetail, VideoHit, VideoMatcher, VideoQuery
from app.storage import DatabaseError as DBAPIError
from app.storage import Session
from app.storage.db import Database
from app.storage.models import BankPolicy, ChangeOp, Match, SignalQuarantine, utcnow
from app.storage.repositories import (
    QUARANTINED,
    CaseRepository,
    ChangeRepository,
    MatchRepository,
    QuarantineRepository,
    SignalRepository,
)

log = logging.getLogger(__name__)

__all__ = [
    "Action",
    "Candidate",
    "CheckResult",
    "CheckService",
    "MatchFound",
    "ProbePolicy",
    "QuarantinePolicy",
    "Thresholds",
]

Action = Literal["none", "review", "block"]  # what a platform does with an upload
ACTION_RANK: dict[Action, int] = {"none": 0, "review": 1, "block": 2}


class Thresholds:
    """Default match distance per signal type (0 for exact ones); a bank may override."""

    def __init__(
        self,
        types: hashes.SignalRegistry = hashes.BUILTINS,
        overrides: Mapping[str, int] | None = None,
    ) -> None:
        """Each type's spec default, or its entry in ``overrides`` (the settings')."""
        self.types = types
        self.defaults: dict[str, int] = {
            s.name: (overrides or {}).get(s.name, s.default_threshold) for s in types
        }

    def default(self, signal_type: str) -> int:
        return self.defaults.get(signal_type, 0)

    def for_bank(self, signal_type: str, bank: BankInfo) -> int:
        own = bank.thresholds.get(signal_type)
        return self.defaults.get(signal_type, 0) if own is None else own


@dataclass(frozen=True)
class QuarantinePolicy:
    """When a stored hash matches more than a victim's image plausibly would.

    A victim's image comes back a few times on a few platforms; a hash matched by
    ``matches`` uploads, or by ``clients`` distinct API clients, within ``window_seconds``
    is far more likely a common image that slipped into the bank. 0 turns a limit off.

    An upload is a distinct (client, query hash) pair: one client re-checking the same
    hash, or sending it many times in one batch, is one upload; and one client counts
    for at most ``per_client`` uploads of a hash per window, so no single API key can
    quarantine a victim's hash on its own (with the defaults it takes 10 clients, or 25).
    """

    matches: int = 1000
    clients: int = 25
    window_seconds: int = 86_400
    per_client: int = 100

    def reason(self, matches: int, clients: int) -> str | None:
        """Why a hash with these counts in the window is hot, or None."""
        hours = f"{self.window_seconds / 3600:g} h"
        if self.matches and matches >= self.matches:
            return f"{matches} matches in {hours} (limit {self.matches})"
        if self.clients and clients >= self.clients:
            return f"matched by {clients} clients in {hours} (limit {self.clients})"
        return None

    def counts(self, uploads_per_client: Sequence[int]) -> tuple[int, int]:
        """(uploads counted, clients) from each client's distinct uploads of one hash."""
        cap = self.per_client or None
        return sum(n if cap is None else min(n, cap) for n in uploads_per_client), len(
            uploads_per_client
        )

    @property
    def enabled(self) -> bool:
        return bool(self.matches or self.clients)


@dataclass(frozen=True)
class ProbePolicy:
    """When a client's checks look like an attempt to rebuild a stored perceptual hash.

    Rebuilding a hash takes many distinct queries near it (a bit flipped at a time,
    watching which answers still match). A client whose checks, within ``window_seconds``,
    brought ``near_misses`` distinct query hashes (at a distance above 0) to the same
    stored hash is refused every check (429) for ``penalty_seconds``, and the audit log
    says so. 0 turns it off.
    """

    near_misses: int = 32
    window_seconds: int = 3600
    penalty_seconds: int = 3600

    @property
    def enabled(self) -> bool:
        return self.near_misses > 0


@dataclass(frozen=True)
class MatchFound:
    """One match of a check, as answered (the API shows it as ``MatchOut``)."""

    signal_type: str
    distance: int  # answered only to clients allowed exact distances; others get the band
    bank: str
    match_id: int | None  # None: the database was unreachable, the match is not logged
    action: Action
    signal_id: int | None = None  # the stored hash matched: never answered as such
    video: VideoDetail | None = None  # where in a video (times, percentages)

    @property
    def band(self) -> Literal["exact", "near"]:
        """``exact`` (distance 0: the very hash) or ``near``."""
        return "exact" if self.distance == 0 else "near"


@dataclass
class CheckResult:
    match: bool = False
    action: Action = "none"
    matches: list[MatchFound] = field(default_factory=list)


@dataclass
class Candidate:
    """A stored hash within a bank's threshold of a query hash, before it is logged
    (:meth:`CheckService.find` finds them, :meth:`CheckService.record` logs them)."""

    signal_id: int
    signal_type: str
    distance: int
    query_value: str
    bank: BankInfo
    case_id: int | None
    action: Action
    pending: bool = False  # the hash's case is pending review
    video: VideoDetail | None = None  # where in a video (times, percentages)


@dataclass
class _Logged:
    ids: list[int | None]
    probing: bool = False


class CheckService:
    """Answers checks from the in-memory index; writes only when something matched."""

    def __init__(
        self,
        db: Database,
        replica: IndexReplica,
        thresholds: Thresholds,
        quarantine: QuarantinePolicy | None = None,
        probes: ProbePolicy | None = None,
        *,
        pending_review_delay: float = 0,
    ) -> None:
        self.db = db
        self.replica = replica
        self.thresholds = thresholds
        self.quarantine = quarantine or QuarantinePolicy()
        self.probes = probes or ProbePolicy()
        self.pending_review_delay = pending_review_delay
        self.videos = VideoMatcher(
            replica,
            thresholds.defaults.get("vpdq", hashes.FRAME_DISTANCE),
            thresholds.defaults.get("pdq", hashes.FRAME_DISTANCE),
        )
        # client id -> time.monotonic() until which its checks are refused (this process;
        # the others see the same match log and refuse the client at its next match)
        self._probers: dict[int, float] = {}
        self._probers_lock = threading.Lock()

    def refuse_prober(self, client_id: int | None) -> None:
        """Raise RateLimited if this client is serving a probing penalty (a dict look-up:
        it runs before every check, matched or not, so the refusal itself reveals nothing).
        """
        if not self._probers or client_id is None:
            return
        until = self._probers.get(client_id)
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            with self._probers_lock:
                self._probers.pop(client_id, None)
            return
        raise RateLimited(
            "this key sent many near-miss checks against one stored hash (probing); its "
            "checks are refused for a while",
            retry_after=math.ceil(left),
        )

    def _penalise(self, client_id: int) -> None:
        with self._probers_lock:
            self._probers[client_id] = time.monotonic() + self.probes.penalty_seconds

    def _radius(self, signal_type: str) -> int:
        """The widest distance any bank accepts for this type (search once, filter per bank)."""
        radius = self.thresholds.default(signal_type)
        for bank in list(self.replica.banks.values()):
            radius = max(radius, self.thresholds.for_bank(signal_type, bank))
        return int(radius)

    def find(self, items: Sequence[HashInput]) -> list[Candidate]:
        """Matches for one item (one uploaded image's hashes); no database access.

        An allow-list hit cancels the matches of its signal type that are farther
        from the query than the allow-list entry: the image a moderator marked as a
        false positive stops matching, while the victim's own image (closer to the
        victim's hash than to the allow-listed look-alike) keeps matching. One
        candidate per case (or per bank entry) and signal type: the closest.
        """
        return self.find_many([items])[0]

    def find_many(self, batch: Sequence[Sequence[HashInput]]) -> list[list[Candidate]]:
        """:meth:`find` for many items with one index search per signal type in all.

        An item holding a ``vpdq`` value is a video: it is matched against stored videos
        and stored images (:class:`VideoMatcher`), and its PDQ hashes that carry
        ``seconds`` are variants of its frames, not images of their own. An image's PDQ
        hashes are also matched against stored videos' frames.
        """
        values: dict[str, list[str]] = {}
        owners: dict[str, list[int]] = {}
        queries: dict[int, list[VideoQuery]] = {}
        for i, items in enumerate(batch):
            videos = [item for item in items if item.type in self.replica.video_types]
            framed = [(x.seconds, x.value) for x in items if x.seconds is not None]
            if videos:
                queries[i] = [VideoQuery.of(v.value, framed) for v in videos]
            for item in items:
                if item.type in self.replica.video_types or (videos and item.seconds is not None):
                    continue
                values.setdefault(item.type, []).append(item.value)
                owners.setdefault(item.type, []).append(i)
        best: dict[int, dict[tuple[int | None, int, str], Candidate]] = {}
        allowed: dict[int, dict[str, int]] = {}  # item -> signal type -> closest allow hit

        def keep(i: int, c: Candidate, info: SignalInfo) -> None:
            key = (info.case_id, info.bank_id if info.case_id is None else 0, c.signal_type)
            found = best.setdefault(i, {})
            if key not in found or c.distance < found[key].distance:
                found[key] = c

        for signal_type, queries_of_type in values.items():
            owner = owners[signal_type]
            for hit in self.replica.search(signal_type, queries_of_type, self._radius(signal_type)):
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
                if action == "block" and signal_type == "phash" and not bank.phash_block:
                    # 64 bits collide too easily to block on their own: a pHash match
                    # blocks only beside another hash's block, or in a bank that says so
                    action = "review"
                detail = None
                secs = self.replica.frame_seconds(hit.signal_id)
                if secs is not None:  # a frame of a stored video
                    if not bank.image_in_video:
                        continue
                    detail = VideoDetail(seconds=secs, interval=(secs, secs))
                keep(
                    i,
                    Candidate(
                        hit.signal_id,
                        signal_type,
                        hit.distance,
                        queries_of_type[hit.query],
                        bank,
                        info.case_id,
                        action,
                        info.status == "pending",
                        detail,
                    ),
                    info,
                )
        # an image's PDQ hashes against stored videos' frames
        if self.replica.videos.videos and "pdq" in values:
            by_item: dict[int, list[str]] = {}
            for value, i in zip(values["pdq"], owners["pdq"], strict=True):
                by_item.setdefault(i, []).append(value)
            for i, pdqs in by_item.items():
                for vh in self.videos.image_in_videos(pdqs):
                    self._keep_video(i, vh, keep)
        for i, video_queries in queries.items():
            for query in video_queries:
                for vh in self.videos.videos(query) + self.videos.images_in_video(query):
                    self._keep_video(i, vh, keep)
        out: list[list[Candidate]] = [[] for _ in batch]
        for i, found in best.items():
            allow = allowed.get(i, {})
            kept = [c for c in found.values() if c.distance <= allow.get(c.signal_type, c.distance)]
            out[i] = sorted(kept, key=lambda c: (c.distance, c.signal_id))
        return out

    @staticmethod
    def _keep_video(
        i: int, vh: VideoHit, keep: Callable[[int, Candidate, SignalInfo], None]
    ) -> None:
        if vh.bank.policy == BankPolicy.ALLOW:
            return  # allow-listing videos: not offered (an allow hit cancels nothing)
        action = _action(vh.bank.policy, vh.info.status)
        if action == "none":
            return
        candidate = Candidate(
            vh.signal_id,
            vh.signal_type,
            vh.distance,
            vh.query_value,
            vh.bank,
            vh.info.case_id,
            action,
            vh.info.status == "pending",
            vh.detail,
        )
        keep(i, candidate, vh.info)

    def _log(
        self, flat: Sequence[tuple[int, Candidate]], client_id: int | None, now: datetime
    ) -> _Logged:
        """Write the match rows and bump the cases' counters in one transaction; say
        whether the client is probing (then nothing counts: no attempt, no quarantine)."""
        firsts = _first_per_upload(flat)
        with self.db.write() as session:
            matches = MatchRepository(session)
            # the same query hash from the same client within the window is the same
            # upload checked again: it is logged, but it is not another re-upload attempt
            since = now - timedelta(seconds=self.quarantine.window_seconds)
            seen = matches.seen_uploads(
                client_id,
                {(c.case_id, c.query_value) for _, c in flat if c.case_id is not None},
                since,
            )
            rechecked = _rechecked(flat, seen)
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
                    attempt=first and (i, c.case_id) not in rechecked,
                    video_start=c.video.interval[0] if c.video and c.video.interval else None,
                    video_end=c.video.interval[1] if c.video and c.video.interval else None,
                )
                for (i, c), first in zip(flat, firsts, strict=True)
            ]
            matches.add_many(rows)
            if self._probing(matches, flat, client_id, now):
                for row in rows:
                    row.attempt = False
                audit.record(
                    session,
                    "system",
                    "client.probing",
                    "client",
                    client_id or 0,
                    limit=self.probes.near_misses,
                    window_seconds=self.probes.window_seconds,
                    penalty_seconds=self.probes.penalty_seconds,
                )
                log.warning("client probing a stored hash", extra={"client_id": client_id})
                return _Logged([row.id for row in rows], probing=True)
            # a case counts re-upload attempts: its rows marked ``attempt``, one per upload
            # however many of its hashes (PDQ, MD5, SHA-256, pHash) the upload matched
            attempts: dict[int, int] = {}
            for (_, c), row in zip(flat, rows, strict=True):
                if row.attempt and c.case_id is not None:
                    attempts[c.case_id] = attempts.get(c.case_id, 0) + 1
            cases = CaseRepository(session)
            for case_id, n in sorted(attempts.items()):
                cases.bump_matches(case_id, n, now)
            hot = self._quarantine_hot(session, flat, now)
            for (_, c), row in zip(flat, rows, strict=True):
                if c.signal_id in hot:
                    c.action = row.action = "review"
            ids: list[int | None] = [row.id for row in rows]
        if hot:
            self.replica.sync()  # this process answers review at once; others within ~1 s
        return _Logged(ids)

    def _probing(
        self,
        matches: MatchRepository,
        flat: Sequence[tuple[int, Candidate]],
        client_id: int | None,
        now: datetime,
    ) -> bool:
        """Whether this client has now brought too many distinct near queries to one
        stored perceptual hash (the rows just added included)."""
        if not self.probes.enabled or client_id is None:
            return False
        near = {c.signal_id for _, c in flat if c.distance > 0}
        if not near:
            return False
        since = now - timedelta(seconds=self.probes.window_seconds)
        counts = matches.near_query_counts(client_id, near, since)
        return any(n >= self.probes.near_misses for n in counts.values())

    def _quarantine_hot(
        self, session: Session, flat: Sequence[tuple[int, Candidate]], now: datetime
    ) -> set[int]:
        """Quarantine the matched signals that are hot (see :class:`QuarantinePolicy`),
        counting the matches just logged; return the ids quarantined now."""
        if not self.quarantine.enabled:
            return set()
        ids: set[int] = set()
        for _, c in flat:
            info = self.replica.info(c.signal_id)
            if info is not None and info.status != QUARANTINED:
                ids.add(c.signal_id)
        repo = QuarantineRepository(session)
        ids -= set(repo.states(ids))  # quarantined already, or released by a moderator
        if not ids:
            return set()
        since = now - timedelta(seconds=self.quarantine.window_seconds)
        hot: set[int] = set()
        for signal_id, per_client in sorted(repo.upload_counts(ids, since).items()):
            matches, clients = self.quarantine.counts(per_client)
            reason = self.quarantine.reason(matches, clients)
            if reason is None:
                continue
            row = SignalQuarantine(
                signal_id=signal_id,
                state=QUARANTINED,
                reason=reason,
                matches=matches,
                clients=clients,
                created_at=now,
            )
            if repo.add(row):
                hot.add(signal_id)
                audit.record(
                    session,
                    "system",
                    "signal.quarantined",
                    "signal",
                    signal_id,
                    reason=reason,
                )
                log.warning("hot hash quarantined", extra={"signal_id": signal_id})
        if hot:
            changes = ChangeRepository(session)
            signals = SignalRepository(session).by_ids(sorted(hot))
            changes.append(changes.for_signals(ChangeOp.UPDATE, signals, QUARANTINED, now))
        return hot

    def record(
        self, found: Sequence[Sequence[Candidate]], client_id: int | None
    ) -> list[CheckResult]:
        """Log the matches of several items in one transaction; build their results.

        Identical items (the same matches from the same query hashes) are one upload:
        each gets its answer, the match is logged once and they share its ``match_id``.

        Raises:
            RateLimited: the client is probing (see :class:`ProbePolicy`).
        """
        self.refuse_prober(client_id)
        results = [CheckResult() for _ in found]
        found = self._hold_young_pending(found)
        same: dict[tuple[tuple[int, str], ...], int] = {}
        first = [
            same.setdefault(tuple((c.signal_id, c.query_value) for c in f), i)
            for i, f in enumerate(found)
        ]
        flat = [(i, c) for i, cands in enumerate(found) if first[i] == i for c in cands]
        if not flat:
            return results
        now = utcnow()
        try:
            logged = self._log(flat, client_id, now)
        except DBAPIError:
            # The answer comes from memory: a platform still gets "block" while the
            # database is down (it must not let a victim's image through); only the match
            # log entry is lost, and that is logged and counted.
            log.warning("database unreachable: match answered but not logged", exc_info=True)
            logged = _Logged([None] * len(flat))
        if logged.probing and client_id is not None:
            self._penalise(client_id)
            self.refuse_prober(client_id)
        ids: dict[int, list[int | None]] = {}
        for (i, _), match_id in zip(flat, logged.ids, strict=True):
            ids.setdefault(i, []).append(match_id)
        for i, res in enumerate(results):
            rep = first[i]
            for c, match_id in zip(found[rep], ids.get(rep, []), strict=True):
                res.match = True
                if ACTION_RANK[c.action] > ACTION_RANK[res.action]:
                    res.action = c.action
                res.matches.append(
                    MatchFound(
                        c.signal_type,
                        c.distance,
                        c.bank.name,
                        match_id,
                        c.action,
                        c.signal_id,
                        c.video,
                    )
                )
        return results

    def _hold_young_pending(
        self, found: Sequence[Sequence[Candidate]]
    ) -> Sequence[Sequence[Candidate]]:
        """Drop matches of pending cases' hashes younger than the pending-review delay
        (reported so recently that no moderator has looked at them yet)."""
        if self.pending_review_delay <= 0 or not any(c.pending for f in found for c in f):
            return found
        ids = {c.signal_id for f in found for c in f if c.pending}
        try:
            with self.db.read() as session:
                born = SignalRepository(session).created_at(ids)
        except DBAPIError:
            log.warning("database unreachable: pending hashes answer review", exc_info=True)
            return found
        cutoff = utcnow() - timedelta(seconds=self.pending_review_delay)
        young = {sid for sid, at in born.items() if at > cutoff}
        if not young:
            return found
        return [[c for c in f if not (c.pending and c.signal_id in young)] for f in found]

    def check(self, items: Sequence[HashInput], client_id: int | None) -> CheckResult:
        return self.record([self.find(items)], client_id)[0]

    def check_batch(
        self, batch: Sequence[Sequence[HashInput]], client_id: int | None
    ) -> list[CheckResult]:
        return self.record([self.find(items) for items in batch], client_id)


def _rechecked(
    flat: Sequence[tuple[int, Candidate]], seen: set[tuple[int, str]]
) -> set[tuple[int, int]]:
    """The (upload, case) pairs that are a re-check, not a new upload: one of the
    upload's query hashes matching the case was checked by this client before (within
    the window, or by an earlier item of the same call)."""
    queries: dict[tuple[int, int], set[tuple[int, str]]] = {}
    for i, c in flat:
        if c.case_id is not None:
            queries.setdefault((i, c.case_id), set()).add((c.case_id, c.query_value))
    out: set[tuple[int, int]] = set()
    before = set(seen)
    for key, pairs in queries.items():  # in item order
        if pairs & before:
            out.add(key)
        before |= pairs
    return out


def _first_per_upload(flat: Sequence[tuple[int, Candidate]]) -> list[bool]:
    """True for the first match of each (upload, case) — or (upload, bank) for hashes
    imported without a case: the rows that count as one re-upload attempt each."""
    seen: set[tuple[int, int | None, int]] = set()
    out = []
    for i, c in flat:
        key = (i, c.case_id, 0 if c.case_id is not None else c.bank.id)
        out.append(key not in seen)
        seen.add(key)
    return out


def _action(policy: BankPolicy, status: SignalStatus) -> Action:
    if status in ("pending", "quarantined"):
        return "review"
    if status in ("active", "bank"):
        if policy == BankPolicy.BLOCK:
            return "block"
        return "review" if policy == BankPolicy.REVIEW else "none"
    return "none"
