"""The SQL of backup and restore: every table's rows, in foreign-key order, and back.

The tables come from the models' metadata (``Base.metadata.sorted_tables``): a new model
is backed up and restored with no change here. ``IN_USE`` names the tables whose rows
mean a database is in use (a restore refuses to overwrite them).
:class:`app.services.backup.BackupService` owns the file format and the transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, LargeBinary, TypeDecorator

from app.storage.models import Base

__all__ = ["IN_USE", "BackupRepository", "TableInfo"]

# tables whose rows mean the database is in use (restore refuses to overwrite them)
IN_USE = ("case_report", "signal", "client", "app_user", "match")


@dataclass(frozen=True)
class TableInfo:
    """A table's name and which of its columns hold timestamps and bytes."""

    name: str
    columns: frozenset[str]
    datetimes: frozenset[str]
    binaries: frozenset[str]


def _is_datetime(table: Table, column: str) -> bool:
    kind = table.c[column].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl  # type: ignore[assignment]
    return isinstance(kind, DateTime)


def _info(table: Table) -> TableInfo:
    names = [c.name for c in table.columns]
    return TableInfo(
        table.name,
        frozenset(names),
        frozenset(n for n in names if _is_datetime(table, n)),
        frozenset(n for n in names if isinstance(table.c[n].type, LargeBinary)),
    )


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


TABLES: Sequence[TableInfo] = tuple(_info(t) for t in _tables())
"""Every table, parents before children (the order a backup writes and a restore reads)."""


class BackupRepository:
    """Whole-table reads and writes of one session (backup: a read session; restore: a
    write session, so that a failed restore leaves the database as it was)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._tables = {t.name: t for t in _tables()}
        self._postgres = session.get_bind().dialect.name == "postgresql"

    @property
    def tables(self) -> Sequence[TableInfo]:
        return TABLES

    def snapshot(self) -> None:
        """Make every later read of this transaction see one snapshot (its first statement;
        SQLite: a WAL read transaction is one already)."""
        if self._postgres:
            self.s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))

    def revision(self) -> str:
        """The schema's Alembic revision."""
        return str(self.s.execute(text("SELECT version_num FROM alembic_version")).scalar_one())

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of ``table`` in primary-key order, as column -> value."""
        t = self._tables[table]
        result = self.s.execute(select(t).order_by(*t.primary_key.columns)).mappings()
        for row in result:
            yield dict(row)

    def in_use(self) -> str | None:
        """The first table of :data:`IN_USE` holding rows, or None for an unused database."""
        for name in IN_USE:
            t = self._tables[name]
            if self.s.execute(select(func.count()).select_from(t)).scalar_one():
                return name
        return None

    def clear(self) -> None:
        """Delete every row of every table (children first): the seeded defaults too."""
        for t in reversed(_tables()):
            self.s.execute(t.delete())

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.s.execute(insert(self._tables[table]), rows)

    def reset_sequences(self) -> None:
        """PostgreSQL: move each id sequence past the restored ids (SQLite: nothing to do)."""
        if not self._postgres:
            return
        for table in _tables():
            for column in table.primary_key.columns:
                if column.autoincrement is not True and not (
                    column.autoincrement == "auto" and column.type.python_type is int
                ):
                    continue
                seq = self.s.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": column.name},
                ).scalar_one()
                if seq:
                    self.s.execute(
                        text(
                            f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '  # noqa: S608
                            f'FROM "{table.name}"), 0) + 1, false)'
                        ),
                        {"s": seq},
                    )
