"""SignalSpec: everything hashbank knows about one kind of hash (see hashes._registry)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hashes._errors import InvalidHash, SignalSpecError
from hashes._hex import hamming, parse_hex

__all__ = ["SignalSpec"]

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
