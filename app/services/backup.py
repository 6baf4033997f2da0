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

from app.errors import Conflict, InvalidInput
from app.files import open_private
from app.storage.backup import BackupRepository, TableInfo
from app.storage.db import Database

__all__ = ["BackupService", "BackupSummary"]

FORMAT = "hashbank-backup"
VERSION = 1
BATCH = 5_000


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    revision: str
    rows: dict[str, int]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "value"):  # enum members
        return value.value
    return value


def _decode(table: TableInfo, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key not in table.columns:
            raise InvalidInput(f"backup column {table.name}.{key} is not in this schema")
        if value is not None and key in table.datetimes:
            parsed = datetime.fromisoformat(value)
            out[key] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        elif value is not None and key in table.binaries:
            out[key] = base64.b64decode(value)
        else:
            out[key] = value
    return out


class BackupService:
    def __init__(self, db: Database) -> None:
        self.db = db

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
            store = BackupRepository(session)
            store.snapshot()  # one read transaction, one snapshot
            revision = store.revision()
            header = {"format": FORMAT, "version": VERSION, "revision": revision}
            header["created_at"] = datetime.now(UTC).isoformat()
            out.write(json.dumps(header) + "\n")
            for table in store.tables:
                count = 0
                for row in store.rows(table.name):
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
        with self.db.write() as session:
            store = BackupRepository(session)
            tables = {t.name: t for t in store.tables}
            used = store.in_use()
            if used is not None:
                raise Conflict(f"this database already holds {used} rows: restore into a new one")
            with gzip.open(path, "rt", encoding="utf-8") as file:
                lines = iter(file)
                header = _header(next(lines, None))
                revision = store.revision()
                if header["revision"] != revision:
                    raise InvalidInput(
                        f"backup schema {header['revision']} differs from this database's "
                        f"{revision}: restore with the hashbank version that wrote it"
                    )
                store.clear()  # seeded defaults go; the backup's come
                rows: dict[str, int] = {}
                pending: list[dict[str, Any]] = []
                current: TableInfo | None = None
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
                        _flush(store, current, pending)
                        current = table
                    pending.append(_decode(table, record["r"]))
                    rows[table.name] = rows.get(table.name, 0) + 1
                _flush(store, current, pending)
                if trailer is None:
                    raise InvalidInput("the backup is truncated (no end marker): nothing restored")
                expected = {k: v for k, v in trailer["rows"].items() if v}
                if expected != rows:
                    raise InvalidInput("row counts differ from the backup's own: nothing restored")
            store.reset_sequences()
        return BackupSummary(path, str(header["revision"]), rows)


def _flush(store: BackupRepository, table: TableInfo | None, pending: list[dict[str, Any]]) -> None:
    if table is not None:
        store.insert(table.name, pending)
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
