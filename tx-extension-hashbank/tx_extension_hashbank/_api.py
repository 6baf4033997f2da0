"""The ``hashbank`` SignalExchangeAPI: a hashbank's ``/v1/feed``, followed by its cursor.

The feed is hashbank's change log: one item per addition (``add``), status change
(``update``: a case accepted, withdrawn, rejected, quarantined) and deletion (``remove``,
a tombstone without a value), each with the hash's ``signal_id``. The fetched records are
keyed by that id (a tombstone names nothing else), so pytx's merge replays the log
exactly: a tombstone, or a status a platform should no longer act on (``withdrawn``,
``rejected``), deletes the record, and the next index build no longer matches it.
"""

# No `from __future__ import annotations`: pytx's CLI reads the config dataclass's field
# types at run time (argparse flags from `field.type`).
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType

from tx_extension_hashbank._client import HashbankClient

__all__ = [
    "ACTIONABLE",
    "FEEDBACK",
    "TYPE_NAMES",
    "HashbankCheckpoint",
    "HashbankCollabConfig",
    "HashbankCredentials",
    "HashbankSignalExchangeAPI",
    "HashbankSignalMetadata",
]

API_NAME = "hashbank"

# hashbank's type name (the feed's ``type``) -> pytx's SignalType name. Only types that
# are the same thing under both names: hashbank's ``md5`` and ``sha256`` hash images,
# pytx's ``video_md5`` and ``video_sha256`` hash videos, so those are left out, as are
# types pytx has no class for (``phash``). ``video_md5`` and ``vpdq`` carry over once
# hashbank banks videos (``vpdq`` needs pytx's vpdq extension installed to match).
TYPE_NAMES: t.Mapping[str, str] = {"pdq": "pdq", "video_md5": "video_md5", "vpdq": "vpdq"}
_HASHBANK_NAMES = {v: k for k, v in TYPE_NAMES.items()}

# Statuses a platform acts on, and how: a hashbank answers ``block`` (bank policy
# permitting) for these, and ``review`` for these...
_BLOCKING = frozenset({"active", "bank"})
_REVIEW = frozenset({"pending", "quarantined"})
# ... and nothing for the rest (``withdrawn``, ``rejected``): those records are deleted.
ACTIONABLE = _BLOCKING | _REVIEW

# pytx's opinion -> hashbank's feedback value (``POST /v1/feed/feedback``).
FEEDBACK: t.Mapping[state.SignalOpinionCategory, str] = {
    state.SignalOpinionCategory.POSITIVE_CLASS: "blocked",
    state.SignalOpinionCategory.NEGATIVE_CLASS: "false_positive",
    state.SignalOpinionCategory.INVESTIGATION_SEED: "seen",
}


@dataclass
class HashbankCheckpoint(state.FetchCheckpointBase):
    """Where the next fetch starts: the feed cursor (``next_after``) of the last page.

    ``updated_at`` is the time (unix seconds) of the newest change read, for the CLI's
    progress line; it never goes back. The change log keeps every change, so a
    checkpoint does not go stale.
    """

    after: int
    updated_at: int = 0

    def get_progress_timestamp(self) -> t.Optional[int]:
        return self.updated_at or None


@dataclass
class HashbankSignalMetadata(state.FetchedSignalMetadata):
    """One hash of the feed as last seen: which hash, in which bank, in what state."""

    signal_id: int
    signal_type: str  # hashbank's name of the type
    value: str
    bank: str
    status: str  # active, bank, pending or quarantined (the others are deleted)
    group: t.Optional[str] = None  # opaque token shared by the hashes of one case

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        category = (
            state.SignalOpinionCategory.POSITIVE_CLASS
            if self.status in _BLOCKING
            else state.SignalOpinionCategory.INVESTIGATION_SEED
        )
        return [state.SignalOpinion(False, category, {self.bank})]


@dataclass
class _HashbankCollabConfigRequiredFields:
    url: str = field(
        metadata={"help": "the hashbank's base URL, e.g. https://hashbank.example.org"}
    )


@dataclass
class HashbankCollabConfig(CollaborationConfigWithDefaults, _HashbankCollabConfigRequiredFields):
    """A hashbank to follow. Its key is a credential (:class:`HashbankCredentials`),
    not part of the config, which HMA shows to every curator."""

    api: str = field(init=False, default=API_NAME)
    page_size: int = field(
        default=10_000,
        metadata={"help": "changes per request to /v1/feed (1-10000)"},
    )


@dataclass
class HashbankCredentials(auth.CredentialHelper):
    """A hashbank API key with the ``feed`` scope.

    Found, in order: HMA's stored exchange credentials (or any set_default), the
    environment variable ``TX_HASHBANK_KEY``, the file ``~/.tx_hashbank_key``.
    """

    ENV_VARIABLE: t.ClassVar[str] = "TX_HASHBANK_KEY"
    FILE_NAME: t.ClassVar[str] = "~/.tx_hashbank_key"

    api_key: str = field(metadata={"help": "a hashbank API key with the feed scope"})

    @classmethod
    def _from_str(cls, s: str) -> "HashbankCredentials":
        return cls(api_key=s.strip())

    def _are_valid(self) -> bool:
        return bool(self.api_key) and not any(c.isspace() for c in self.api_key)


_Delta = state.FetchDelta[int, HashbankSignalMetadata, HashbankCheckpoint]


