"""``hashbank backup`` and ``hashbank restore``: the whole state, losslessly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import emit, fail, services
from app.errors import HashbankError
from app.services.backup import BackupService


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (.jsonl.gz).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Write every bank, case, hash, match, client, user, audit event and change to FILE.

    One consistent snapshot, taken while the service keeps running. The file holds hash
    values (sensitive): store it like the database itself.
    """
    svc = services()
    try:
        summary = BackupService(svc.db).backup(file)
    finally:
        svc.close()
    if as_json:
        emit({"file": str(file), "revision": summary.revision, "rows": summary.rows})
    else:
        total = sum(summary.rows.values())
        typer.echo(f"backup written to {file}: {total} rows (schema {summary.revision})")


def restore(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A file from hashbank backup.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Load FILE into the database at HASHBANK_DATABASE_URL, which must be new (no cases,
    hashes, clients or users). All or nothing: a damaged file restores nothing."""
    svc = services()
    try:
        summary = BackupService(svc.db).restore(file)
    except HashbankError as exc:
        fail(exc)
    finally:
        svc.close()
    if as_json:
        emit({"file": str(file), "revision": summary.revision, "rows": summary.rows})
    else:
        typer.echo(f"restored {sum(summary.rows.values())} rows from {file}")
