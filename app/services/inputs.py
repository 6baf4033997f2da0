"""Plain input values the services accept (the API and CLI build them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import hashes
from app.errors import InvalidInput

__all__ = ["HashInput", "from_hashes", "validate_hashes"]


@dataclass(frozen=True, slots=True)
class HashInput:
    """One hash of one signal type, lowercase hex, with an optional PDQ quality."""

    type: str
    value: str
    quality: int | None = None


def validate_hashes(items: Iterable[HashInput]) -> list[HashInput]:
    """Normalize hash strings; a wrong type, length or non-hex text is InvalidInput."""
    out: list[HashInput] = []
    for i, item in enumerate(items):
        try:
            value = hashes.parse_hash(item.type, item.value)
        except hashes.InvalidHash as exc:
            raise InvalidInput(f"hashes[{i}]: {exc}") from exc
        if item.quality is not None and not 0 <= item.quality <= 100:
            raise InvalidInput(f"hashes[{i}]: quality must be between 0 and 100")
        out.append(HashInput(str(hashes.SignalType(item.type)), value, item.quality))
    return out


def from_hashes(h: hashes.Hashes, *, stored: bool) -> list[HashInput]:
    """The signals of one hashed image.

    ``pdq_stored`` for a report (``stored=True``), ``pdq_variants`` for a check.
    """
    pdqs: Sequence[str] = h.pdq_stored if stored else h.pdq_variants
    items = [HashInput("pdq", v, h.pdq_quality) for v in pdqs]
    items += [HashInput("phash", h.phash), HashInput("md5", h.md5), HashInput("sha256", h.sha256)]
    return items
