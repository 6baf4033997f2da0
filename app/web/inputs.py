"""Bad input refused at the edge, the same way for every route (API, dashboard, portal).

- A NUL character: PostgreSQL cannot store or compare text holding one, and psycopg
  refuses to send it (a 500, before this). :func:`refuse_nul` looks at the path, the query
  string, the headers and, outside ``/v1``, form bodies, for every route (an app-wide
  dependency); JSON bodies are looked at where the API reads them
  (``app.api.uploads.read_model``, :func:`json_has_nul`).
- Integer ids beyond the database's integers (an ``OverflowError`` on SQLite, "integer out
  of range" on PostgreSQL): path ids are typed :data:`Id32` or :data:`Id64`, bounded by
  the column they are looked up in, so a larger one is a 422 before any query.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from starlette.types import Scope

from app.errors import InvalidInput

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "NUL_REFUSED",
    "Id32",
    "Id64",
    "json_has_nul",
    "refuse_nul",
    "refuse_nul_in_head",
]

INT32_MAX = 2**31 - 1  # INTEGER on PostgreSQL: ids of cases, clients, users, banks
INT64_MAX = 2**63 - 1  # BIGINT: ids of signals, matches, audit events, the change log
Id32 = Annotated[int, Path(ge=1, le=INT32_MAX)]
Id64 = Annotated[int, Path(ge=1, le=INT64_MAX)]
NUL_REFUSED = "text may not contain a NUL character"
_FORM = b"application/x-www-form-urlencoded"


def refuse_nul_in_head(scope: Scope) -> bytes:
    """Refuse (422) a request with a NUL character in its path, query string or a header;
    return its media type (lower case, no parameters). A plain call, a few microseconds:
    the check routes make it from their authentication instead of paying for one more
    FastAPI dependency (~30 µs, 8 % of a hash check).

    Raises:
        InvalidInput: there is one.
    """
    query: bytes = scope.get("query_string", b"")
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        raise InvalidInput(NUL_REFUSED)
    media = b""
    for name, value in scope["headers"]:
        if b"\x00" in value:
            raise InvalidInput(NUL_REFUSED)
        if name == b"content-type":
            media = value.partition(b";")[0].strip().lower()
    return media


async def refuse_nul(request: Request) -> None:
    """Refuse (422) a request with a NUL character in its path, query string, a header
    or, outside the API, its form body (the dependency of every router but the checks').

    Raises:
        InvalidInput: there is one.
    """
    scope = request.scope
    media = refuse_nul_in_head(scope)
    # forms are small (the dashboard's and the portal's); the API takes none, and its
    # bodies are read only after authentication
    if media == _FORM and not scope["path"].startswith("/v1/"):
        body = await request.body()
        if b"%00" in body or b"\x00" in body:
            raise InvalidInput(NUL_REFUSED)


def json_has_nul(body: bytes) -> bool:
    """Whether a JSON text may hold a NUL character (escaped: a raw one is not JSON).

    A text holding a backslash then ``u0000`` is refused too; no field of the API has a
    use for one."""
    return b"\\u0000" in body
