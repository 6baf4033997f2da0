"""``hashbank submit``: hash images and videos here and report only their hashes to a server.

For organisations reporting on someone's behalf: the files are hashed here with
:mod:`hashes` (read into memory or decoded in place, never copied or uploaded), and each
case gets the hashes a report stores: for an image the PDQ variants, pHash, MD5 and
SHA-256; for a video ``video_md5``, ``video_sha256``, ``vpdq`` (Meta's list; a long one
in parts of ``--vpdq-part-frames`` frames, each naming the video by ``part_of``, its
SHA-256, which the server joins into one stored video) and each stored frame variant as
``{"type": "pdq", "value": hex, "seconds": s}`` (a PDQ hash that is a frame of the video
at that time; ``hashes.hash_video(variants="stored")``). Requests hold at most 1,000
hashes and 1 MiB of JSON (a reverse proxy's usual body limit, nginx's default). A
video whose frame variants exceed the case limit keeps an even spread of them. Every command-line
PATH becomes one case (a folder: every image in it and its subfolders), or one case
per image, or one for everything (``--group``). A case that would hold more hashes than
the server allows is split into several. The case numbers and PINs are printed, or
written to ``--out`` (readable by the owner only), and never logged.

Exit status: 0 when every image was reported, 1 when some files could not be hashed
(the others were reported), 2 when the server could not be used.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.cli.hash import hash_path, hash_video_path, is_video, iter_files, video_progress

__all__ = ["Group", "plan_cases", "submit"]

ANONYMOUS_LIMIT = 600  # the server's default HASHBANK_MAX_HASHES_ANONYMOUS
KEYED_LIMIT = 10_000  # the server's default HASHBANK_MAX_HASHES_PER_CASE
HASHES_PER_REQUEST = 1_000
REQUEST_BYTES = 1024 * 1024  # nginx's default client_max_body_size
VPDQ_PART_FRAMES = 3_600  # an hour at one frame a second: about 290 KB of JSON
_LIMIT_DETAIL = re.compile(r"at most (\d+) hashes")


class Group(StrEnum):
    """How images are grouped into cases."""

    PATH = "path"
    IMAGE = "image"
    ALL = "all"


class SubmitError(Exception):
    """The server could not be used; the message says why, for the person at the terminal."""


class LimitExceeded(SubmitError):
    """The server holds fewer hashes per case than assumed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the server allows at most {limit} hashes per case")
        self.limit = limit


@dataclass
class Image:
    """One hashed image: where it came from and the hash entries its report sends."""

    path: str
    hashes: list[dict[str, Any]]
    video: bool = False


@dataclass
class Case:
    """A case created on the server."""

    case_id: str
    pin: str
    status: str
    source: str
    images: list[str] = field(default_factory=list)
    hashes: int = 0


