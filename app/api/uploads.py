"""Request bodies read into memory: JSON models and multipart images, never spooled to disk.

Starlette's ``request.form()`` spools file parts over 1 MB to a temporary file; image
bytes must never touch the disk, so multipart bodies are parsed here with
python-multipart's streaming parser into ``bytearray`` buffers. Those buffers are ours:
they are overwritten with zeros once hashed or refused (``wiped``; docs/security.md says
which copies of an upload this cannot reach).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from python_multipart.multipart import MultipartParser, parse_options_header

import hashes
from app.api.schemas import HashIn
from app.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMedia
from app.services.inputs import HashInput
from app.web.inputs import NUL_REFUSED, json_has_nul

__all__ = ["ImagePart", "body_kind", "hash_inputs", "read_images", "read_model", "wiped"]

M = TypeVar("M", bound=BaseModel)


@dataclass
class ImagePart:
    filename: str
    data: bytes | bytearray  # the bytearray the body was read into (zeroed by ``wiped``)
    field: str = "image"  # the multipart field it came in (``image``, ``video``)


@contextmanager
def wiped(parts: list[ImagePart]) -> Iterator[list[ImagePart]]:
    """Zero the parts' bytes when the block ends, however it ends."""
    try:
        yield parts
    finally:
        for part in parts:
            if isinstance(part.data, bytearray):
                hashes.wipe(part.data)


def body_kind(request: Request) -> str:
    """``json`` or ``multipart``, from Content-Type; anything else is 415."""
    ctype, _ = parse_options_header(request.headers.get("content-type", ""))
    kind = ctype.decode("latin-1").lower()
    if kind in ("application/json", "") or kind.endswith("+json"):
        return "json"
    if kind == "multipart/form-data":
        return "multipart"
    raise UnsupportedMedia("send application/json (hashes) or multipart/form-data (images)")


async def read_model(request: Request, model: type[M]) -> M:
    """Parse the JSON body into ``model``; malformed JSON is 400, a wrong shape 422."""
    body = await request.body()
    if json_has_nul(body):
        raise InvalidInput(NUL_REFUSED)
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidInput("the body does not have the expected shape", errors=errors) from None


async def read_images(
    request: Request,
    *,
    field: str = "image",
    max_files: int,
    max_bytes: int,
    more: Mapping[str, int] | None = None,
) -> list[ImagePart]:
    """Every file part named ``field`` of a multipart body, held in memory only.

    ``more``: other file fields accepted, with their own byte limits (``{"video": n}``);
    ``max_files`` counts the parts of every field.
    """
    limits = {field: max_bytes, **(more or {})}
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart body without a boundary")
    parts: list[ImagePart] = []
    state: dict[str, Any] = {"headers": {}, "name": None, "buf": None, "hname": b""}

    def on_part_begin() -> None:
        state["headers"] = {}
        state["name"] = None
        state["buf"] = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        key = state["hname"].decode("latin-1").lower()
        state["headers"][key] = state["headers"].get(key, b"") + data[start:end]

    def on_header_end() -> None:
        state["hname"] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        buf: bytearray = state["buf"]
        if state["name"] is None:  # the part's headers are all read: its field decides
            _, opts = parse_options_header(state["headers"].get("content-disposition", b""))
            state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        name = state["name"]
        limit = limits.get(name, max_bytes)
        if len(buf) + (end - start) > limit:
            what = "a video" if name == "video" else "an image"
            raise PayloadTooLarge(f"{what} may be at most {limit} bytes")
        buf += data[start:end]

    def on_part_end() -> None:
        disposition = state["headers"].get("content-disposition", b"")
        _, opts = parse_options_header(disposition)
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if name in limits and filename is not None:
            if len(parts) >= max_files:
                raise InvalidInput(f"at most {max_files} files per request")
            parts.append(ImagePart(filename.decode("utf-8", "replace")[:200], state["buf"], name))
        else:
            hashes.wipe(state["buf"])
        state["buf"] = bytearray()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException as exc:  # cancelled too: what was read so far is zeroed
        with wiped(parts):
            if state["buf"] is not None:
                hashes.wipe(state["buf"])
        if isinstance(exc, PayloadTooLarge | InvalidInput) or not isinstance(exc, Exception):
            raise
        # python-multipart raises several error types
        raise BadRequest(f"malformed multipart body: {exc}") from None
    if state["buf"] is not None:
        hashes.wipe(state["buf"])  # an unfinished last part
    if not parts:
        fields = " or ".join(repr(f) for f in limits)
        raise InvalidInput(f"no file in the multipart field {fields}")
    return parts


def hash_inputs(items: Sequence[HashIn]) -> list[HashInput]:
    """The hashes of a JSON body as the services take them (a vpdq value sent as the
    list of frame strings becomes Meta's serialised text, which the type parses)."""
    return [
        HashInput(
            x["type"],
            x["value"] if isinstance(x["value"], str) else json.dumps(x["value"]),
            x.get("quality"),
            x.get("seconds"),
            x.get("part_of"),
        )
        for x in items
    ]
