"""``hashbank backup`` and ``hashbank restore``: the whole state, losslessly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import emit, opened
from app.services.backup import BackupService


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (.jsonl.gz).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Write every bank, case, hash, match, client, user, audit event and change to FILE.

    One consistent snapshot, taken while the service keeps running. The file holds hash
    values (sensitive): store it like the database itself.
    """
    with opened() as svc:
        summary = BackupService(svc.db).backup(file)
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
    with opened() as svc:
        summary = BackupService(svc.db).restore(file)
        # snapshots of the database this replaced would answer for another bank (the
        # loader also refuses them: its change-log anchor differs or is ahead)
        if svc.replica.snapshots is not None:
            svc.replica.snapshots.invalidate()
    if as_json:
        emit({"file": str(file), "revision": summary.revision, "rows": summary.rows})
    else:
        typer.echo(f"restored {sum(summary.rows.values())} rows from {file}")


def purge(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Apply the retention policy now (every server also does, each
    HASHBANK_PURGE_INTERVAL_SECONDS): delete matches and audit events past their retention
    and erase the hashes of cases withdrawn or rejected long enough ago. Audited."""
    with opened() as svc:
        result = svc.retention.purge(actor="cli")
    summary = {
        "matches": result.matches,
        "audit_events": result.audit_events,
        "erased_cases": result.erased_cases,
        "erased_hashes": result.erased_hashes,
        "erased_matches": result.erased_matches,
        "review_due": result.review_due,
    }
    if as_json:
        emit(summary)
        return
    typer.echo(
        f"purged {result.matches} matches and {result.audit_events} audit events; erased "
        f"{result.erased_hashes} hashes ({result.erased_matches} matches) of "
        f"{result.erased_cases} closed cases"
    )
    if result.review_due:
        typer.echo(
            f"{result.review_due} active cases are due for re-review: hashbank rereview list"
        )


rereview = typer.Typer(
    help="Periodic re-review of active cases (due after HASHBANK_REVIEW_AFTER_DAYS).",
    no_args_is_help=True,
)


@rereview.command("list")
def rereview_list(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Active cases due for re-review, the longest unreviewed first."""
    with opened() as svc:
        due = svc.retention.due(limit=limit)
    for case in due:
        reviewed = case.last_reviewed_at.isoformat() if case.last_reviewed_at else None
        detected = case.last_detected.isoformat() if case.last_detected else None
        if as_json:
            emit(
                {
                    "case_id": case.case_id,
                    "created_at": case.created_at.isoformat(),
                    "last_reviewed_at": reviewed,
                    "last_reviewed_by": case.last_reviewed_by,
                    "reupload_attempts": case.reupload_attempts,
                    "last_detected": detected,
                }
            )
        else:
            typer.echo(
                f"{case.case_id}  reported {case.created_at:%Y-%m-%d}  last reviewed "
                f"{(reviewed or 'never')[:10]}  re-uploads {case.reupload_attempts}"
            )
    if not as_json:
        typer.echo(f"{len(due)} cases due for re-review", err=True)


def _decide(case_id: str, *, keep: bool, reason: str | None, actor: str) -> None:
    with opened() as svc:
        view = svc.cases.rereview(case_id, keep=keep, actor=actor, reason=reason)
    typer.echo(f"{view.case_id}: {view.status}")


@rereview.command("keep")
def rereview_keep(
    case_id: Annotated[str, typer.Argument(help="The case id (HB-...).")],
    reviewer: Annotated[str, typer.Option("--by", help="Who reviewed (for the audit trail).")],
    reason: Annotated[str | None, typer.Option("--reason", help="A note for the audit.")] = None,
) -> None:
    """The case still belongs in the bank: it stays active; its review date starts over."""
    _decide(case_id, keep=True, reason=reason, actor=f"user:{reviewer}")


@rereview.command("reject")
def rereview_reject(
    case_id: Annotated[str, typer.Argument(help="The case id (HB-...).")],
    reviewer: Annotated[str, typer.Option("--by", help="Who reviewed (for the audit trail).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required, audited).")],
) -> None:
    """The case no longer belongs in the bank: it is rejected and stops matching at once."""
    _decide(case_id, keep=False, reason=reason, actor=f"user:{reviewer}")
