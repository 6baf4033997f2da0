"""The ``hashbank`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import contextlib

import typer

from app.cli import admin, data, serve
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
cli.command("export")(data.export_hashes)
cli.add_typer(admin.db, name="db")
cli.add_typer(admin.clients, name="clients")
cli.add_typer(admin.users, name="users")

with contextlib.suppress(ImportError):  # being built: registered when present
    from app.cli import submit

    cli.command("submit")(submit.submit)
with contextlib.suppress(ImportError):
    from app.cli.bench import bench

    cli.add_typer(bench, name="bench")


def main() -> None:
    """Entry point of the ``hashbank`` console script."""
    cli()
