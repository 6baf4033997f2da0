"""Signal types, hash-string validation and Hamming distance on hex strings."""

from __future__ import annotations

import enum
import re

from hashes._errors import InvalidHash

__all__ = ["SignalType", "bits_of", "hamming", "hex_to_bytes", "is_perceptual", "parse_hash"]


class SignalType(enum.StrEnum):
    """The kinds of hash hashbank stores and matches."""

    PDQ = "pdq"
    PHASH = "phash"
    MD5 = "md5"
    SHA256 = "sha256"


_BITS: dict[SignalType, int] = {
    SignalType.PDQ: 256,
    SignalType.PHASH: 64,
    SignalType.MD5: 128,
    SignalType.SHA256: 256,
}
_HEX = re.compile(r"[0-9a-f]*")
_BY_NAME: dict[str, SignalType] = {t.value: t for t in SignalType}  # faster than SignalType(x)


def bits_of(signal_type: SignalType | str) -> int:
    """Return the number of bits of a hash of ``signal_type``."""
    return _BITS[SignalType(signal_type)]


def is_perceptual(signal_type: SignalType | str) -> bool:
    """True for hashes compared by distance (PDQ, pHash), False for exact ones."""
    return SignalType(signal_type) in (SignalType.PDQ, SignalType.PHASH)


def parse_hash(signal_type: SignalType | str, value: str) -> str:
    """Validate ``value`` as a hash of ``signal_type`` and return it as lowercase hex.

    Surrounding whitespace is ignored and upper-case hex is accepted.

    Raises:
        InvalidHash: unknown signal type, wrong length, or characters that are not hex.
    """
    try:
        kind = _BY_NAME[signal_type]
    except (KeyError, TypeError):
        raise InvalidHash(
            f"unknown signal type {signal_type!r}; expected one of "
            + ", ".join(t.value for t in SignalType)
        ) from None
    return parse_hex(kind.value, value, _BITS[kind] // 4)


def parse_hex(name: str, value: object, length: int) -> str:
    """``value`` as lowercase hex of ``length`` characters, for a hash of type ``name``
    (surrounding whitespace ignored, upper case accepted).

    Raises:
        InvalidHash: not a string, the wrong length, or characters that are not hex.
    """
    if not isinstance(value, str):
        raise InvalidHash(f"a {name} hash must be a string")
    text = value.strip().lower()
    if len(text) != length:
        raise InvalidHash(f"a {name} hash has {length} hex characters, this one has {len(text)}")
    if not _HEX.fullmatch(text):
        raise InvalidHash(f"a {name} hash may only contain the hex digits 0-9 and a-f")
    return text


def hex_to_bytes(value: str) -> bytes:
    """Decode a hex hash string to bytes (big-endian, as written).

    Raises:
        InvalidHash: the text is not hex of even length.
    """
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidHash("not a hex string of even length") from None


def hamming(a: str, b: str) -> int:
    """Return the number of differing bits between two hex hashes of equal length.

    Raises:
        InvalidHash: the strings differ in length or are not hex.
    """
    if len(a) != len(b):
        raise InvalidHash(f"cannot compare hashes of {len(a)} and {len(b)} hex characters")
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        raise InvalidHash("a hash may only contain hex digits") from None
