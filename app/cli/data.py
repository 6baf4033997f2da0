"""``hashbank import`` / ``remove`` / ``export``: hash files in and out (hashbank's own
formats and the exchanges', :mod:`app.services.exchange_files`)."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

import hashes
from app.cli.common import fail, opened, services
from app.errors import HashbankError, InvalidInput
from app.files import open_private
from app.services.banks import BankEntries
from app.services.exchange_files import FORMATS, ImportProgress, import_file, write_entries
from app.services.inputs import HashInput, validate_hashes


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


_FORMATS_HELP = (
    "csv, jsonl (hashbank's own), pytx-file (python-threatexchange's local-file exchange: "
    "'<signal_type> <value>' a line), pytx-csv (`threatexchange dataset -P --csv`), "
    "stopncii (StopNCII hash records: a FetchHashes answer or its hashRecords)"
)


def import_hashes(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="A hash file (see --format)."),
    ],
    bank: Annotated[str, typer.Option("--bank", help="Bank to load into.")] = "reports",
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=_FORMATS_HELP + "; default: told from the content."),
    ] = None,
    skip_weak: Annotated[
        bool,
        typer.Option(
            "--skip-weak",
            help="Leave out weak hashes (low PDQ quality, degenerate values) and count them, "
            "instead of stopping at the first one.",
        ),
    ] = False,
    skip_unknown: Annotated[
        bool,
        typer.Option(
            "--skip-unknown",
            help="Leave out (and count) lines of signal types no enabled type is, instead "
            "of stopping at the first one.",
        ),
    ] = False,
    from_line: Annotated[
        int,
        typer.Option(
            "--from-line",
            min=1,
            help="Write only the hashes from this line on (the resume point an interrupted "
            "import prints).",
        ),
    ] = 1,
) -> None:
    """Bulk-load hashes from a file into a bank, with a progress bar.

    The whole file is checked before anything is written: a bad line (named by its
    number) stops the import with nothing imported. Weak hashes, which would match
    unrelated images, are refused as in reports (HASHBANK_MIN_PDQ_QUALITY, degenerate
    values), or left out with --skip-weak. StopNCII records other than Active, and
    pytx-csv rows of category NEGATIVE_CLASS, are left out and counted. Hashes are then
    written HASHBANK_IMPORT_BATCH (50,000) a transaction: should the database fail part
    way, the error says which lines are in and the --from-line that resumes.
    """
    svc = services()
    loader = BankEntries(svc.db, min_pdq_quality=svc.settings.min_pdq_quality, types=svc.types)
    state = ImportProgress()
    try:
        with Progress(
            TextColumn("{task.fields[phase]}"),
            BarColumn(),
            TextColumn("{task.fields[n]} hashes"),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task("import", total=file.stat().st_size, n=0, phase="checking")

            def show(p: ImportProgress) -> None:
                bar.update(task, completed=p.bytes_read, n=p.hashes, phase=p.phase)

            tally = import_file(
                file,
                fmt,
                bank,
                loader,
                skip_weak=skip_weak,
                skip_unknown=skip_unknown,
                from_line=from_line,
                progress=state,
                on_progress=show,
                batch_size=svc.settings.import_batch,
            )
    except HashbankError as exc:
        if state.committed:
            fail(
                f"{exc}: {state.committed} hashes are imported, up to line {state.line}; "
                f"resume with --from-line {state.line + 1}"
            )
        fail(f"{exc} (nothing was imported)")
    finally:
        svc.close()
    typer.echo(f"imported {state.committed} hashes into bank {bank!r}", err=True)
    if tally.weak:
        typer.echo(
            f"left out {tally.weak} weak hashes (they would match unrelated images)", err=True
        )
    for reason, count in sorted(tally.skipped.items()):
        typer.echo(f"left out {count}: {reason}", err=True)


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
    with opened() as svc:
        if file is not None:
            items += [_hash_of(n, row, svc.types) for n, row in _rows(file, _format(file))]
        items += validate_hashes((HashInput(kind, v) for v in values or []), svc.types)
        if not items:
            raise InvalidInput("give the hashes to remove as arguments or with --file")
        removed = BankEntries(svc.db, types=svc.types).remove(
            bank, items, actor="cli", reason=reason
        )
    typer.echo(f"removed {removed} of {len(items)} hashes from bank {bank!r}", err=True)


def export_hashes(
    bank: Annotated[
        str | None, typer.Option("--bank", help="Only this bank (default: all).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=_FORMATS_HELP + ".")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export the matchable hashes (hash lists; see `hashbank backup` for whole state).

    The exchanges' formats hold only the types they have a name for (PDQ); pytx-file and
    stopncii leave out allow-list banks' hashes (false positives), pytx-csv gives each
    bank's policy as the category.
    """
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; expected one of " + ", ".join(FORMATS))
    svc = services()
    # hash values: a file written here is the owner's only (0600)
    out = open_private(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        entries = BankEntries(svc.db, types=svc.types)
        result = write_entries(
            out, fmt, entries.export(bank), entries.banks(), svc.types, now=int(time.time())
        )
    finally:
        if output:
            out.close()
        svc.close()
    for reason, count in sorted(result.left_out.items()):
        typer.echo(f"left out {count} {reason}", err=True)
