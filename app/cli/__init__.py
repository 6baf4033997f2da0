"""The ``hashbank`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from app.cli import hash as hash_cmd

cli = typer.Typer(
    name="hashbank",
    help="hashbank: stop intimate images shared without consent from coming back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.command("hash")(hash_cmd.hash_images)


def main() -> None:
    """Entry point of the ``hashbank`` console script."""
    cli()