class HashbankSignalExchangeAPI(
    auth.SignalExchangeWithAuth[HashbankCollabConfig, HashbankCredentials],
    SignalExchangeAPI[
        HashbankCollabConfig,
        HashbankCheckpoint,
        HashbankSignalMetadata,
        int,
        HashbankSignalMetadata,
    ],
):
    """Fetch a hashbank's feed; send platform feedback on its hashes back."""

    def __init__(self, collab: HashbankCollabConfig, client: HashbankClient) -> None:
        self.collab = collab
        self.client = client

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[HashbankCollabConfig]:
        return HashbankCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[HashbankCheckpoint]:
        return HashbankCheckpoint

    @staticmethod
    def get_record_cls() -> type[HashbankSignalMetadata]:
        return HashbankSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[HashbankCredentials]:
        return HashbankCredentials

    @classmethod
    def for_collab(
        cls,
        collab: HashbankCollabConfig,
        credentials: t.Optional[HashbankCredentials] = None,
    ) -> "HashbankSignalExchangeAPI":
        credentials = credentials or HashbankCredentials.get(cls)
        return cls(collab, HashbankClient(collab.url, credentials.api_key))

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: t.Optional[HashbankCheckpoint],
    ) -> t.Iterator[_Delta]:
        """One delta per page of the feed, from the checkpoint's cursor to the end.

        Every type pytx has a name for is kept, whether or not its SignalType is
        installed now (``naive_convert_to_signal_type`` picks the installed ones), so
        installing pytx's vpdq extension later needs no fetch from scratch.
        """
        after = checkpoint.after if checkpoint is not None else 0
        updated_at = checkpoint.updated_at if checkpoint is not None else 0
        page_size = max(1, min(int(self.collab.page_size), 10_000))
        # The next page is requested while the caller merges this one (the hashbank
        # works while pytx does): a full fetch takes about the longer of the two, not
        # their sum. One request at a time on the session; abandoning the iterator waits
        # for the one in flight.
        with ThreadPoolExecutor(1, thread_name_prefix="hashbank-feed") as pool:
            pending = pool.submit(self.client.feed, after, page_size)
            while True:
                page = pending.result()
                items: list[dict[str, t.Any]] = page["items"]
                next_after = int(page["next_after"])
                has_more = bool(page["has_more"])
                if has_more and next_after <= after:
                    raise RuntimeError(f"the feed's cursor did not move past {after}")
                if has_more:
                    pending = pool.submit(self.client.feed, next_after, page_size)
                updates = _updates(items)
                if items:
                    updated_at = max(updated_at, _unix(items[-1]["at"]))
                after = next_after
                yield state.FetchDelta(updates, HashbankCheckpoint(after, updated_at))
                if not has_more:
                    return

    @classmethod
    def naive_convert_to_signal_type(
        cls,
        signal_types: t.Sequence[type[SignalType]],
        collab: HashbankCollabConfig,
        fetched: t.Mapping[int, HashbankSignalMetadata],
    ) -> dict[type[SignalType], dict[str, HashbankSignalMetadata]]:
        """The fetched hashes by installed SignalType, then value.

        One value held by several hashes (two victims' reports of one image) is one
        entry; a blocking status wins over one under review.
        """
        by_name = {st.get_name(): st for st in signal_types}
        ret: dict[type[SignalType], dict[str, HashbankSignalMetadata]] = {}
        for record in fetched.values():
            s_type = by_name.get(TYPE_NAMES.get(record.signal_type, ""))
            if s_type is None:
                continue
            value = record.value
            try:
                s_type.validate_signal_str(value)
            except ValueError:
                continue
            inner = ret.setdefault(s_type, {})
            held = inner.get(value)
            if held is None or (held.status not in _BLOCKING and record.status in _BLOCKING):
                inner[value] = record
        return ret

    def report_opinion(
        self,
        s_type: type[SignalType],
        signal: str,
        opinion: state.SignalOpinion,
    ) -> None:
        """Platform feedback on a hash of the feed: ``POSITIVE_CLASS`` (the platform
        blocked it) -> ``blocked``, ``NEGATIVE_CLASS`` -> ``false_positive`` (a
        moderator reviews it), ``INVESTIGATION_SEED`` -> ``seen``. Tags are not sent."""
        self.client.feedback(_hashbank_type(s_type), signal, FEEDBACK[opinion.category])

    def report_seen(
        self,
        s_type: type[SignalType],
        signal: str,
        metadata: t.Optional[HashbankSignalMetadata] = None,
    ) -> None:
        """The platform saw content matching this hash (a re-upload): ``seen``."""
        self.client.feedback(_hashbank_type(s_type), signal, "seen")


def _updates(
    items: t.Sequence[t.Mapping[str, t.Any]],
) -> dict[int, t.Optional[HashbankSignalMetadata]]:
    updates: dict[int, t.Optional[HashbankSignalMetadata]] = {}
    for item in items:
        signal_id = int(item["signal_id"])
        value = item["value"]
        status = item["status"]
        if item["op"] == "remove" or value is None or status not in ACTIONABLE:
            updates[signal_id] = None  # deleted, withdrawn or rejected: stop matching
            continue
        kind = item["type"]
        if kind not in TYPE_NAMES:
            continue  # pytx has no SignalType of this name
        updates[signal_id] = HashbankSignalMetadata(
            signal_id, kind, value, item["bank"], status, item["group"]
        )
    return updates


def _hashbank_type(s_type: type[SignalType]) -> str:
    name = _HASHBANK_NAMES.get(s_type.get_name())
    if name is None:
        raise NotImplementedError(f"hashbank has no signal type {s_type.get_name()!r}")
    return name


def _unix(at: str) -> int:
    return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())