def _entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The hash entries of one ``hash_path`` result, as ``POST /v1/cases`` takes them."""
    quality = result["pdq_quality"]
    items = [{"type": "pdq", "value": v, "quality": quality} for v in result["pdq_stored"]]
    items += [{"type": t, "value": result[t]} for t in ("phash", "md5", "sha256")]
    return items


def vpdq_parts(frames: list[str], sha256: str, size: int) -> list[dict[str, Any]]:
    """A video's vpdq entries: its frame list in parts of at most ``size`` frames, in
    time order, each naming the video (``part_of``: its SHA-256; the server joins the
    parts of one video into one stored value)."""
    return [
        {"type": "vpdq", "value": frames[i : i + size], "part_of": sha256}
        for i in range(0, len(frames), size)
    ]


def _video_entries(
    result: dict[str, Any], part_frames: int = VPDQ_PART_FRAMES
) -> list[dict[str, Any]]:
    """The hash entries of one ``hash_video_path`` result (variants="stored"): the exact
    hashes and the vpdq parts, every distinct frame's plain PDQ, then the frames'
    variants."""
    items: list[dict[str, Any]] = [
        {"type": "video_md5", "value": result["video_md5"]},
        {"type": "video_sha256", "value": result["video_sha256"]},
        *vpdq_parts(result["vpdq"], result["video_sha256"], part_frames),
    ]
    frames = result["frame_variants"]
    seen: set[str] = set()
    # a variant carries its frame's PDQ quality (the server's quality floor judges it)
    for fv in [*({**f, "pdq": f["pdq"][:1]} for f in frames), *frames]:
        for value in fv["pdq"]:
            if value not in seen:
                seen.add(value)
                items.append(
                    {
                        "type": "pdq",
                        "value": value,
                        "quality": fv["quality"],
                        "seconds": fv["seconds"],
                    }
                )
    return items


def _key(h: dict[str, Any]) -> tuple[str, str]:
    value = h["value"]
    return h["type"], value if isinstance(value, str) else json.dumps(value)


def _spread(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    if k >= len(items):
        return items
    return [items[i * len(items) // k] for i in range(k)]


def fit_video(image: Image, limit: int) -> Image:
    """A video's entries cut to ``limit``: its vpdq and exact hashes, then its frames'
    plain PDQ hashes, then their variants, each part spread evenly over the video when
    it does not fit whole."""
    if not image.video or len(image.hashes) <= limit:
        return image
    # the exact hashes and the vpdq parts: every entry before the first frame's
    n_head = next((i for i, h in enumerate(image.hashes) if "seconds" in h), len(image.hashes))
    head, rest = image.hashes[:n_head], image.hashes[n_head:]
    room = max(0, limit - len(head))
    n_plain = 1  # the plain PDQs come first, their times rising
    while n_plain < len(rest) and rest[n_plain]["seconds"] > rest[n_plain - 1]["seconds"]:
        n_plain += 1
    plain, variants = rest[:n_plain], rest[n_plain:]
    if room <= len(plain):
        return Image(image.path, head + _spread(plain, room), video=True)
    return Image(image.path, head + plain + _spread(variants, room - len(plain)), video=True)


def plan_cases(images: list[Image], limit: int) -> list[list[Image]]:
    """Pack images, in order, into cases of at most ``limit`` distinct hashes each.

    An image is never split across cases; a video over the limit keeps a spread of its
    frame variants (:func:`fit_video`). Raises SubmitError when one image alone has
    more hashes than ``limit``.
    """
    cases: list[list[Image]] = []
    current: list[Image] = []
    seen: set[tuple[str, str]] = set()
    for image in images:
        image = fit_video(image, limit)
        keys = {_key(h) for h in image.hashes}
        if len(keys) > limit:
            raise SubmitError(f"{image.path}: its {len(keys)} hashes exceed the server's {limit}")
        if current and len(seen | keys) > limit:
            cases.append(current)
            current, seen = [], set()
        current.append(image)
        seen |= keys
    if current:
        cases.append(current)
    return cases


def _distinct(images: list[Image]) -> list[dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for image in images:
        for h in image.hashes:
            out.setdefault(_key(h), h)
    return list(out.values())


class Server:
    """The cases API of one hashbank server."""

    def __init__(self, url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, hashes: list[dict[str, Any]], pin: str | None = None) -> Any:
        headers = {"X-Case-Pin": pin} if pin else {}
        try:
            r = self.http.post(path, json={"hashes": hashes}, headers=headers)
        except httpx.HTTPError as exc:
            raise SubmitError(f"cannot reach {self.url}: {exc}") from exc
        if r.status_code in (200, 201):
            return r.json()
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text[:200]
        if r.status_code == 422 and (m := _LIMIT_DETAIL.search(str(detail))):
            raise LimitExceeded(int(m.group(1)))
        hint = {
            401: " (check --key)",
            403: " (the key needs the report scope)",
            429: f" (retry after {r.headers.get('Retry-After', '?')} s)",
        }.get(r.status_code, "")
        raise SubmitError(f"the server answered {r.status_code}: {detail}{hint}")

    def report(self, hashes: list[dict[str, Any]]) -> tuple[str, str, str]:
        """Create a case holding ``hashes``; returns (case id, PIN, status)."""
        first, *rest = requests(hashes)
        body = self._post("/v1/cases", first)
        case_id, pin, status = body["case_id"], body["pin"], body["status"]
        for more in rest:
            self._post(f"/v1/cases/{case_id}/hashes", more, pin)
        return case_id, pin, status


def requests(
    hashes: list[dict[str, Any]],
    max_hashes: int = HASHES_PER_REQUEST,
    max_bytes: int = REQUEST_BYTES,
) -> list[list[dict[str, Any]]]:
    """``hashes`` in order, cut into requests of at most ``max_hashes`` entries and about
    ``max_bytes`` of JSON (an entry larger than that goes alone). The order is kept: a
    video's ``video_sha256`` reaches the server before or with the parts naming it."""
    out: list[list[dict[str, Any]]] = []
    part: list[dict[str, Any]] = []
    size = 0
    for h in hashes:
        n = len(json.dumps(h)) + 2
        if part and (len(part) >= max_hashes or size + n > max_bytes):
            out.append(part)
            part, size = [], 0
        part.append(h)
        size += n
    if part:
        out.append(part)
    return out


def _groups(paths: list[Path], group: Group) -> Iterator[tuple[str, list[str]]]:
    """(source label, files) per case-to-be, folders recursed."""
    if group == Group.ALL:
        yield "all", [str(f) for f in iter_files(paths, recursive=True)]
        return
    for path in paths:
        files = [str(f) for f in iter_files([path], recursive=True)]
        if group == Group.PATH:
            yield str(path), files
        else:
            yield from ((f, [f]) for f in files)


def _progress(console: Console, label: str, total: int) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=total < 2,
    )


def _hash_video(file: str, console: Console) -> dict[str, Any]:
    with video_progress(console) as bar:
        task = bar.add_task(f"video {Path(file).name}", total=1.0)
        return hash_video_path(
            file, variants="stored", progress=lambda done: bar.update(task, completed=done)
        )


