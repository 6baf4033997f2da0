"""The built-in signal types by name: validation, size and kind, read from their specs."""

from __future__ import annotations

import enum

from hashes._errors import InvalidHash
from hashes._hex import hamming, parse_hex
from hashes._registry import BUILTINS

__all__ = ["SignalType", "bits_of", "hamming", "hex_to_bytes", "is_perceptual", "parse_hash"]


class SignalType(enum.StrEnum):
    """The names of the built-in signal types (``hashes.BUILTINS`` holds their specs)."""

    PDQ = "pdq"
    PHASH = "phash"
    MD5 = "md5"
    SHA256 = "sha256"


# name -> (hex length, perceptual): one dict look-up on the hot path of every check
_FIXED = {s.name: (s.bits // 4, s.perceptual) for s in BUILTINS if s.bits is not None}


def _spec(signal_type: SignalType | str) -> tuple[int, bool]:
    try:
        return _FIXED[signal_type]
    except (KeyError, TypeError):
        raise InvalidHash(
            f"unknown signal type {signal_type!r}; expected one of " + ", ".join(_FIXED)
        ) from None


def bits_of(signal_type: SignalType | str) -> int:
    """Return the number of bits of a hash of ``signal_type``.

    Raises:
        InvalidHash: an unknown signal type.
    """
    return _spec(signal_type)[0] * 4


def is_perceptual(signal_type: SignalType | str) -> bool:
    """True for hashes compared by distance (PDQ, pHash), False for exact ones.

    Raises:
        InvalidHash: an unknown signal type.
    """
    return _spec(signal_type)[1]


def parse_hash(signal_type: SignalType | str, value: str) -> str:
    """Validate ``value`` as a hash of ``signal_type`` and return it as lowercase hex.

    Surrounding whitespace is ignored and upper-case hex is accepted.

    Raises:
        InvalidHash: unknown signal type, wrong length, or characters that are not hex.
    """
    return parse_hex(str(signal_type), value, _spec(signal_type)[0])


def hex_to_bytes(value: str) -> bytes:
    """Decode a hex hash string to bytes (big-endian, as written).

    Raises:
        InvalidHash: the text is not hex of even length.
    """
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidHash("not a hex string of even length") from None
