"""``hashbank types``: the signal types this deployment runs, and where each comes from."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import hashes
from app.cli.common import emit, fail
from app.config import Settings
from app.services.signal_types import default_thresholds, load_signal_types


def list_types(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the enabled signal types: built-ins and installed plug-ins, limited to
    HASHBANK_SIGNAL_TYPES. Fails (exit code 2) where start-up would, with the same message."""
    settings = Settings()
    try:
        types = load_signal_types(settings)
    except hashes.SignalSpecError as exc:
        fail(f"signal types: {exc}", 2)
    builtin = set(hashes.BUILTINS.names)
    defaults = default_thresholds(settings, types)
    if as_json:
        for spec in types:
            emit(
                {
                    "name": spec.name,
                    "label": spec.label or spec.name,
                    "bits": spec.bits,
                    "perceptual": spec.perceptual,
                    "default_threshold": defaults.default(spec.name),
                    "max_threshold": spec.max_threshold,
                    "exchange_names": dict(spec.exchange_names),
                    "source": "built-in" if spec.name in builtin else "plug-in",
                }
            )
        return
    table = Table("name", "bits", "compared", "default", "max", "source")
    for spec in types:
        table.add_row(
            spec.name,
            str(spec.bits),
            "by distance" if spec.perceptual else "exactly",
            str(defaults.default(spec.name)),
            str(spec.max_threshold),
            "built-in" if spec.name in builtin else "plug-in",
        )
    Console().print(table)
