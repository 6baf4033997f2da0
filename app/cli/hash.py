"""``hashbank hash``: hash images locally and print one JSON line per image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

import hashes


def hash_images(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
) -> None:
    """Hash images on this machine (placeholder: the full command is being built)."""
    for path in paths:
        try:
            h = hashes.hash_file(path)
        except (hashes.ImageError, OSError) as exc:
            print(json.dumps({"path": str(path), "error": str(exc)}))
            continue
        print(json.dumps({"path": str(path), "pdq": h.pdq, "md5": h.md5}))
