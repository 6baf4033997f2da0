"""The dashboard's search: a case by its id, or stored hashes by value (exactly or near)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import hashes
from app.errors import InvalidInput
from app.index.replica import IndexReplica
from app.services.secrets import normalize_case_id
from app.storage.db import Database
from app.storage.repositories import DashboardRepository
from app.storage.rows import CaseRow

__all__ = ["HashSearch", "SearchHit", "SearchResult", "types_by_length"]

SEARCH_LIMIT = 200
_CASE_ID = re.compile(r"HB-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def types_by_length(types: hashes.SignalRegistry) -> dict[int, tuple[str, ...]]:
    """Hex length -> the enabled types of that length: a hash typed into the search box is
    looked up as each of them (PDQ and SHA-256 share 64)."""
    out: dict[int, tuple[str, ...]] = {}
    for spec in types:
        if spec.hex_length is not None:
            out[spec.hex_length] = (*out.get(spec.hex_length, ()), spec.name)
    return out


@dataclass(frozen=True)
class SearchHit:
    signal_id: int
    type: str
    value: str
    distance: int
    bank: str
    case_id: int | None
    case_public_id: str | None
    case_status: str | None
    created_at: datetime
    deleted: bool


@dataclass(frozen=True)
class SearchResult:
    query: str
    kind: str  # "", "case", "hash"
    case: CaseRow | None = None
    hits: list[SearchHit] = field(default_factory=list)
    types: tuple[str, ...] = ()
    distance: int = 0
    message: str | None = None


class HashSearch:
    """Finds what a moderator types into the search box."""

    def __init__(self, db: Database, replica: IndexReplica) -> None:
        self.db = db
        self.replica = replica

    def find(self, query: str, *, signal_type: str = "", distance: int = 0) -> SearchResult:
        """Find a case by its id, or hashes by value: exactly (every hash, whatever its case's
        status) or within ``distance`` (PDQ, pHash: the in-memory index, which holds the
        hashes that can match — pending and active cases, and banks)."""
        text = query.strip()
        if not text:
            return SearchResult("", "")
        value = text.lower()
        by_length = types_by_length(self.replica.types)
        # 16 hex digits are a pHash as well as a case id without its dashes: a hash of an
        # enabled type's length is looked up as a hash (a case id is typed with HB- or dashes)
        hashlike = _HEX.fullmatch(value) is not None and (
            bool(signal_type) or len(value) in by_length
        )
        case_id = normalize_case_id(text)
        if not hashlike and _CASE_ID.fullmatch(case_id):
            with self.db.read() as session:
                found = DashboardRepository(session).case_by_public_id(case_id)
            message = None if found else f"No case {case_id}."
            return SearchResult(case_id, "case", case=found, message=message)
        if not _HEX.fullmatch(value):
            return SearchResult(
                text, "", message="Type a case id (HB-XXXX-XXXX-XXXX-XXXX) or a hash in hex."
            )
        types = (signal_type,) if signal_type else by_length.get(len(value), ())
        if not types:
            lengths = ", ".join(
                f"{'/'.join(self.replica.types.get(k).label or k for k in kinds)} {n}"
                for n, kinds in sorted(by_length.items(), reverse=True)
            )
            return SearchResult(
                text,
                "hash",
                message=f"No signal type has hashes of this length (hex digits: {lengths}).",
            )
        try:
            for kind in types:
                self.replica.types.parse(kind, value)
        except hashes.InvalidHash as exc:
            return SearchResult(text, "hash", types=types, message=str(exc))
        if distance < 0:
            raise InvalidInput("a distance is 0 or more")
        hits = self._hash_hits(value, types, distance)
        return SearchResult(text, "hash", hits=hits, types=types, distance=distance)

    def _hash_hits(self, value: str, types: Sequence[str], distance: int) -> list[SearchHit]:
        near: dict[int, int] = {}
        for kind in types:
            radius = min(distance, self.replica.max_radius.get(kind, 0))
            if radius > 0:
                for hit in self.replica.search(kind, [value], radius):
                    near[hit.signal_id] = hit.distance
        with self.db.read() as session:
            dash = DashboardRepository(session)
            rows = []
            for kind in types:
                rows += dash.signals_in_context(value=(kind, value), limit=SEARCH_LIMIT)
            ranked = sorted(near, key=lambda i: (near[i], i))[:SEARCH_LIMIT]
            exact_ids = {r.id for r in rows}
            rows += dash.signals_in_context(ids=[i for i in ranked if i not in exact_ids])
        hits = [
            SearchHit(
                s.id,
                s.type,
                s.value,
                near.get(s.id, 0) if s.value != value else 0,
                s.bank,
                s.case_id,
                s.case_public_id,
                s.case_status,
                s.created_at,
                s.deleted_at is not None,
            )
            for s in rows
        ]
        hits.sort(key=lambda h: (h.distance, h.signal_id))
        return hits[:SEARCH_LIMIT]
