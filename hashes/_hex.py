"""Hex hash strings: parsing to lowercase hex of a set length, and Hamming distance."""

from __future__ import annotations

import re

from hashes._errors import InvalidHash

__all__ = ["hamming", "parse_hex"]

_HEX = re.compile(r"[0-9a-f]*")


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
