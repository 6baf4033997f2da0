"""Pydantic schemas of the HTTP API: ``*In`` for requests, ``*Out`` for responses.

Request models are strict: a JSON value must have the documented type (``false`` is not
a threshold of 0, ``"7"`` is not a quality of 7), as the OpenAPI document says.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, model_validator, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

# A signal type's name: the enabled types are the service's registry (plug-ins included),
# checked by the services; create_app writes them into the OpenAPI document as an enum
SignalTypeName = Annotated[str, Field(min_length=1, max_length=32)]
# The largest id or sequence number a BIGINT column holds: larger ones are refused (422)
# before they reach the database driver (which cannot even bind them).
MAX_ID = 2**63 - 1
# A vpdq value: at most 36,000 frames (hashes.MAX_FRAMES) of about 75 characters each
MAX_VPDQ_TEXT = 36_000 * 100
VpdqFrames = Annotated[
    list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=36_000)
]


# One hash, and a batch's item, are typed dicts rather than models: a batch holds up to
# 1,000 items of up to 64 hashes, and dicts validate in about half the time of models.
@with_config(ConfigDict(extra="forbid", strict=True))
class HashIn(TypedDict):
    type: Annotated[SignalTypeName, Field(description="Signal type (one of the enabled types).")]
    value: Annotated[
        Annotated[str, Field(max_length=MAX_VPDQ_TEXT)] | VpdqFrames,
        Field(
            description="The hash as its type writes it: hex of the type's size (64 for pdq, "
            "sha256 and video_sha256, 16 for phash, 32 for md5 and video_md5); a vpdq value "
            "is Meta's serialisation (a JSON array of 'pdq_hex,quality,seconds' strings, "
            "one per sampled frame) or that array itself.",
        ),
    ]
    quality: NotRequired[
        Annotated[int | None, Field(ge=0, le=100, description="PDQ quality, 0-100.")]
    ]
    seconds: NotRequired[
        Annotated[
            float | None,
            Field(
                ge=0,
                le=36_000,
                description="A pdq hash of one frame of the video this request reports or "
                "checks (its vpdq value): the frame's time in the video, in seconds.",
            ),
        ]
    ]
    part_of: NotRequired[
        Annotated[
            str | None,
            Field(
                max_length=64,
                description="On a vpdq value: it is a part of the frame list of the video "
                "whose file has this SHA-256 (64 hex digits; the case's video_sha256 value, "
                "sent in the same request or before). The parts of one video, sent in one "
                "request or several, are joined into one stored vpdq value (frames in time "
                "order; a part sent again adds nothing). In a check, the parts of one "
                "request are joined into one checked video.",
                examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
            ),
        ]
    ]


class HashesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    hashes: list[HashIn] = Field(min_length=1, max_length=10_000)


@with_config(ConfigDict(extra="forbid", strict=True))
class BatchItemIn(TypedDict):
    hashes: Annotated[list[HashIn], Field(min_length=1, max_length=64)]


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    items: list[BatchItemIn] = Field(min_length=1, max_length=1000)


class NewCaseOut(BaseModel):
    case_id: str = Field(examples=["HB-7KQ2-9XMP-4RT6-A3QW"])
    pin: str = Field(description="Shown once; it cannot be recovered.")
    status: str


class CasePlatformOut(BaseModel):
    name: str
    reupload_attempts: int
    confirmed_blocked: int


class CaseOut(BaseModel):
    case_id: str
    status: str
    hashes: int
    reupload_attempts: int = Field(description="Re-uploads detected by platform checks.")
    confirmed_blocked: int = Field(description="Re-uploads platforms confirmed they blocked.")
    last_detected: datetime | None
    created_at: datetime
    platforms: list[CasePlatformOut] | None = Field(
        None,
        description="The same counts per platform, by name, only where the deployment "
        "allows it (HASHBANK_SHOW_PLATFORM_NAMES_TO_VICTIMS); null otherwise.",
    )


class MatchOut(BaseModel):
    signal_type: str
    band: Literal["exact", "near"] = Field(
        description="`exact`: the very hash (distance 0); `near`: within the threshold."
    )
    distance: int | None = Field(
        description="The Hamming distance, for clients an admin allowed exact distances; "
        "null for the others (exact distances let a caller rebuild a stored hash)."
    )
    bank: str
    match_id: int | None = Field(
        description="Id for feedback; null if the match could not be logged (database down: "
        "the answer still holds)."
    )


class VideoMatchOut(MatchOut):
    """A match where a video is involved: a video checked, or a stored video matched."""

    seconds: float | None = Field(
        None,
        description="A match in a stored video: the time (s) of the first frame matched "
        "(an image checked: the frame it matched).",
    )
    interval: tuple[float, float] | None = Field(
        None, description="A match in a stored video: the first and last matched frame times."
    )
    query_interval: tuple[float, float] | None = Field(
        None,
        description="A video checked: the span of its frames that matched (seconds).",
    )
    query_percent: float | None = Field(
        None,
        description="A video matched against a video: the share of the checked "
        "video's frames that match (vPDQ's query-match percent).",
    )
    stored_percent: float | None = Field(
        None, description="... and the share of the stored video's frames that match."
    )


class CheckOut(BaseModel):
    match: bool
    action: Literal["none", "review", "block"]
    matches: list[VideoMatchOut | MatchOut]


class BatchOut(BaseModel):
    results: list[CheckOut]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    feedback: Literal["blocked", "not_blocked", "false_positive"]


class FeedbackOut(BaseModel):
    match_id: int
    feedback: str


class FeedItemOut(BaseModel):
    seq: int
    op: Literal["add", "update", "remove"]
    at: datetime = Field(description="When the change was made, to the second (UTC).")
    signal_id: int
    group: str | None = Field(
        description="Hashes of one case share a group: an opaque token (not a case id) "
        "that stays the same for the deployment; null for hashes of no case."
    )
    type: str
    value: str | None = Field(description="The hash; null on tombstones (op=remove).")
    bank: str
    status: str


class FeedFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: str = Field(max_length=32, description="The hash's type, as the feed names it.")
    value: str = Field(max_length=512, description="The hash, as the feed gave it.")
    feedback: Literal["seen", "blocked", "not_blocked", "false_positive"] = Field(
        description="`seen`: content matching it was uploaded; `blocked`, `not_blocked`, "
        "`false_positive`: what the platform did, as on a match's feedback."
    )


class FeedFeedbackOut(BaseModel):
    feedback: str
    hashes: int = Field(description="How many hashes of the feed have this value (recorded).")


class FeedOut(BaseModel):
    items: list[FeedItemOut]
    next_after: int = Field(description="Pass as `after` to get the next page.")
    has_more: bool


class VideoSettingsIn(BaseModel):
    """A bank's video settings (its frame distance is its ``vpdq`` threshold)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    quality_floor: int = Field(
        50, ge=0, le=100, description="vPDQ frames of a lower quality are ignored."
    )
    match_percent: int = Field(
        80,
        ge=1,
        le=100,
        description="A video matches a stored video when this share of its frames match.",
    )
    image_in_video: bool = Field(
        True, description="An image checked may match a frame of a stored video."
    )
    video_has_image: bool = Field(
        True, description="A video checked may match a stored image it shows for image_seconds."
    )
    image_seconds: int = Field(
        2,
        ge=1,
        le=3600,
        description="Sampled seconds of a checked video that must match a stored image.",
    )


class BankIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    policy: Literal["block", "review", "allow"]
    description: str = Field("", max_length=500)
    pdq_threshold: int | None = Field(None, ge=0, le=48)
    phash_threshold: int | None = Field(None, ge=0, le=12)
    thresholds: dict[Annotated[str, Field(max_length=32)], int] = Field(
        default_factory=dict,
        max_length=64,
        description="The bank's own match distance per perceptual signal type (any enabled "
        "type, plug-ins' included; `pdq_threshold` and `phash_threshold` are the same for "
        "those two). A type left out uses the service's default.",
    )
    phash_block: bool = Field(
        False,
        description="Let a match on a pHash alone block; false: it answers review "
        "(64-bit pHashes collide too easily to block on their own).",
    )
    video: VideoSettingsIn = Field(default_factory=VideoSettingsIn)

    @model_validator(mode="after")
    def _one_threshold_per_type(self) -> BankIn:
        for kind in ("pdq", "phash"):
            own = getattr(self, f"{kind}_threshold")
            if own is not None and self.thresholds.get(kind, own) != own:
                raise ValueError(f"{kind}_threshold and thresholds.{kind} differ")
        return self

    def all_thresholds(self) -> dict[str, int | None]:
        """Every threshold the request sets, by signal type."""
        out: dict[str, int | None] = dict(self.thresholds)
        for kind in ("pdq", "phash"):
            own = getattr(self, f"{kind}_threshold")
            if own is not None:
                out[kind] = own
        return out


class VideoSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    quality_floor: int
    match_percent: int
    image_in_video: bool
    video_has_image: bool
    image_seconds: int


