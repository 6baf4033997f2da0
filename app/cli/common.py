"""Helpers shared by CLI commands: settings, services, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

import hashes
from app.config import Settings
from app.errors import HashbankError
from app.services.container import Services

__all__ = ["emit", "fail", "opened", "services"]


def services() -> Services:
    """Services on HASHBANK_DATABASE_URL, with the schema brought up to date first.

    Signal types that cannot be loaded (HASHBANK_SIGNAL_TYPES, a broken plug-in) stop
    the command with their message (exit code 2)."""
    try:
        return Services.build(Settings())
    except hashes.SignalSpecError as exc:
        fail(f"signal types: {exc}", 2)


@contextmanager
def opened() -> Iterator[Services]:
    """Services for one command's work, closed afterwards; a `HashbankError` raised
    inside stops the command with its message (exit code 1), never a traceback."""
    svc = services()
    try:
        yield svc
    except HashbankError as exc:
        fail(exc)
    finally:
        svc.close()


def emit(obj: dict[str, Any]) -> None:
    """Print one JSON object on one line of stdout (the --json output)."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def fail(error: HashbankError | str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code)
