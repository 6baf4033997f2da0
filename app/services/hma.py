"""HMA (Hasher-Matcher-Actioner, OpenMediaMatch) compatible look-ups: each one is a check.

A platform whose code calls HMA's matching and hashing API (``/m/raw_lookup``,
``/m/lookup``, ``/m/index/status``, ``/h/hash``) points it at ``/compat/hma`` instead.
Every look-up goes through :class:`~app.services.checking.Checker`, the path of
``/v1/check``: the match is logged, the re-upload counted, quarantine and probing
detection fed, the bank's policy and the allow-list applied. What HMA calls a content id
is an opaque number per stored hash (:meth:`HmaCompat.content_id`), and a distance is
answered as ``/v1/check`` answers it: the band (``exact``/``near``) unless an admin gave
the client exact distances.

Signal type names are the registry's: a type's ``exchange_names["threatexchange"]`` (the
name HMA and python-threatexchange use, ``pdq``), else its own name.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import hashes
from app.errors import BadRequest, NotReady
from app.index.replica import IndexReplica
from app.services.checking import Checker
from app.services.checks import CheckResult, MatchFound
from app.services.feed import GroupTokens
from app.services.inputs import HashInput

__all__ = ["HMA_SYSTEM", "HmaCompat", "HmaMatch", "IndexStatus"]

HMA_SYSTEM = "threatexchange"  # HMA names signal types as python-threatexchange does
CONTENT_ID_BITS = 53  # an integer as HMA's (and exact in a JavaScript number)


@dataclass(frozen=True)
class HmaMatch:
    """One match as HMA answers it."""

    content_id: int  # opaque: a keyed token of the stored hash, not its id
    distance: str  # the number (clients allowed exact distances), else the band
    bank: str
    action: str  # what /v1/check would answer for it: review or block


@dataclass(frozen=True)
class IndexStatus:
    """HMA's ``/m/index/status`` entry of one signal type."""

    present: bool
    built_to: int  # Unix time the index was last caught up with the change log; -1: never
    size: int


class HmaCompat:
    """HMA's matching and hashing calls on hashbank's check path."""

    def __init__(
        self,
        checker: Checker,
        replica: IndexReplica,
        tokens: GroupTokens,
        types: hashes.SignalRegistry = hashes.BUILTINS,
    ) -> None:
        self.checker = checker
        self.replica = replica
        self.tokens = tokens
        self.types = types
        self._names = {self.name_of(spec): spec.name for spec in types}

    # -- names -------------------------------------------------------------------------
    @staticmethod
    def name_of(spec: hashes.SignalSpec) -> str:
        """The name HMA knows ``spec`` by."""
        return spec.exchange_names.get(HMA_SYSTEM, spec.name)

    def names(self) -> dict[str, str]:
        """HMA name -> hashbank name, for every enabled type."""
        return dict(self._names)

    def spec(self, name: str) -> hashes.SignalSpec:
        """The enabled type HMA calls ``name``.

        Raises:
            BadRequest: no enabled type has that name (HMA answers 400).
        """
        hashbank_name = self._names.get(name)
        if hashbank_name is None:
            raise BadRequest(f"No such SignalType '{name}'")
        return self.types.get(hashbank_name)

    # -- look-ups ----------------------------------------------------------------------
    def content_id(self, signal_id: int) -> int:
        """The opaque content id of a stored hash: the same for every client, replica and
        restart of this deployment, and neither its signal id nor its case's number (an
        HMAC under the deployment's secret, cut to 53 bits)."""
        digest = self.tokens.digest(b"hma-content:%d" % signal_id)
        return int.from_bytes(digest[:8], "big") >> (64 - CONTENT_ID_BITS)

    def _ready(self) -> None:
        if not self.replica.loaded:
            raise NotReady("index not yet ready")

    def _match(self, m: MatchFound, exact: bool) -> HmaMatch:
        return HmaMatch(
            content_id=self.content_id(m.signal_id or 0),
            distance=str(m.distance) if exact else m.band,
            bank=m.bank,
            action=m.action,
        )

    async def lookup_hash(
        self, signal: str, signal_type: str, client_id: int | None, *, exact: bool
    ) -> list[HmaMatch]:
        """Check one hash (``/m/raw_lookup``, ``GET /m/lookup``): its matches, closest first.

        Raises:
            BadRequest: an unknown type or a value it cannot parse (HMA answers 400).
            NotReady: this process has not loaded its index yet (HMA answers 503).
            RateLimited: the client is probing.
        """
        spec = self.spec(signal_type)
        try:
            value = spec.parse(signal)
        except hashes.InvalidHash as exc:
            raise BadRequest(f"invalid signal: {exc}") from None
        self._ready()
        result = await self.checker.check_hashes([HashInput(spec.name, value)], client_id)
        return self._matches(result, exact)

    def _matches(self, result: CheckResult | None, exact: bool) -> list[HmaMatch]:
        if result is None:
            return []
        return [self._match(m, exact) for m in result.matches]

    async def lookup_image(
        self, data: bytes | bytearray, client_id: int | None, *, exact: bool
    ) -> dict[str, list[HmaMatch]]:
        """Hash one uploaded image in memory and check it (``POST /m/lookup``): its
        matches by HMA signal type name, every type an image is hashed to present.

        Raises:
            NotReady: this process has not loaded its index yet.
            PayloadTooLarge, InvalidInput, Busy: see :meth:`Checker.check_image`.
            RateLimited: the client is probing.
        """
        self._ready()
        result = await self.checker.check_image(data, client_id)
        names = {spec.name: self.name_of(spec) for spec in self.types}
        out: dict[str, list[HmaMatch]] = {names[t]: [] for t in _IMAGE_TYPES if t in names}
        for m in result.matches if result is not None else []:
            out.setdefault(names.get(m.signal_type, m.signal_type), []).append(
                self._match(m, exact)
            )
        return out

    async def hash_image(self, data: bytes | bytearray) -> dict[str, str]:
        """Hash one uploaded image in memory (``POST /h/hash``): HMA type name -> value,
        for every enabled type an image is hashed to; nothing is checked or kept.

        Raises:
            PayloadTooLarge, InvalidInput, Busy: see :meth:`Checker.hash_upload`.
        """
        h = await self.checker.hash_upload(data)
        return {
            self.name_of(spec): str(getattr(h, spec.name))
            for spec in self.types
            if spec.name in _IMAGE_TYPES
        }

    def index_status(self, signal_type: str | None = None) -> dict[str, IndexStatus]:
        """Each enabled type's index (or the one named): loaded, caught up when, size.

        Raises:
            BadRequest: ``signal_type`` names no enabled type.
        """
        names = self.names()
        if signal_type is not None:
            if signal_type not in names:
                raise BadRequest(f"No such signal type '{signal_type}'")
            names = {signal_type: names[signal_type]}
        sizes = self.replica.size()
        loaded = self.replica.loaded
        built_to = int(time.time() - self.replica.sync_age) if loaded else -1
        return {
            hma: IndexStatus(
                present=loaded, built_to=built_to, size=sizes.get(ours, 0) if loaded else 0
            )
            for hma, ours in names.items()
        }


# the types hashes.hash_bytes gives an image (the fields of hashes.Hashes named as a type):
# a plug-in type has no hasher here, so it matches by its hashes (raw_lookup), not uploads
_IMAGE_TYPES = tuple(f.name for f in dataclasses.fields(hashes.Hashes))
