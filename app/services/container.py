"""Services: every use-case object of one process, built from Settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hashes
from app.config import Settings
from app.index.replica import IndexReplica
from app.index.snapshots import Refresher, SnapshotStore, default_directory
from app.services.admin import AdminService
from app.services.banks import BankEntries, BankService
from app.services.cases import CaseService
from app.services.checking import Checker, CheckLimits
from app.services.checks import CheckService, ProbePolicy, QuarantinePolicy
from app.services.clients import ClientService
from app.services.feed import FeedService
from app.services.hma import HmaCompat
from app.services.images import DecodeSlots
from app.services.matches import MatchService
from app.services.ratelimit import RateLimiter
from app.services.records import CheckCounter, Period, RecordService
from app.services.retention import RetentionPolicy, RetentionService
from app.services.review import ReviewService
from app.services.sessions import SessionService
from app.services.signal_types import default_thresholds, load_signal_types
from app.services.snapshot_writer import writer_command
from app.services.stopncii import StopNCIIService
from app.services.users import LoginPolicy, UserService
from app.services.views import Views
from app.services.webhook_urls import UrlPolicy
from app.services.webhook_worker import DeliveryConfig, WebhookWorker
from app.services.webhooks import WebhookService
from app.storage.db import Database

__all__ = ["Services", "snapshot_store"]


@dataclass
class Services:
    settings: Settings
    types: hashes.SignalRegistry
    db: Database
    replica: IndexReplica
    cases: CaseService
    checks: CheckService
    clients: ClientService
    users: UserService
    banks: BankService
    feed: FeedService
    matches: MatchService
    limiter: RateLimiter
    entries: BankEntries = field(init=False)
    sessions: SessionService = field(init=False)
    review: ReviewService = field(init=False)
    admin: AdminService = field(init=False)
    views: Views = field(init=False)
    retention: RetentionService = field(init=False)
    decodes: DecodeSlots = field(init=False)
    checker: Checker = field(init=False)
    stopncii: StopNCIIService = field(init=False)
    hma: HmaCompat = field(init=False)
    webhooks: WebhookService = field(init=False)
    check_counts: CheckCounter = field(init=False)
    records: RecordService = field(init=False)

    def __post_init__(self) -> None:
        self.decodes = DecodeSlots(
            self.settings.max_concurrent_decodes, self.settings.decode_wait_seconds
        )
        self.check_counts = CheckCounter()
        self.checker = Checker(
            self.checks,
            self.decodes,
            CheckLimits(
                max_image_bytes=self.settings.max_image_bytes,
                max_image_pixels=self.settings.max_image_pixels,
                density=self.settings.pdq_variants,
                max_video_frames=self.settings.max_video_frames,
                max_video_bytes=self.settings.max_video_bytes,
                max_video_seconds=self.settings.max_video_seconds,
            ),
            self.types,
            self.check_counts,
        )
        # LEAD (issue 21 item 1): pass webhook_health=<the webhooks service's
        # webhook_health(client_id, period)> here; until then records say "no webhooks"
        self.records = RecordService(
            self.db,
            self.check_counts,
            silent_after_days=self.settings.silent_after_days,
            webhook_health=self._webhook_health,
        )
        self.hma = HmaCompat(self.checker, self.replica, self.feed.groups, self.types)
        self.entries = BankEntries(
            self.db,
            self.replica,
            min_pdq_quality=self.settings.min_pdq_quality,
            types=self.types,
        )
        self.sessions = SessionService(self.db, self.users)
        self.retention = RetentionService(
            self.db, self.replica, RetentionPolicy.from_settings(self.settings)
        )
        self.review = ReviewService(self.db, self.cases)
        self.admin = AdminService(self.users, self.sessions, self.clients)
        self.views = Views.build(self.db, self.replica, self.clients)
        self.stopncii = StopNCIIService(self.db, self.types, self.cases, self.feed.groups)
        key = self.settings.webhook_secret_key
        self.webhooks = WebhookService(
            self.db,
            UrlPolicy(
                allow_http=self.settings.webhook_allow_http,
                allowed_hosts=self.settings.webhook_allowed_hosts,
            ),
            key.get_secret_value() if key else None,
        )

    def _webhook_health(self, client_id: int, period: Period) -> Mapping[str, Any] | None:
        """A platform record's webhook delivery health over ``period`` (UTC days); None
        for a platform without webhook endpoints."""
        start = datetime.combine(period.start, datetime.min.time(), UTC)
        end = datetime.combine(period.end, datetime.min.time(), UTC)
        health = self.webhooks.webhook_health(client_id, (start, end))
        if not health["endpoints"]:
            return None
        at = health["last_error_at"]
        return {**health, "last_error_at": at.isoformat() if isinstance(at, datetime) else None}

    def webhook_worker(self) -> WebhookWorker:
        """A delivery worker for this process (the server starts it; see
        :mod:`app.services.webhook_worker`)."""
        s = self.settings
        return WebhookWorker(
            self.db,
            self.webhooks,
            self.feed.groups,
            DeliveryConfig(
                batch_size=s.webhook_batch_size,
                timeout=s.webhook_timeout_seconds,
                retry_for=timedelta(hours=s.webhook_retry_hours),
                first_backoff=s.webhook_first_retry_seconds,
                poll_seconds=s.webhook_poll_seconds,
                include_allow_list=s.feed_allow_list,
            ),
        )

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Services:
        """Every service of one process.

        Raises:
            hashes.SignalSpecError: the signal types cannot be loaded (a broken plug-in,
                a name clash, an unknown name in HASHBANK_SIGNAL_TYPES): before anything
                touches the database.
        """
        types = load_signal_types(settings)
        db = Database(settings.database_url)
        if migrate:
            db.upgrade()
        snapshots = snapshot_store(settings)
        replica = IndexReplica(
            db,
            types=types,
            sync_interval=settings.sync_interval,
            snapshots=snapshots,
            chunks=settings.index_chunks,
        )
        if snapshots is not None:
            command, env = writer_command(settings, snapshots)
            replica.refresher = Refresher(
                snapshots,
                replica,
                delta_changes=settings.snapshot_delta_changes,
                max_age=settings.snapshot_max_age_seconds,
                period=min(10.0, settings.snapshot_max_age_seconds / 4),
                command=command,
                env=env,
                timeout=settings.snapshot_writer_timeout_seconds,
            )
        thresholds = default_thresholds(settings, types)
        return cls(
            settings=settings,
            types=types,
            db=db,
            replica=replica,
            cases=CaseService(
                db,
                replica,
                pin_attempts=settings.pin_attempts,
                pin_lock_seconds=settings.pin_lock_seconds,
                min_pdq_quality=settings.min_pdq_quality,
                types=types,
                show_platform_names=settings.show_platform_names_to_victims,
                max_video_frames=settings.max_video_frames,
            ),
            checks=CheckService(
                db,
                replica,
                thresholds,
                QuarantinePolicy(
                    settings.quarantine_matches,
                    settings.quarantine_clients,
                    settings.quarantine_window_seconds,
                    settings.quarantine_matches_per_client,
                ),
                ProbePolicy(
                    settings.probe_near_misses,
                    settings.probe_window_seconds,
                    settings.probe_penalty_seconds,
                ),
                pending_review_delay=settings.pending_review_delay_seconds,
            ),
            clients=ClientService(db, cache_seconds=settings.key_cache_seconds),
            users=UserService(
                db,
                LoginPolicy(
                    per_address=settings.login_attempts_per_address,
                    per_account=settings.login_attempts_per_account,
                    lock=timedelta(minutes=settings.login_lock_minutes),
                ),
            ),
            banks=BankService(db, replica, types),
            feed=FeedService(db, include_allow_list=settings.feed_allow_list),
            matches=MatchService(db, replica),
            limiter=RateLimiter(),
        )

    def close(self) -> None:
        self.replica.stop()
        try:
            self.clients.flush_last_used()
            self.check_counts.flush(self.db)
        finally:
            self.db.dispose()


def snapshot_store(settings: Settings) -> SnapshotStore | None:
    """The index snapshots of this database (None: turned off, or an in-memory SQLite)."""
    if settings.snapshot_keep == 0:
        return None
    directory = (
        Path(settings.snapshot_dir)
        if settings.snapshot_dir
        else default_directory(settings.database_url)
    )
    if directory is None:
        return None
    return SnapshotStore(directory, settings.database_url, keep=settings.snapshot_keep)
