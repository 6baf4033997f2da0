"""``hashbank import`` / ``remove`` / ``export``: hash lists in and out (CSV or JSONL)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

import hashes
from app.cli.common import fail, services
from app.errors import HashbankError, InvalidInput
from app.files import open_private
from app.services.banks import BankEntries
from app.services.inputs import HashInput, validate_hashes, weakness

BATCH = 5_000


def _rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield n, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InvalidInput(f"line {n}: not JSON ({exc.msg})") from None
        else:
            for n, row in enumerate(csv.DictReader(fh), 2):
                yield n, row


def _format(path: Path, fmt: str | None = None) -> str:
    """``csv`` or ``jsonl``: as given, else from the file name."""
    return fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")


def _hash_of(n: int, row: dict[str, str], types: hashes.SignalRegistry) -> HashInput:
    """The validated hash of line ``n`` (of an enabled type); any fault names the line."""
    try:
        quality = row.get("quality")
        item = HashInput(
            str(row["type"]), str(row["value"]), int(quality) if quality not in (None, "") else None
        )
        (valid,) = validate_hashes([item], types)
    except (KeyError, ValueError, TypeError, AttributeError, InvalidInput) as exc:
        raise InvalidInput(f"line {n}: {exc}") from None
    return valid


def import_hashes(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV (header: type,value[,quality]) or JSONL."
        ),
    ],
    bank: Annotated[str, typer.Option("--bank", help="Bank to load into.")] = "reports",
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file name).")
    ] = None,
    skip_weak: Annotated[
        bool,
        typer.Option(
            "--skip-weak",
            help="Leave out weak hashes (low PDQ quality, degenerate values) and count them, "
            "instead of stopping at the first one.",
        ),
    ] = False,
) -> None:
    """Bulk-load hashes from a CSV or JSONL file into a bank, with a progress bar.

    Weak hashes, which would match unrelated images, are refused as in reports
    (HASHBANK_MIN_PDQ_QUALITY, degenerate values): the import stops at the first one,
    or leaves them out with --skip-weak.
    """
    kind = _format(file, fmt)
    svc = services()
    floor = svc.settings.min_pdq_quality
    loader = BankEntries(svc.db, min_pdq_quality=floor, types=svc.types)
    total = file.stat().st_size
    added = skipped = 0
    batch: list[HashInput] = []
    try:
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            TextColumn("{task.fields[n]} hashes"),
            TimeRemainingColumn(),
            transient=False,
            console=None,
        ) as bar:
            task = bar.add_task("import", total=total, n=0)
            with file.open("rb") as raw:
                for n, row in _rows(file, kind):
                    valid = _hash_of(n, row, svc.types)
                    # the service refuses weak hashes anyway; asking here names the line
                    reason = weakness(valid, min_pdq_quality=floor, types=svc.types)
                    if reason is not None:
                        if not skip_weak:
                            raise InvalidInput(
                                f"line {n}: would match unrelated images: {reason} "
                                "(--skip-weak leaves such hashes out)"
                            )
                        skipped += 1
                        continue
                    batch.append(valid)
                    if len(batch) >= BATCH:
                        added += loader.add(bank, batch, actor="cli", note=f"import {file.name}")
                        batch = []
                        bar.update(task, completed=min(total, raw.tell() or total), n=added)
                added += loader.add(bank, batch, actor="cli", note=f"import {file.name}")
                bar.update(task, completed=total, n=added)
    except HashbankError as exc:
        fail(f"{exc} ({added} hashes were imported before it)")
    finally:
        svc.close()
    typer.echo(f"imported {added} hashes into bank {bank!r}", err=True)
    if skipped:
        typer.echo(f"left out {skipped} weak hashes (they would match unrelated images)", err=True)


def remove_hashes(
    values: Annotated[
        list[str] | None,
        typer.Argument(help="Hashes in hex, of the type given by --type.", show_default=False),
    ] = None,
    bank: Annotated[str, typer.Option("--bank", help="Bank to remove them from.")] = "allowlist",
    kind: Annotated[
        str, typer.Option("--type", help="Type of the hashes given as arguments.")
    ] = "pdq",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="CSV (header: type,value) or JSONL of hashes to remove, as for import.",
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit log).")
    ] = None,
) -> None:
    """Remove hashes a bank holds itself (imported lists, allow-list entries).

    Every replica stops matching them within seconds and the feed carries a tombstone
    for each. A case's hashes are not removed here: reject or withdraw the case.
    Removing a hash that is not there is not an error (the count says what happened).
    """
    items: list[HashInput] = []
    svc = services()
    try:
        if file is not None:
            items += [_hash_of(n, row, svc.types) for n, row in _rows(file, _format(file))]
        items += validate_hashes((HashInput(kind, v) for v in values or []), svc.types)
        if not items:
            raise InvalidInput("give the hashes to remove as arguments or with --file")
        removed = BankEntries(svc.db, types=svc.types).remove(
            bank, items, actor="cli", reason=reason
        )
    except HashbankError as exc:
        fail(exc)
    finally:
        svc.close()
    typer.echo(f"removed {removed} of {len(items)} hashes from bank {bank!r}", err=True)


def export_hashes(
    bank: Annotated[
        str | None, typer.Option("--bank", help="Only this bank (default: all).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export the matchable hashes (hash lists; see `hashbank backup` for whole state)."""
    svc = services()
    # hash values: a file written here is the owner's only (0600)
    out = open_private(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        writer = csv.writer(out) if fmt == "csv" else None
        if writer:
            writer.writerow(["type", "value", "bank_id", "status"])
        for sig in BankEntries(svc.db).export(bank):
            if writer:
                writer.writerow([sig.type, sig.value, sig.bank_id, sig.status])
            else:
                out.write(
                    json.dumps(
                        {
                            "type": sig.type,
                            "value": sig.value,
                            "bank_id": sig.bank_id,
                            "status": sig.status,
                        }
                    )
                    + "\n"
                )
    finally:
        if output:
            out.close()
        svc.close()
