"""Backup and restore of the whole state, losslessly, across SQLite and PostgreSQL.

A backup is a gzip'd JSON-lines file: one header line (format, schema revision, row
counts come last in a trailer) and one line per row, table by table in foreign-key order,
values in the column's own terms (timestamps as ISO 8601 UTC, enums as their values).
Ids are kept, so case numbers, match ids, audit trails and the change log (and with it
every platform's feed position) survive a restore. No image is in it: there are none.

Restore goes into a database with no cases, signals, clients or users yet (a fresh
one, after ``hashbank db upgrade``); it replaces the seeded default banks and runs in
one transaction, so a failed restore leaves the database as it was.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, LargeBinary, TypeDecorator

from app.errors import Conflict, InvalidInput
from app.files import open_private
from app.storage.db import Database
from app.storage.models import Base

__all__ = ["BackupService", "BackupSummary"]

FORMAT = "hashbank-backup"
VERSION = 1
BATCH = 5_000
# tables whose rows mean the database is in use (restore refuses to overwrite them)
IN_USE = ("case_report", "signal", "client", "app_user", "match")


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    revision: str
    rows: dict[str, int]


def _is_datetime(table: Table, column: str) -> bool:
    kind = table.c[column].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl  # type: ignore[assignment]
    return isinstance(kind, DateTime)


def _is_binary(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, LargeBinary)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "value"):  # enum members
        return value.value
    return value


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key not in table.c:
            raise InvalidInput(f"backup column {table.name}.{key} is not in this schema")
        if value is not None and _is_datetime(table, key):
            parsed = datetime.fromisoformat(value)
            out[key] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        elif value is not None and _is_binary(table, key):
            out[key] = base64.b64decode(value)
        else:
            out[key] = value
    return out


class BackupService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _revision(self, session: Session) -> str:
        return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())

    def backup(self, path: Path) -> BackupSummary:
        """Write every table to ``path`` (gzip'd JSON lines) from one consistent snapshot."""
        rows: dict[str, int] = {}
        tmp = path.with_name(path.name + ".partial")
        # hash values: the file is the owner's only (0600) from its creation on
        with (
            self.db.read() as session,
            open_private(tmp, "wb") as raw,
            gzip.open(raw, "wt", encoding="utf-8") as out,
        ):
            # one read transaction, one snapshot (SQLite: a WAL read transaction already is)
            if not self.db.sqlite:
                session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            revision = self._revision(session)
            header = {"format": FORMAT, "version": VERSION, "revision": revision}
            header["created_at"] = datetime.now(UTC).isoformat()
            out.write(json.dumps(header) + "\n")
            for table in Base.metadata.sorted_tables:
                count = 0
                order = list(table.primary_key.columns)
                result = session.execute(select(table).order_by(*order)).mappings()
                for row in result:
                    record = {k: _encode(v) for k, v in row.items()}
                    out.write(json.dumps({"t": table.name, "r": record}) + "\n")
                    count += 1
                rows[table.name] = count
            out.write(json.dumps({"end": True, "rows": rows}) + "\n")
        tmp.replace(path)  # a backup file exists only when complete
        return BackupSummary(path, revision, rows)

    def restore(self, path: Path) -> BackupSummary:
        """Load a backup into this (unused) database, in one transaction.

        Raises:
            Conflict: the database is in use already.
            InvalidInput: not a backup, another schema revision, damaged or truncated
                (nothing is restored then).
        """
        try:
            return self._restore(path)
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"the backup is damaged ({exc}): nothing restored") from None

    def _restore(self, path: Path) -> BackupSummary:
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        with self.db.write() as session:
            for name in IN_USE:
                used = session.execute(select(func.count()).select_from(tables[name])).scalar_one()
                if used:
                    raise Conflict(
                        f"this database already holds {name} rows: restore into a new one"
                    )
            with gzip.open(path, "rt", encoding="utf-8") as file:
                lines = iter(file)
                header = _header(next(lines, None))
                revision = self._revision(session)
                if header["revision"] != revision:
                    raise InvalidInput(
                        f"backup schema {header['revision']} differs from this database's "
                        f"{revision}: restore with the hashbank version that wrote it"
                    )
                for table in reversed(Base.metadata.sorted_tables):
                    session.execute(table.delete())  # seeded defaults go; the backup's come
                rows: dict[str, int] = {}
                pending: list[dict[str, Any]] = []
                current: Table | None = None
                trailer: dict[str, Any] | None = None
                for line in lines:
                    record = json.loads(line)
                    if record.get("end"):
                        trailer = record
                        break
                    table = tables.get(record.get("t", ""))
                    if table is None:
                        raise InvalidInput(f"unknown table in backup: {record.get('t')!r}")
                    if table is not current or len(pending) >= BATCH:
                        _flush(session, current, pending)
                        current = table
                    pending.append(_decode(table, record["r"]))
                    rows[table.name] = rows.get(table.name, 0) + 1
                _flush(session, current, pending)
                if trailer is None:
                    raise InvalidInput("the backup is truncated (no end marker): nothing restored")
                expected = {k: v for k, v in trailer["rows"].items() if v}
                if expected != rows:
                    raise InvalidInput("row counts differ from the backup's own: nothing restored")
            if not self.db.sqlite:
                _reset_sequences(session)
        return BackupSummary(path, str(header["revision"]), rows)


def _flush(session: Session, table: Table | None, pending: list[dict[str, Any]]) -> None:
    if table is not None and pending:
        session.execute(insert(table), pending)
    pending.clear()


def _header(line: str | None) -> dict[str, Any]:
    try:
        header = json.loads(line or "")
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput("not a hashbank backup")
    if header.get("version") != VERSION:
        raise InvalidInput(f"backup format version {header.get('version')} is not supported")
    return header


def _reset_sequences(session: Session) -> None:
    """PostgreSQL: move each id sequence past the restored ids."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is not True and not (
                column.autoincrement == "auto" and column.type.python_type is int
            ):
                continue
            seq = session.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar_one()
            if seq:
                session.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '  # noqa: S608
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": seq},
                )
