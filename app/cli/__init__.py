"""The ``hashbank`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from app.cli import admin, bench, data, index, ops, serve, submit, types, webhooks
from app.cli import hash as hash_cmd

cli = typer.Typer(
    name="hashbank",
    help="hashbank: stop intimate images shared without consent from coming back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.command("serve")(serve.serve)
cli.command("hash")(hash_cmd.hash_images)
cli.command("import")(data.import_hashes)
cli.command("remove")(data.remove_hashes)
cli.command("export")(data.export_hashes)
cli.command("backup")(ops.backup)
cli.command("restore")(ops.restore)
cli.command("purge")(ops.purge)
cli.add_typer(ops.rereview, name="rereview")
cli.add_typer(admin.db, name="db")
cli.add_typer(admin.clients, name="clients")
cli.add_typer(admin.users, name="users")
cli.add_typer(webhooks.webhooks, name="webhooks")
cli.command("submit")(submit.submit)
cli.command("types")(types.list_types)
cli.add_typer(bench.bench, name="bench")
cli.add_typer(index.index, name="index")


def main() -> None:
    """Entry point of the ``hashbank`` console script."""
    cli()
