"""atheris harness: the in-memory multipart parser of image uploads (``app.api.uploads``).

``read_images`` runs on a real Starlette ``Request`` whose body arrives in chunks cut at
fuzzed places. Two kinds of input, chosen by the first byte:

- raw: any Content-Type and body. Only the documented refusals may escape
  (``BadRequest`` 400, ``PayloadTooLarge`` 413, ``InvalidInput`` 422), and what is
  accepted keeps the limits (file count, bytes per file, filename length).
- built: a well-formed body of fuzzed parts (names, filenames, headers, bytes, boundary).
  The parser must give back exactly the ``image`` file parts, byte for byte, in order,
  or refuse for a documented reason (too many, too large, none).

Run it for a bounded time::

    .venv/bin/python tests/fuzz/fuzz_multipart.py -max_total_time=60
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Coroutine
from typing import Any

import _common  # noqa: F401  (puts the repo on sys.path)
import atheris

with atheris.instrument_imports(include=["app.api.uploads", "python_multipart"]):
    from starlette.requests import Request

    from app.api.uploads import ImagePart, read_images
    from app.errors import BadRequest, InvalidInput, PayloadTooLarge

# python-multipart logs every malformed byte it skips: millions of lines in a run
logging.getLogger("python_multipart").setLevel(logging.CRITICAL)

MAX_FILES = 3
MAX_BYTES = 2048
BOUNDARY_CHARS = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"


def _request(content_type: bytes, chunks: list[bytes]) -> Request:
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks or [b""])
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/check",
        "headers": [(b"content-type", content_type)],
        "query_string": b"",
    }
    return Request(scope, receive)


def _run(coro: Coroutine[Any, Any, list[ImagePart]]) -> list[ImagePart]:
    """Drive the coroutine to its end: nothing in it waits on real I/O."""
    try:
        while True:
            coro.send(None)
    except StopIteration as done:
        return list(done.value)


def _cut(fdp: atheris.FuzzedDataProvider, body: bytes) -> list[bytes]:
    cuts = sorted({fdp.ConsumeIntInRange(0, len(body)) for _ in range(fdp.ConsumeIntInRange(0, 4))})
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def _parse(content_type: bytes, chunks: list[bytes]) -> list[ImagePart] | Exception:
    try:
        return _run(
            read_images(_request(content_type, chunks), max_files=MAX_FILES, max_bytes=MAX_BYTES)
        )
    except (BadRequest, PayloadTooLarge, InvalidInput) as exc:
        return exc


def _check_limits(parts: list[ImagePart]) -> None:
    assert 1 <= len(parts) <= MAX_FILES
    for p in parts:
        assert len(p.data) <= MAX_BYTES and len(p.filename) <= 200


def _raw(fdp: atheris.FuzzedDataProvider) -> None:
    content_type = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120))
    if fdp.ConsumeBool():
        content_type = b"multipart/form-data; boundary=" + content_type
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    result = _parse(content_type, _cut(fdp, body) if body else [])
    if isinstance(result, list):
        _check_limits(result)


def _built(fdp: atheris.FuzzedDataProvider) -> None:
    boundary = bytes(
        BOUNDARY_CHARS[b % len(BOUNDARY_CHARS)]
        for b in fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 70))
    )
    if not boundary or boundary.endswith(b" "):
        return
    body = b""
    expected: list[tuple[str, bytes]] = []
    sizes_ok = True
    for _ in range(fdp.ConsumeIntInRange(0, 5)):
        name = fdp.PickValueInList([b"image", b"image", b"other", b"img", b""])
        filename = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24))
        has_filename = fdp.ConsumeBool()
        data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3000))
        delimiter = b"\r\n--" + boundary
        if delimiter in b"\r\n" + data or any(c in filename for c in b'"\r\n\\;'):
            return  # not a well-formed body: the raw mode covers such inputs
        disposition = b'form-data; name="' + name + b'"'
        if has_filename:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        if fdp.ConsumeBool():
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + data + b"\r\n"
        if name == b"image" and has_filename:
            expected.append((filename.decode("utf-8", "replace")[:200], data))
            sizes_ok = sizes_ok and len(data) <= MAX_BYTES
        elif len(data) > MAX_BYTES:
            sizes_ok = False  # the byte cap applies to every part, file or not
    body += b"--" + boundary + b"--\r\n"
    result = _parse(b'multipart/form-data; boundary="' + boundary + b'"', _cut(fdp, body))
    if isinstance(result, list):
        assert [(p.filename, p.data) for p in result] == expected, (result, expected)
        _check_limits(result)
    elif isinstance(result, PayloadTooLarge):
        assert not sizes_ok, result
    elif isinstance(result, InvalidInput):
        assert not expected or len(expected) > MAX_FILES, (result, expected)
    else:
        raise AssertionError(f"a well-formed body was refused: {result!r}")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        _built(fdp)
    else:
        _raw(fdp)


def seeds() -> dict[str, bytes]:
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0JFIF\r\n--xyz--\r\n"
    )
    return {
        "raw-valid": b"\x00\x10" + b"xyz" + b"\x01" + body,
        "raw-empty": b"\x00",
        "built-small": bytes(range(256)),
        "built-large": bytes(range(256)) * 16,
    }


def main() -> None:
    from _common import argv_with_seeds

    atheris.Setup(argv_with_seeds(sys.argv, seeds), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
