"""The ``hashbank`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import importlib
import importlib.util

import typer

from app.cli import admin, data, ops, serve
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

# Commands whose modules are still being built register themselves when present.
if importlib.util.find_spec("app.cli.submit") is not None:
    cli.command("submit")(importlib.import_module("app.cli.submit").submit)
if importlib.util.find_spec("app.cli.bench") is not None:
    cli.add_typer(importlib.import_module("app.cli.bench").bench, name="bench")


def main() -> None:
    """Entry point of the ``hashbank`` console script."""
    cli()
