"""Settings: every knob of the service, read from ``HASHBANK_*`` environment variables."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import hashes

__all__ = ["Settings"]

_PDQ, _PHASH = hashes.BUILTINS.get("pdq"), hashes.BUILTINS.get("phash")

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Configuration of one hashbank process.

    Every field is documented in the README's settings table (a test keeps the two in
    sync). ``create_app(settings)`` receives an instance; tests build their own.
    """

    model_config = SettingsConfigDict(env_prefix="HASHBANK_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./hashbank.db",
        description="SQLAlchemy URL of the database (SQLite file or postgresql+psycopg://).",
    )
    pdq_threshold: int = Field(
        _PDQ.default_threshold,
        ge=0,
        le=_PDQ.max_threshold,
        description="Default PDQ match distance (a bank may override it).",
    )
    phash_threshold: int = Field(
        _PHASH.default_threshold,
        ge=0,
        le=_PHASH.max_threshold,
        description="Default pHash match distance (a bank may override it).",
    )
    signal_types: str = Field(
        "",
        description="Signal types enabled (comma-separated names, e.g. pdq,md5). Empty: the "
        "built-in pdq, phash, md5, sha256, video_md5, video_sha256 and vpdq plus every type "
        "installed plug-in packages register (entry-point group hashbank.signal_types).",
    )
    max_body_bytes: int = Field(
        32 * MiB, ge=1024, description="Largest request body accepted, in bytes (else 413)."
    )
    max_image_bytes: int = Field(
        32 * MiB, ge=1024, description="Largest single image accepted, in bytes."
    )
    max_video_bytes: int = Field(
        512 * MiB,
        ge=1024,
        description="Largest single video accepted for hashing by the server (multipart field "
        "video of /v1/check), in bytes (else 413). It is read into memory, never written to "
        "disk.",
    )
    max_video_seconds: float = Field(
        36_000.0,
        gt=0,
        description="Longest video the server hashes, in seconds (else 422).",
    )
    max_video_frames: int = Field(
        36_000,
        ge=1,
        le=36_000,
        description="Most frames of one vpdq value, and of all vpdq values of one request "
        "(else 422); a video hashed by the server samples at most this many.",
    )
    max_image_pixels: int = Field(
        100_000_000, ge=1024, description="Largest decoded image accepted, in pixels."
    )
    max_concurrent_decodes: int = Field(
        default_factory=lambda: 2 * (os.cpu_count() or 1),
        ge=1,
        description="Requests that may decode images at once in one process (default: twice "
        "the CPU cores); more wait in line for up to HASHBANK_DECODE_WAIT_SECONDS, then get "
        "503 with Retry-After.",
    )
    decode_wait_seconds: float = Field(
        10.0,
        ge=0,
        description="How long a request past HASHBANK_MAX_CONCURRENT_DECODES waits for a "
        "decoding slot before it gets 503 (0: refused at once).",
    )
    max_hashes_anonymous: int = Field(
        600, ge=1, description="Most hashes in one case reported without an API key."
    )
    pdq_variants: Literal["none", "light", "default", "dense"] = Field(
        "default",
        description="Which extra PDQ hashes images are hashed into (hashes._variants.DENSITIES): "
        "none, light, default (<= 48 stored per reported image, <= 12 per check) or dense.",
    )
    max_hashes_per_case: int = Field(
        10_000, ge=1, description="Most hashes in one case reported with a `report` key."
    )
    anonymous_cases_per_hour: int = Field(
        20,
        ge=0,
        description="Cases one address may create per hour without a key (in memory, per "
        "process; 0 disables the limit).",
    )
    trusted_proxies: str = Field(
        "",
        description="Reverse proxies whose X-Forwarded-For is believed (comma-separated "
        "addresses or CIDRs, or *; uvicorn's --forwarded-allow-ips rule): anonymous limits key "
        "on the rightmost address that is not one of them. Empty: the socket peer.",
    )
    pin_attempts_per_address_per_hour: int = Field(
        60,
        ge=0,
        description="Wrong PINs or unknown case ids one address may try per hour, across every "
        "case (in memory, per process; 0 disables the limit).",
    )
    min_pdq_quality: int = Field(
        50,
        ge=0,
        le=100,
        description="Reports of PDQ hashes below this quality (0-100) are refused with 422.",
    )
    import_batch: int = Field(
        50_000,
        ge=1,
        le=1_000_000,
        description="Hashes `hashbank import` writes a transaction (its resume points); "
        "reports and other writers wait for one transaction at a time (~1 s at 50,000). "
        "Larger is faster on SQLite: each transaction rewrites every page of the hash "
        "index it touches.",
    )
    quarantine_matches: int = Field(
        1000,
        ge=0,
        description="A stored hash with this many matches within the quarantine window is "
        "quarantined (answers review, not block) until a moderator releases it; 0: never.",
    )
    quarantine_clients: int = Field(
        25,
        ge=0,
        description="A stored hash matched by this many distinct API clients within the "
        "window is quarantined; 0: never.",
    )
    quarantine_window_seconds: int = Field(
        86_400, ge=60, description="The window of the quarantine counts, in seconds."
    )
    quarantine_matches_per_client: int = Field(
        100,
        ge=0,
        description="Most uploads one API client adds to a stored hash's quarantine count "
        "per window (an upload: a distinct query hash; re-checks and duplicates in a batch "
        "count once), so that no single key can quarantine a victim's hash; 0: no cap.",
    )
    probe_near_misses: int = Field(
        32,
        ge=0,
        description="A client whose checks bring this many distinct query hashes at a "
        "distance above 0 to one stored perceptual hash within the probe window is probing "
        "(rebuilding the hash bit by bit): its checks get 429 for the probe penalty and the "
        "audit log and dashboard say so; 0: never.",
    )
    probe_window_seconds: int = Field(
        3600, ge=60, description="The window of the near-miss probe counts, in seconds."
    )
    probe_penalty_seconds: int = Field(
        3600, ge=1, description="How long a probing client's checks are refused, in seconds."
    )
    pending_review_delay_seconds: int = Field(
        0,
        ge=0,
        description="A pending (not yet reviewed) case's hashes answer review only this many "
        "seconds after they were reported (before that: no match), or once a moderator "
        "confirms the case; 0: at once (docs/security.md weighs the two).",
    )
    silent_after_days: int = Field(
        7,
        ge=1,
        description="The platform records flag a platform (API client) as silent when it has "
        "checked nothing for this many days (docs/records.md).",
    )
    show_platform_names_to_victims: bool = Field(
        False,
        description="The case page a victim opens with case number and PIN names the "
        "platforms that caught re-uploads of the case's images (false: counts only).",
    )
    pin_attempts: int = Field(10, ge=1, description="Wrong PINs after which a case is locked.")
    pin_lock_seconds: int = Field(
        900, ge=1, description="How long a case stays locked after too many wrong PINs."
    )
    login_attempts_per_address: int = Field(
        5,
        ge=1,
        description="Failed dashboard sign-ins for one username from one address after which "
        "that address is refused for that username until the window ends (in memory, per "
        "process); the account's owner, from another address, is not affected.",
    )
    login_attempts_per_account: int = Field(
        50,
        ge=1,
        description="Failed dashboard sign-ins for one username from all addresses within "
        "the window after which the account is locked for everyone (in the database).",
    )
    login_lock_minutes: int = Field(
        15, ge=1, description="The window of both sign-in counts, and how long a lock lasts."
    )
    sync_interval: float = Field(
        0.5,
        gt=0,
        description="Seconds between change-log polls that keep the in-memory index current.",
    )
    worker_healthcheck_seconds: int = Field(
        60,
        ge=1,
        description="How long `hashbank serve --workers N` waits for a worker to answer its "
        "health check (a new one while it starts, a running one every half second) before it "
        "replaces it. A worker answers only once its interpreter has imported the service, "
        "which takes seconds on a loaded machine: uvicorn's own default of 5 s restarted "
        "every worker forever there.",
    )
    # -- index snapshots (docs/deploy.md) -----------------------------------------------------
    snapshot_dir: str = Field(
        "",
        description="Directory of the index snapshots every process of a machine maps instead "
        "of loading the bank from the database. Empty: beside a SQLite file "
        "(<file>.snapshots), ./hashbank-snapshots otherwise. Holds hash values: like the "
        "database, the service's own.",
    )
    snapshot_keep: int = Field(
        2,
        ge=0,
        description="Index snapshots kept (the newest); 0 turns snapshots off (every process "
        "loads the bank from the database).",
    )
    snapshot_delta_changes: int = Field(
        100_000,
        ge=1,
        description="A process writes a new index snapshot once it has replayed this many "
        "changes on top of the newest one (each process holds those in private memory).",
    )
    snapshot_max_age_seconds: float = Field(
        3600.0,
        gt=0,
        description="A process also writes a new index snapshot once the newest is this old "
        "and anything changed since (and whenever there is none).",
    )
    snapshot_writer_nice: int = Field(
        19,
        ge=0,
        le=19,
        description="CPU niceness of the child process that writes an index snapshot in the "
        "background (it also takes the lowest best-effort I/O priority); 19: the checks of "
        "the server come first.",
    )
    snapshot_writer_timeout_seconds: float = Field(
        900.0,
        gt=0,
        description="A background index snapshot writer still running after this many seconds "
        "is killed (the server keeps serving on what it holds and tries again later).",
    )
    pdq_index_chunks: int = Field(
        0,
        ge=0,
        le=32,
        description="Chunks the PDQ matching index cuts the 256 bits into (0: the library's "
        "default, 11). Exact either way; 10 searched a 100M-hash bank ~27 % faster, 11 is "
        "faster up to 10M (docs/benchmarks.md). A change makes existing index snapshots "
        "unusable: the next start loads from the database and writes new ones.",
    )
    key_cache_seconds: float = Field(
        2.0,
        ge=0,
        description="How long a process trusts a cached API key before reading it again "
        "(bounds how long a revoked key keeps working on other processes).",
    )
    log_level: str = Field("INFO", description="Log level of the JSON logs on stderr.")
    log_file: str | None = Field(
        None, description="Also write the JSON logs to this file (must end in .log)."
    )
    metrics_key: SecretStr | None = Field(
        None,
        description="When set, /metrics answers only requests with `Authorization: Bearer "
        "<this value>` (401 otherwise); unset, it is open to anyone who reaches it.",
    )
    feed_allow_list: bool = Field(
        False,
        description="Also send allow-list entries (hashes of other platforms' users' images "
        "marked as not abuse) to feed clients.",
    )
    secure_cookies: bool = Field(
        False, description="Mark dashboard cookies Secure (set true behind HTTPS)."
    )
    # -- retention (docs/privacy.md) ---------------------------------------------------------
    match_retention_days: int = Field(
        180,
        ge=0,
        description="Days the match log (re-upload hits: query hash, platform, distance) is "
        "kept; matches still awaiting review stay until reviewed; 0 keeps them forever.",
    )
    audit_retention_days: int = Field(
        730, ge=0, description="Days audit events are kept; 0 keeps them forever."
    )
    closed_case_retention_days: int = Field(
        30,
        ge=0,
        description="Days after a case is withdrawn or rejected until its hashes and their "
        "matches are erased (the case keeps its id, status and counters); 0: never.",
    )
    review_after_days: int = Field(
        365,
        ge=0,
        description="An active case not reviewed for this many days is due for re-review "
        "(hashbank rereview); 0: never.",
    )
    purge_interval_seconds: float = Field(
        3600,
        ge=0,
        description="Seconds between retention purges run by each server process; 0: only "
        "`hashbank purge` (from cron, say) purges.",
    )

    # -- webhooks (docs/integrations.md, "Webhooks"; docs/security.md) -------------------------
    webhook_allow_http: bool = Field(
        False,
        description="Also allow http:// webhook URLs (default: https only).",
    )
    webhook_allowed_hosts: str = Field(
        "",
        description="Host names or addresses webhooks may reach although they are loopback, "
        "private, link-local or metadata addresses (comma-separated; e.g. a receiver on "
        "the same network). Empty: public addresses only.",
    )
    webhook_secret_key: SecretStr | None = Field(
        None,
        description="Key that encrypts webhooks' signing secrets in the database (any long "
        "random text, kept outside the database: a leaked database then forges nothing). "
        "Unset: a key made by the schema migration, stored in the database.",
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=30, description="Timeout of one webhook POST, in seconds."
    )
    webhook_batch_size: int = Field(
        100, ge=1, le=1000, description="Most changes in one webhook delivery."
    )
    webhook_retry_hours: float = Field(
        24.0,
        gt=0,
        description="How long a failing webhook batch is retried (exponential backoff with "
        "jitter) before it is dead-lettered and the endpoint moves on.",
    )
    webhook_first_retry_seconds: float = Field(
        1.0, gt=0, description="The wait before a failed webhook batch's first retry (doubling)."
    )
    webhook_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="Seconds between the webhook worker's looks at the change log (on "
        "PostgreSQL a committed change wakes it at once).",
    )
    webhook_worker: bool = Field(
        True,
        description="Run the webhook delivery worker in this server process (replicas share "
        "the work under per-endpoint leases; false: this process sends none).",
    )

    @property
    def index_chunks(self) -> dict[str, int] | None:
        """Chunk counts of the matching indexes by signal type (None: their defaults)."""
        return {"pdq": self.pdq_index_chunks} if self.pdq_index_chunks else None

    @property
    def enabled_signal_types(self) -> tuple[str, ...]:
        """The names in HASHBANK_SIGNAL_TYPES (empty: all installed types)."""
        return tuple(n.strip() for n in self.signal_types.split(",") if n.strip())

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        from app.web.addresses import parse_trusted_proxies

        parse_trusted_proxies(value)  # a typo fails at start, not on the first request
        return value

    @model_validator(mode="after")
    def _matches_outlive_the_quarantine_window(self) -> Settings:
        # the quarantine counts matches within its window: purging them sooner would
        # silently lower those counts
        days = self.match_retention_days
        if days and days * 86_400 < self.quarantine_window_seconds:
            raise ValueError(
                "HASHBANK_MATCH_RETENTION_DAYS must cover HASHBANK_QUARANTINE_WINDOW_SECONDS"
            )
        if days and days * 86_400 < self.probe_window_seconds:
            raise ValueError(
                "HASHBANK_MATCH_RETENTION_DAYS must cover HASHBANK_PROBE_WINDOW_SECONDS"
            )
        return self