class BankOut(BaseModel):
    id: int
    name: str
    policy: str
    description: str
    pdq_threshold: int | None
    phash_threshold: int | None
    thresholds: dict[str, int] = Field(
        description="The bank's own match distances by signal type (types left out use the "
        "service's defaults)."
    )
    phash_block: bool = Field(description="Whether a pHash-only match may block.")
    video: VideoSettingsOut
    hashes: int


class QuarantineOut(BaseModel):
    signal_id: int
    signal_type: str
    bank: str
    group: str | None = Field(
        description="The feed's group token of the hash's case (never a case id), if any."
    )
    state: Literal["quarantined", "released"]
    reason: str
    matches: int = Field(description="Matches in the window when it was quarantined.")
    clients: int = Field(description="Distinct API clients in the window then.")
    since: datetime
    released_at: datetime | None
    released_by: str | None


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str


class HealthOut(BaseModel):
    status: str


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    client: (
        Annotated[int, Field(ge=1, le=2**31 - 1)]
        | Annotated[str, Field(min_length=1, max_length=100)]
    ) = Field(description="The API client (platform) the endpoint belongs to: its name or id.")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where deliveries are POSTed: https (http only where "
        "HASHBANK_WEBHOOK_ALLOW_HTTP is set), resolving to public addresses only unless "
        "listed in HASHBANK_WEBHOOK_ALLOWED_HOSTS.",
    )
    events: list[Annotated[str, Field(max_length=32)]] | None = Field(
        None,
        max_length=16,
        description="Event types to send (hash.added, hash.status_changed, hash.withdrawn, "
        "hash.removed, match.confirmed); left out or empty: every type.",
    )


class WebhookOut(BaseModel):
    id: int
    client: str
    url: str
    events: list[str]
    created_at: datetime
    cursor: int = Field(description="The last change-log sequence number delivered.")
    rotating: bool = Field(description="A previous secret still signs beside the current one.")


class NewWebhookOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown once, it cannot be read again.")


class WebhookSecretOut(BaseModel):
    secret: str = Field(
        description="The new signing secret (shown once); the previous one keeps signing "
        "beside it for 24 hours."
    )


class DeliveryOut(BaseModel):
    id: int
    first_seq: int
    last_seq: int
    events: int
    status: Literal["retrying", "delivered", "dead", "redelivered"]
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    latency_ms: int | None
    response_status: int | None
    last_error: str


class RecordDayOut(BaseModel):
    day: date
    checks: int
    matches: int
    reupload_attempts: int


class RecordOut(BaseModel):
    """One platform's record over a period (docs/records.md says how each is counted)."""

    client_id: int
    name: str
    revoked: bool
    period_from: date = Field(description="First day of the period (UTC), included.")
    period_to: date = Field(description="Day after the period (UTC), excluded.")
    made_at: datetime = Field(description="When these figures were read.")
    checks: int = Field(description="Uploads checked in the period.")
    matches: int = Field(description="Matches of the platform's checks in the period.")
    reupload_attempts: int = Field(description="Uploads that matched a case (one per case).")
    feedback: int = Field(description="Matches of the period the platform gave feedback on.")
    feedback_by_value: dict[str, int] = Field(
        description="Matches by feedback: blocked, not_blocked, false_positive, none."
    )
    feedback_shares: dict[str, float | None] = Field(
        description="The same as shares of the matches (null without matches)."
    )
    due_24h: int = Field(description="Matches of the period at least 24 h old.")
    no_feedback_24h: int = Field(description="Of those, matches with no feedback within 24 h.")
    no_feedback_24h_share: float | None
    due_7d: int = Field(description="Matches of the period at least 7 days old.")
    no_feedback_7d: int = Field(description="Of those, matches with no feedback within 7 days.")
    no_feedback_7d_share: float | None
    median_feedback_seconds: float | None = Field(
        description="Median seconds from a match to its feedback (null: no feedback)."
    )
    last_check_day: date | None
    days_since_last_check: int | None
    silent: bool = Field(description="No check for HASHBANK_SILENT_AFTER_DAYS days or more.")
    not_blocked_recent_share: float | None
    not_blocked_previous_share: float | None
    not_blocked_rising: bool = Field(
        description="not_blocked's share of the feedback rose (last 30 days vs the 30 before)."
    )
    webhooks: dict[str, Any] | None = Field(
        description="Webhook delivery health of the platform's endpoints; null: no webhooks."
    )
    per_day: list[RecordDayOut]
