"""``hashbank hash``: hash images and videos on this machine, one JSON line per file.

Nothing leaves the machine and nothing is written anywhere: an image is read into
memory and hashed by :mod:`hashes`; a video (recognised by its first bytes, or its
suffix) is decoded in place by ``hashes.hash_video``, with a progress bar on stderr,
and printed as ``path``, ``video_md5``, ``video_sha256``, ``duration`` and ``vpdq`` (Meta's
``"pdq_hex,quality,seconds"`` strings). Errors are JSON lines too
(``{"path": ..., "error": ...}``) and do not stop the run; the exit code is 1 when
any file could not be hashed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

import hashes

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "hash_images",
    "hash_path",
    "hash_video_path",
    "is_video",
    "iter_files",
]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".bmp", ".dib"}
    | {".tif", ".tiff", ".heic", ".heif", ".hif"}
)
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".3gp", ".3g2", ".webm", ".mkv", ".avi", ".flv", ".ts", ".mts"}
    | {".m2ts", ".mpg", ".mpeg", ".ogv"}
)


def iter_files(paths: Iterable[Path], *, recursive: bool) -> Iterator[Path]:
    """Yield the files to hash: named files as given, images and videos in named folders.

    Folders contribute files with an image or video suffix, sorted, and
    their subfolders too when ``recursive``. Paths that do not exist are yielded as
    they are, so that they are reported as errors.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        found = path.rglob("*") if recursive else path.iterdir()
        suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
        yield from sorted(p for p in found if p.is_file() and p.suffix.lower() in suffixes)


def is_video(path: str) -> bool:
    """True when the file starts like a video container, or cannot be read and has a
    video suffix (its error is then a video's)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(400)
    except OSError:
        return Path(path).suffix.lower() in VIDEO_SUFFIXES
    if hashes.sniff_video(head) is not None:
        return True
    return Path(path).suffix.lower() in VIDEO_SUFFIXES and not head.startswith(b"\xff\xd8")


def hash_video_path(
    path: str,
    *,
    variants: Literal["none", "check", "stored"] = "none",
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Hash one video into the JSON object printed for it (an ``error`` key on failure).

    With ``variants`` other than ``"none"``, ``frame_variants`` lists
    ``{"seconds": s, "quality": q, "pdq": [...]}`` per distinct frame (``q``: the frame's
    PDQ quality).
    """
    try:
        v = hashes.hash_video(path, variants=variants, progress=progress)
    except hashes.VideoError as exc:
        return {"path": path, "error": f"{type(exc).__name__}: {exc}"}
    except OSError as exc:
        return {"path": path, "error": f"cannot read the file: {exc.strerror or exc}"}
    out: dict[str, Any] = {
        "path": path,
        "video_md5": v.md5,
        "video_sha256": v.sha256,
        "duration": round(v.duration, 3),
        "vpdq": [str(f) for f in v.frames],
        "width": v.width,
        "height": v.height,
        "format": v.format,
    }
    if variants != "none":
        quality = {f.seconds: f.quality for f in v.frames}
        out["frame_variants"] = [
            {"seconds": fv.seconds, "quality": quality[fv.seconds], "pdq": list(fv.pdq)}
            for fv in v.frame_variants
        ]
    return out


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


def video_progress(console: Console) -> Progress:
    """The bar shown while one video is hashed: share done and time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _video(
    file: str, console: Console, variants: Literal["none", "check", "stored"] = "none"
) -> dict[str, Any]:
    with video_progress(console) as bar:
        task = bar.add_task(f"video {Path(file).name}", total=1.0)
        return hash_video_path(
            file, variants=variants, progress=lambda done: bar.update(task, completed=done)
        )


def _results(files: list[str], workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(files) <= 1:
        yield from map(hash_path, files)
        return
    # spawn, not fork: the progress bar runs a thread, and forking with threads is unsafe.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(files))) as pool:
        yield from pool.imap(hash_path, files, chunksize=4)


def hash_images(
    paths: Annotated[list[Path], typer.Argument(help="Image or video files, or folders.")],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Also hash images in subfolders.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-w", min=0, help="Processes to hash images with; 0: one per core."
        ),
    ] = 1,
) -> None:
    """Hash images and videos locally: one JSON line per file on stdout (nothing is uploaded).

    A video's line has path, video_md5, video_sha256, duration (s) and vpdq (Meta's
    "pdq_hex,quality,seconds" strings, one frame a second), with width, height, format.
    """
    files = [str(p) for p in iter_files(paths, recursive=recursive)]
    videos = {f for f in files if is_video(f)}
    n_workers = workers or os.cpu_count() or 1
    console = Console(stderr=True)
    failed = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=len(files) < 2,
    )
    images = _results([f for f in files if f not in videos], n_workers)
    with progress:
        task = progress.add_task("hashing", total=len(files))
        for file in files:
            result = _video(file, console) if file in videos else next(images)
            failed += "error" in result
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
            progress.advance(task)
    if len(files) > 1 or failed:
        console.print(f"hashed {len(files) - failed} of {len(files)} files, {failed} failed")
    if failed:
        raise typer.Exit(code=1)
