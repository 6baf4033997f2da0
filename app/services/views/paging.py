"""Paging of sorted lists: a :class:`Sort`, a :class:`Page` of rows, :func:`paginate`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page", "Sort", "paginate", "row_offset"]

T = TypeVar("T")


@dataclass(frozen=True)
class Sort:
    """A list's order: a column key (checked by the caller) and its direction."""

    key: str
    descending: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a sorted list: ``items`` of ``total``; pages count from 1."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def paginate(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    """A page of an in-memory list (banks, clients, users: short lists)."""
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return Page(list(items[start : start + per_page]), len(items), page, per_page)


def row_offset(page: int, per_page: int) -> int:
    """How many rows come before page ``page`` (pages count from 1)."""
    return (max(1, page) - 1) * per_page
