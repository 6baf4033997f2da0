"""``hashbank webhooks``: platforms' webhook endpoints (add, list, remove, rotate, redeliver)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import emit, opened
from app.services.webhooks import EVENT_TYPES

webhooks = typer.Typer(
    help="Webhook endpoints: hashbank POSTs each platform the bank's changes, signed.",
    no_args_is_help=True,
)
ACTOR = "cli"


@webhooks.command("add")
def add(
    client: Annotated[str, typer.Argument(help="The API client's name (as `clients list`).")],
    url: Annotated[str, typer.Argument(help="The receiver's URL (https).")],
    events: Annotated[
        str | None,
        typer.Option(
            "--events", help=f"Comma-separated, from: {', '.join(EVENT_TYPES)} (default: all)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: id and secret.")
    ] = False,
) -> None:
    """Give a platform a webhook endpoint and print its signing secret (shown once)."""
    with opened() as svc:
        new = svc.webhooks.add(client, url, events, actor=ACTOR)
    if as_json:
        emit({"id": new.endpoint.id, "secret": new.secret, "events": new.endpoint.events})
        return
    typer.echo(f"webhook {new.endpoint.id} for {new.endpoint.client!r}: {new.endpoint.url}")
    typer.echo(f"signing secret (shown once, store it now): {new.secret}")


@webhooks.command("list")
def list_(
    client: Annotated[
        str | None, typer.Option("--client", help="Only this client's endpoints.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List webhook endpoints (never their secrets)."""
    with opened() as svc:
        rows = svc.webhooks.list(client)
    if as_json:
        for r in rows:
            emit({k: v for k, v in vars(r).items() if k != "endpoint_id"})  # the one asked for
        return
    table = Table("id", "client", "url", "events", "delivered up to", "rotating")
    for r in rows:
        table.add_row(
            str(r.id),
            r.client,
            r.url,
            ",".join(r.events),
            str(r.cursor),
            "yes" if r.rotating else "",
        )
    Console().print(table)


@webhooks.command("remove")
def remove(endpoint: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Remove an endpoint and its delivery history."""
    with opened() as svc:
        svc.webhooks.remove(endpoint, actor=ACTOR)
    typer.echo(f"webhook {endpoint} removed")


@webhooks.command("rotate")
def rotate(
    endpoint: Annotated[int, typer.Argument(help="The endpoint's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A new signing secret; the current one keeps signing beside it for 24 hours."""
    with opened() as svc:
        secret = svc.webhooks.rotate(endpoint, actor=ACTOR)
    if as_json:
        emit({"id": endpoint, "secret": secret})
        return
    typer.echo(f"new signing secret (shown once; the old one signs for 24 h more): {secret}")


@webhooks.command("deliveries")
def deliveries(
    endpoint: Annotated[int, typer.Argument(help="The endpoint's id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """An endpoint's latest deliveries: status, attempts, latency, last error."""
    with opened() as svc:
        rows = svc.webhooks.deliveries(endpoint, limit)
    if as_json:
        for r in rows:
            emit(vars(r))
        return
    table = Table("id", "changes", "events", "status", "attempts", "latency", "last error")
    for r in rows:
        table.add_row(
            str(r.id),
            f"{r.first_seq}-{r.last_seq}",
            str(r.events),
            r.status,
            str(r.attempts),
            f"{r.latency_ms} ms" if r.latency_ms is not None else "",
            r.last_error,
        )
    Console().print(table)


@webhooks.command("redeliver")
def redeliver(
    endpoint: Annotated[int, typer.Argument(help="The endpoint's id.")],
    delivery: Annotated[int, typer.Argument(help="The delivery's id (see `deliveries`).")],
) -> None:
    """Send a delivery's changes, and every later one, again, in order."""
    with opened() as svc:
        svc.webhooks.redeliver(endpoint, delivery, actor=ACTOR)
    typer.echo(f"webhook {endpoint}: delivery {delivery} and everything after it queued again")
