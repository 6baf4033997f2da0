"""Signal types as specs: one object per type, in one registry open to plug-ins.

A :class:`SignalSpec` holds everything hashbank knows about one kind of hash: its name,
its size, whether it is compared by distance, its default and largest match distance,
how a value is parsed, how two values are compared, which values are too weak to bank,
and its names in other ecosystems. The four built-in types are specs like any other;
installed packages add more through the entry-point group ``hashbank.signal_types``
(python-threatexchange's ``SignalType`` classes and HMA's ``SIGNAL_TYPES`` setting have
the same shape: one object per type, looked up by name, extensible from outside).

An entry point names a :class:`SignalSpec`, or a callable returning an iterable of them::

    [project.entry-points."hashbank.signal_types"]
    dhash = "my_package.signals:DHASH"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any

from hashes._errors import InvalidHash, SignalSpecError
from hashes._hex import hamming, parse_hex

__all__ = [
    "BUILTINS",
    "BUILTIN_SPECS",
    "ENTRY_POINT_GROUP",
    "MD5",
    "PDQ",
    "PHASH",
    "SHA256",
    "SignalRegistry",
    "SignalSpec",
]

ENTRY_POINT_GROUP = "hashbank.signal_types"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True, kw_only=True)
class SignalSpec:
    """One signal type. Five keyword arguments make one; everything else has a default.

    ``SignalSpec(name="dhash", bits=64, perceptual=True, default_threshold=10,
    max_threshold=16)`` is a complete type: values are lowercase hex of ``bits / 4``
    characters, compared by Hamming distance, and all-zero or all-one values are refused
    as weak. A type with its own serialisation (``bits=None``, such as a video's list of
    frame hashes) subclasses this and overrides :meth:`parse` and :meth:`distance`.

    Attributes:
        name: the type's name in the API, the database and the feed (``[a-z][a-z0-9_]*``,
            at most 32 characters).
        bits: the size of a fixed-length hex value; None for a type of its own format.
        perceptual: compared by distance (True) or only for equality (False).
        default_threshold: the match distance a bank gets unless it sets its own
            (0 for an exact type).
        max_threshold: the largest match distance a bank may set (0 for an exact type).
        bits_set: the number of set bits a real value has at least and at most; values
            outside are refused as weak (they would match unrelated media). None: only
            all-zero and all-one values are refused.
        has_quality: values come with a 0-100 quality (PDQ's), judged by the service.
        exchange_names: the type's name in other systems, by system
            (``{"threatexchange": "pdq", "stopncii": "ImagePDQ"}``).
        label: how people call it (dashboard labels); the name when empty.
    """

    name: str
    bits: int | None
    perceptual: bool
    default_threshold: int
    max_threshold: int
    bits_set: tuple[int, int] | None = None
    has_quality: bool = False
    exchange_names: Mapping[str, str] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise SignalSpecError(f"signal type {self.name!r}: " + "; ".join(problems))
        object.__setattr__(self, "exchange_names", MappingProxyType(dict(self.exchange_names)))

    def _problems(self) -> list[str]:
        out: list[str] = []
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            out.append("name must be 1-32 of a-z, 0-9 and _, starting with a letter")
        if self.bits is not None and (
            not isinstance(self.bits, int) or self.bits <= 0 or self.bits % 8
        ):
            out.append("bits must be a positive multiple of 8, or None")
        if self.bits is None and type(self).parse is SignalSpec.parse:
            out.append("a type without a fixed size (bits=None) must define parse()")
        if self.bits is None and type(self).distance is SignalSpec.distance:
            out.append("a type without a fixed size (bits=None) must define distance()")
        if not all(isinstance(t, int) for t in (self.default_threshold, self.max_threshold)):
            out.append("thresholds must be whole numbers")
        elif not 0 <= self.default_threshold <= self.max_threshold:
            out.append("thresholds must satisfy 0 <= default_threshold <= max_threshold")
        elif not self.perceptual and self.max_threshold:
            out.append("an exact type (perceptual=False) has thresholds of 0")
        elif self.bits is not None and self.max_threshold >= self.bits:
            out.append("max_threshold must be below bits")
        if self.bits_set is not None:
            low, high = self.bits_set
            if self.bits is None or not 0 < low <= high < self.bits:
                out.append("bits_set must be (low, high) with 0 < low <= high < bits")
        return out

    @property
    def hex_length(self) -> int | None:
        """Characters of a value's hex text, or None for a type of its own format."""
        return None if self.bits is None else self.bits // 4

    def parse(self, value: Any) -> str:
        """Validate ``value`` and return its canonical text (lowercase hex by default).

        Surrounding whitespace is ignored and upper-case hex is accepted.

        Raises:
            InvalidHash: not a string, the wrong length, or characters that are not hex.
        """
        if self.bits is None:  # unreachable: such a spec must override parse (checked)
            raise InvalidHash(f"{self.name} has no default parser")
        return parse_hex(self.name, value, self.bits // 4)

    def distance(self, a: str, b: str) -> int:
        """The distance between two parsed values (Hamming distance by default).

        Raises:
            InvalidHash: the values differ in length or are not hex.
        """
        return hamming(a, b)

    def weakness(self, value: str) -> str | None:
        """Why a parsed ``value`` must not enter a bank, or None when it may.

        By default: all zeros or all ones, or a count of set bits outside ``bits_set``
        (a blank, uniform or synthetic input, whose hash sits close to every other).
        """
        if self.bits is None:
            return None
        ones = int(value, 16).bit_count()
        if ones in (0, self.bits):
            return f"a {self.name} hash of all {'zeros' if ones == 0 else 'ones'}"
        if self.bits_set is not None:
            low, high = self.bits_set
            if not low <= ones <= high:
                return (
                    f"a {self.name} hash with {ones} of {self.bits} bits set "
                    f"(expected {low}-{high})"
                )
        return None


# A perceptual hash of a real picture has about half its bits set (PDQ and pHash both
# threshold at a median): far fewer or far more means a blank or synthetic input.
PDQ = SignalSpec(
    name="pdq",
    bits=256,
    perceptual=True,
    default_threshold=31,
    max_threshold=48,
    bits_set=(16, 240),
    has_quality=True,
    exchange_names={"threatexchange": "pdq", "stopncii": "ImagePDQ"},
    label="PDQ",
)
PHASH = SignalSpec(
    name="phash",
    bits=64,
    perceptual=True,
    default_threshold=8,
    max_threshold=12,
    bits_set=(4, 60),
    label="pHash",
)
MD5 = SignalSpec(
    name="md5",
    bits=128,
    perceptual=False,
    default_threshold=0,
    max_threshold=0,
    label="MD5",
)
SHA256 = SignalSpec(
    name="sha256",
    bits=256,
    perceptual=False,
    default_threshold=0,
    max_threshold=0,
    label="SHA-256",
)
BUILTIN_SPECS: tuple[SignalSpec, ...] = (PDQ, PHASH, MD5, SHA256)


class SignalRegistry:
    """The enabled signal types, by name, in a stable order (built-ins first)."""

    def __init__(self, specs: Iterable[SignalSpec]) -> None:
        """Raises:
        SignalSpecError: an object that is not a spec, or two specs of one name.
        """
        self._specs: dict[str, SignalSpec] = {}
        for spec in specs:
            if not isinstance(spec, SignalSpec):
                raise SignalSpecError(f"not a SignalSpec: {spec!r}")
            if spec.name in self._specs:
                raise SignalSpecError(f"two signal types are named {spec.name!r}")
            self._specs[spec.name] = spec

    @classmethod
    def load(
        cls,
        enabled: Collection[str] | None = None,
        *,
        plugins: Iterable[EntryPoint] | None = None,
    ) -> SignalRegistry:
        """The built-in types plus those of installed plug-ins, limited to ``enabled``.

        Args:
            enabled: the names to keep (None or empty: all). Order follows the registry.
            plugins: the entry points to load (default: the installed packages' entry
                points of the group ``hashbank.signal_types``).

        Raises:
            SignalSpecError: a plug-in that fails to load or gives something other than
                specs, a name clash, or an ``enabled`` name that no type has; the message
                names the entry point and its package.
        """
        specs = list(BUILTIN_SPECS)
        origin = {spec.name: "the built-in type" for spec in specs}
        found = entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins
        for ep in sorted(found, key=lambda e: e.name):
            for spec in _specs_of(ep):
                if spec.name in origin:
                    raise SignalSpecError(
                        f"{_where(ep)} registers a signal type named {spec.name!r}, "
                        f"as {origin[spec.name]} does: names must be unique"
                    )
                origin[spec.name] = _where(ep)
                specs.append(spec)
        registry = cls(specs)
        if not enabled:
            return registry
        unknown = sorted(set(enabled) - set(registry.names))
        if unknown:
            raise SignalSpecError(
                f"unknown signal type(s) enabled: {', '.join(unknown)}; "
                f"installed: {', '.join(registry.names)}"
            )
        return cls(s for s in registry if s.name in enabled)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def get(self, name: str) -> SignalSpec:
        """The spec named ``name``.

        Raises:
            InvalidHash: no enabled type has that name (the message lists them).
        """
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise InvalidHash(
                f"unknown signal type {name!r}; expected one of " + ", ".join(self._specs)
            ) from None

    def parse(self, name: str, value: Any) -> str:
        """``value`` parsed as a hash of the type ``name`` (see :meth:`SignalSpec.parse`)."""
        return self.get(name).parse(value)

    def by_exchange_name(self, system: str, name: str) -> SignalSpec | None:
        """The spec that ``system`` calls ``name`` (``("stopncii", "ImagePDQ")``), if any."""
        for spec in self._specs.values():
            if spec.exchange_names.get(system) == name:
                return spec
        return None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[SignalSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


def _where(ep: EntryPoint) -> str:
    where = f"entry point {ep.name!r} ({ep.value}"
    if ep.dist is not None:
        where += f", package {ep.dist.name}"
    return where + f") of {ENTRY_POINT_GROUP}"


def _specs_of(ep: EntryPoint) -> list[SignalSpec]:
    where = _where(ep)
    try:
        obj: object = ep.load()
    except Exception as exc:  # a plug-in's own failure: any exception, reported by name
        raise SignalSpecError(f"{where} failed to load: {exc!r}") from exc
    if isinstance(obj, SignalSpec):
        return [obj]
    if not callable(obj):
        raise SignalSpecError(f"{where} is neither a SignalSpec nor a callable returning them")
    factory: Callable[[], object] = obj
    try:
        made = factory()
        specs = list(made) if isinstance(made, Iterable) else [made]
    except Exception as exc:
        raise SignalSpecError(f"{where} failed: {exc!r}") from exc
    out: list[SignalSpec] = []
    for spec in specs:
        if not isinstance(spec, SignalSpec):
            raise SignalSpecError(f"{where} returned something other than a SignalSpec: {spec!r}")
        out.append(spec)
    return out


BUILTINS = SignalRegistry(BUILTIN_SPECS)
"""The built-in types alone (what the service runs on until it reads installed plug-ins)."""
