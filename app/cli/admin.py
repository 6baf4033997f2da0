"""``hashbank db|clients|users``: schema, platform API keys and dashboard users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import emit, opened, services
from app.services.clients import SCOPES, parse_scopes

db = typer.Typer(help="Database schema.", no_args_is_help=True)
clients = typer.Typer(help="Platform API clients (keys, scopes, revocation).", no_args_is_help=True)
users = typer.Typer(help="Dashboard users (moderators and admins).", no_args_is_help=True)
ACTOR = "cli"


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (every command also does this first)."""
    svc = services()
    svc.close()
    typer.echo("database schema is up to date", err=True)


@clients.command("create")
def clients_create(
    name: Annotated[str, typer.Argument(help="A name for the platform, e.g. 'example-social'.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help=f"Comma-separated, from: {', '.join(SCOPES)}.")
    ] = "check",
    rate_limit: Annotated[
        int | None,
        typer.Option("--rate-limit", help="Requests per second for this key (default: none)."),
    ] = None,
    exact_distances: Annotated[
        bool,
        typer.Option(
            "--exact-distances",
            help="Checks answer this client exact Hamming distances, not just exact/near "
            "(exact distances let a caller rebuild stored hashes: trusted clients only).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object for scripts.")
    ] = False,
) -> None:
    """Create an API client and print its key (shown once, stored only as a SHA-256)."""
    with opened() as svc:
        new = svc.clients.create(
            name,
            parse_scopes(scopes),
            actor=ACTOR,
            rate_limit=rate_limit,
            exact_distances=exact_distances,
        )
    if as_json:
        emit(
            {
                "id": new.client.id,
                "name": new.client.name,
                "key": new.key,
                "scopes": sorted(new.client.scopes),
            }
        )
        return
    typer.echo(
        f"client {new.client.name!r} created with scopes {','.join(sorted(new.client.scopes))}"
    )
    typer.echo(f"API key (shown once, store it now): {new.key}")


@clients.command("list")
def clients_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API clients (never their keys)."""
    with opened() as svc:
        rows = svc.clients.list()
    if as_json:
        for c in rows:
            emit(
                {
                    "name": c.name,
                    "scopes": sorted(c.scopes),
                    "key_prefix": c.key_prefix,
                    "rate_limit": c.rate_limit,
                    "exact_distances": c.exact_distances,
                    "revoked": c.revoked_at is not None,
                    "last_used_at": c.last_used_at,
                }
            )
        return
    table = Table("name", "scopes", "key prefix", "rate limit", "distances", "state", "last used")
    for c in rows:
        table.add_row(
            c.name,
            ",".join(sorted(c.scopes)),
            c.key_prefix + "…",
            str(c.rate_limit or "-"),
            "exact" if c.exact_distances else "band",
            "revoked" if c.revoked_at else "active",
            str(c.last_used_at or "never"),
        )
    Console().print(table)


@clients.command("distances")
def clients_distances(
    name: Annotated[str, typer.Argument(help="The client's name.")],
    exact: Annotated[
        bool,
        typer.Option(
            "--exact/--band",
            help="Answer its checks exact Hamming distances, or only exact/near.",
        ),
    ],
) -> None:
    """Give a client exact distances in its check answers, or take them away."""
    with opened() as svc:
        svc.clients.set_exact_distances(name, exact, actor=ACTOR)
    typer.echo(f"client {name!r} now gets {'exact distances' if exact else 'bands'}")


@clients.command("revoke")
def clients_revoke(name: Annotated[str, typer.Argument(help="The client's name.")]) -> None:
    """Revoke a client's key: it gets 401 from then on."""
    with opened() as svc:
        svc.clients.revoke(name, actor=ACTOR)
    typer.echo(f"client {name!r} revoked")


@users.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="admin or moderator.")] = "moderator",
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a dashboard user; the password is asked for (or read with --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with opened() as svc:
        user = svc.users.create(username, password, role, actor=ACTOR)
    if as_json:
        emit({"username": user.username, "role": user.role})
    else:
        typer.echo(f"user {user.username!r} created with role {user.role}")


@users.command("list")
def users_list() -> None:
    """List dashboard users."""
    with opened() as svc:
        rows = svc.users.list()
    table = Table("username", "role", "state", "last login")
    for u in rows:
        table.add_row(
            u.username,
            u.role,
            "disabled" if u.disabled else "active",
            str(u.last_login_at or "never"),
        )
    Console().print(table)
