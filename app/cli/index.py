"""``hashbank index snapshot``: write an index snapshot now (docs/deploy.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli.common import emit, fail, services

index = typer.Typer(
    help="The in-memory index's snapshots: files every process of a machine maps.",
    no_args_is_help=True,
)


@index.command("snapshot")
def snapshot(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Load the index (from the newest snapshot and the change log, or from the database)
    and write a new snapshot of it to HASHBANK_SNAPSHOT_DIR, keeping the newest
    HASHBANK_SNAPSHOT_KEEP. Running servers switch to it within seconds. Safe while they
    run; one writer at a time (this waits for another one to finish)."""
    svc = services()
    try:
        store = svc.replica.snapshots
        if store is None:
            fail("snapshots are off (HASHBANK_SNAPSHOT_KEEP=0, or an in-memory database)")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            disable=as_json,
        ) as bar:
            task = bar.add_task("loading the index", total=None)
            svc.replica.load()
            bar.update(task, description="writing the snapshot")
            info = store.write(
                svc.replica,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except OSError as exc:
        fail(f"the snapshot could not be written ({exc}); older snapshots are unchanged")
    finally:
        svc.close()
    assert info is not None  # a blocking write always writes
    summary = {
        "path": str(info.path.resolve()),
        "seq": info.seq,
        "signals": info.signals,
        "bytes": info.bytes,
        "seconds": round(info.seconds, 3),
    }
    if as_json:
        emit(summary)
    else:
        typer.echo(
            f"snapshot {info.path} written: {info.signals} signals up to change {info.seq}, "
            f"{info.bytes / 1e6:.1f} MB in {info.seconds:.1f} s",
            err=True,
        )
