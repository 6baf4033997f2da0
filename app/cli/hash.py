"""``hashbank hash``: hash images on this machine, one JSON line per image on stdout.

Images never leave the machine and are never written anywhere: each file is read
into memory and hashed by :mod:`hashes`. Errors are JSON lines too
(``{"path": ..., "error": ...}``) and do not stop the run; the exit code is 1 when
any file could not be hashed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

import hashes

__all__ = ["IMAGE_SUFFIXES", "hash_images", "hash_path", "iter_files"]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".bmp", ".dib"}
    | {".tif", ".tiff", ".heic", ".heif", ".hif"}
)


def iter_files(paths: Iterable[Path], *, recursive: bool) -> Iterator[Path]:
    """Yield the files to hash: named files as given, images found in named folders.

    Folders contribute files with an image suffix (``IMAGE_SUFFIXES``), sorted, and
    their subfolders too when ``recursive``. Paths that do not exist are yielded as
    they are, so that they are reported as errors.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        found = path.rglob("*") if recursive else path.iterdir()
        yield from sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def hash_path(path: str) -> dict[str, Any]:
    """Hash one file into the JSON object printed for it (an ``error`` key on failure)."""
    try:
        h = hashes.hash_file(path)
        return {
            "path": path,
            "pdq": h.pdq,
            "pdq_quality": h.pdq_quality,
            "pdq_variants": list(h.pdq_variants),
            "pdq_stored": list(h.pdq_stored),
            "phash": h.phash,
            "md5": h.md5,
            "sha256": h.sha256,
            "width": h.width,
            "height": h.height,
            "format": h.format,
        }
    except hashes.ImageError as exc:
        return {"path": path, "error": f"{type(exc).__name__}: {exc}"}
    except OSError as exc:
        return {"path": path, "error": f"cannot read the file: {exc.strerror or exc}"}


def _results(files: list[str], workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(files) <= 1:
        yield from map(hash_path, files)
        return
    # spawn, not fork: the progress bar runs a thread, and forking with threads is unsafe.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(files))) as pool:
        yield from pool.imap(hash_path, files, chunksize=4)


def hash_images(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders to hash.")],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Also hash images in subfolders.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-w", min=0, help="Processes to hash with; 0 means one per core."
        ),
    ] = 1,
) -> None:
    """Hash images locally: one JSON line per image on stdout (nothing is uploaded)."""
    files = [str(p) for p in iter_files(paths, recursive=recursive)]
    n_workers = workers or os.cpu_count() or 1
    console = Console(stderr=True)
    failed = 0
    progress = Progress(
        TextColumn("hashing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=len(files) < 2,
    )
    with progress:
        task = progress.add_task("hash", total=len(files))
        for result in _results(files, n_workers):
            failed += "error" in result
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
            progress.advance(task)
    if len(files) > 1 or failed:
        console.print(f"hashed {len(files) - failed} of {len(files)} files, {failed} failed")
    if failed:
        raise typer.Exit(code=1)