def _hash_all(
    groups: list[tuple[str, list[str]]],
    console: Console,
    skip: Callable[[str, str], None],
    part_frames: int = VPDQ_PART_FRAMES,
) -> list[tuple[str, list[Image]]]:
    total = sum(len(files) for _, files in groups)
    out = []
    with _progress(console, "hashing", total) as progress:
        task = progress.add_task("hash", total=total)
        for source, files in groups:
            images = []
            for file in files:
                video = is_video(file)
                result = _hash_video(file, console) if video else hash_path(file)
                progress.advance(task)
                if "error" in result:
                    skip(file, str(result["error"]))
                elif video:
                    entries = _video_entries(result, part_frames)
                    images.append(Image(file, entries, video=True))
                else:
                    images.append(Image(file, _entries(result)))
            out.append((source, images))
    return out


def _report_all(
    server: Server, hashed: list[tuple[str, list[Image]]], limit: int, console: Console
) -> Iterator[Case]:
    """Create the cases, yielding each as soon as it exists (so that a later failure
    never loses a PIN already handed out)."""
    total = sum(len(images) for _, images in hashed)
    with _progress(console, "reporting", total) as progress:
        task = progress.add_task("report", total=total)
        for source, images in hashed:
            pending = plan_cases(images, limit)
            while pending:
                batch = pending.pop(0)
                hashes = _distinct(batch)
                try:
                    case_id, pin, status = server.report(hashes)
                except LimitExceeded as exc:
                    if exc.limit >= limit:
                        raise
                    limit = exc.limit
                    pending = plan_cases(batch, limit) + pending
                    continue
                progress.advance(task, len(batch))
                # the parts of one video are one stored hash
                parts = [h["part_of"] for h in hashes if "part_of" in h]
                stored = len(hashes) - len(parts) + len(set(parts))
                yield Case(case_id, pin, status, source, [i.path for i in batch], stored)


def _line(case: Case, *, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "case_id": case.case_id,
                "pin": case.pin,
                "status": case.status,
                "source": case.source,
                "images": case.images,
                "hashes": case.hashes,
            }
        )
    n = len(case.images)
    return f"{case.case_id}  PIN {case.pin}  {n} image{'s' * (n != 1)}  {case.source}"


def _open_private(path: Path) -> Any:
    """Open ``path`` for appending, readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


def submit(
    paths: Annotated[
        list[Path], typer.Argument(help="Image or video files, or folders (recursed).")
    ],
    server: Annotated[str, typer.Option("--server", help="The hashbank server's URL.")],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="HASHBANK_API_KEY",
            help="An API key with the report scope (else the anonymous limits apply).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write case numbers and PINs to this file, not stdout."),
    ] = None,
    group: Annotated[
        Group, typer.Option("--group", help="One case per PATH, per image, or for all.")
    ] = Group.PATH,
    max_hashes: Annotated[
        int | None,
        typer.Option(
            "--max-hashes",
            min=1,
            help="Hashes per case (default: the server defaults, 200 or 10000 with --key).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per case.")] = False,
    vpdq_part_frames: Annotated[
        int,
        typer.Option(
            "--vpdq-part-frames",
            min=1,
            help="Send a video's vPDQ in parts of at most this many frames (each request "
            "stays small; the server joins the parts into one video).",
        ),
    ] = VPDQ_PART_FRAMES,
) -> None:
    """Hash images and videos locally and report only their hashes; prints case numbers
    and PINs."""
    console = Console(stderr=True, soft_wrap=True)  # messages stay whole lines
    skipped: list[str] = []

    def skip(file: str, reason: str) -> None:
        skipped.append(file)
        console.print(f"skipped {file}: {reason}", markup=False, highlight=False)

    groups = list(_groups(paths, group))
    hashed = [
        (source, images)
        for source, images in _hash_all(groups, console, skip, vpdq_part_frames)
        if images
    ]
    if not hashed:
        console.print("no image could be hashed: nothing reported")
        raise typer.Exit(code=1 if skipped else 2)
    limit = max_hashes or (KEYED_LIMIT if key else ANONYMOUS_LIMIT)
    sink = _open_private(out) if out else None
    created: list[Case] = []
    api = Server(server, key)
    try:
        for case in _report_all(api, hashed, limit, console):
            created.append(case)
            line = _line(case, as_json=as_json)
            if sink is not None:
                sink.write(line + "\n")
                sink.flush()
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
    except SubmitError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        if created:
            where = f"written to {out}" if out is not None else "listed above"
            console.print(f"{len(created)} case(s) were created before the error ({where})")
        raise typer.Exit(code=2) from None
    finally:
        api.close()
        if sink is not None:
            sink.close()
    images = sum(len(c.images) for c in created)
    summary = f"reported {images} image(s) in {len(created)} case(s)"
    if out is not None:
        summary += f"; case numbers and PINs written to {out} (keep it safe)"
    if skipped:
        summary += f"; {len(skipped)} file(s) skipped"
    console.print(summary, markup=False, highlight=False)
    if skipped:
        raise typer.Exit(code=1)
