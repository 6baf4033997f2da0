"""HMA-compatible routes (``/compat/hma``): HMA's matching and hashing API on the check path.

Code written against Hasher-Matcher-Actioner's OpenMediaMatch API (1.1) works by changing
its base URL to ``<hashbank>/compat/hma`` and sending ``Authorization: Bearer <key>``:

- ``GET /m/raw_lookup?signal=&signal_type=[&include_distance=true]`` ->
  ``{"matches": [content_id, ...]}``, or with distances
  ``{"matches": [{"bank_content_id", "content_id", "distance", "action"}]}``;
- ``GET /m/lookup?signal=&signal_type=`` -> ``{bank: [match, ...]}``;
- ``POST /m/lookup`` (multipart, the file in the field ``photo``) ->
  ``{signal_type: {bank: [match, ...]}}``;
- ``GET /m/index/status[?signal_type=]`` -> ``{signal_type: {"present", "built_to", "size"}}``;
- ``POST /h/hash`` (multipart ``photo``) -> ``{signal_type: value}``.

Errors are HMA's: ``{"message": "..."}`` with HMA's status codes (400 for every bad
parameter, signal or upload where hashbank's own API says 422; 503 while the index is not
loaded). Every look-up is a check (:mod:`app.services.hma`); docs/integrations.md has the
rest.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep, require
from app.api.uploads import ImagePart, read_images, wiped
from app.errors import BadRequest
from app.services.clients import ClientView
from app.services.hma import HmaMatch
from app.web.errors import Pages, Problem

__all__ = ["ERRORS", "PREFIX", "router"]

PREFIX = "/compat/hma"
FIELD = "photo"  # HMA names the multipart field after the content type
router = APIRouter(prefix=PREFIX, tags=["compat: HMA"])

NO_MATCHES = b'{"matches":[]}'  # the common answer, ready-made


def _errors(request: Request, problem: Problem) -> Response:
    # HMA's api_error_handler: {"message": ...}; HMA (Flask) answers 400 where FastAPI
    # and hashbank's own API say 422
    status = 400 if problem.status == 422 else problem.status
    return JSONResponse(
        {"message": problem.detail}, status_code=status, headers=dict(problem.headers)
    )


ERRORS = Pages(lambda path: path.startswith(PREFIX + "/"), _errors, every=True)

_ERRORS_DOC: dict[int | str, dict[str, Any]] = {
    code: {
        "description": text,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"message": {"type": "string"}}}
            }
        },
    }
    for code, text in {
        400: "A missing or invalid parameter, signal type, signal or upload",
        401: "Missing, invalid or revoked API key",
        403: "The API key lacks the check scope",
        413: "Image over the size limit",
        429: "Rate limited, or the key is probing (see Retry-After)",
        503: "The index is not loaded yet, or the server is busy decoding images",
    }.items()
}


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                    "required": [FIELD],
                }
            }
        },
    }
}


def _query(*params: tuple[str, bool, str]) -> dict[str, Any]:
    """``openapi_extra`` declaring the query parameters a route reads itself (HMA's names;
    read by hand so that a bad one is HMA's 400, not FastAPI's validation error)."""
    return {
        "parameters": [
            {"name": n, "in": "query", "required": req, "schema": {"type": "string"},
             "description": d}
            for n, req, d in params
        ]
    }  # fmt: skip


_SIGNAL = ("signal", True, "The hash, as text (PDQ: 64 hex digits)")
_TYPE = ("signal_type", True, "The signal type's name, as /m/index/status lists them (pdq)")
_BANKS = ("banks", False, "Only these banks' matches (comma-separated names)")
_COIN = ("bypass_coinflip", False, "Accepted (true/false/1/0); every bank always matches")


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None:
        raise BadRequest(f"{name} is required")
    return value


def _flag(request: Request, name: str) -> bool:
    """HMA's ``str_to_bool``: true/1, false/0 (any case), else 400."""
    text = request.query_params.get(name, "false").lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise BadRequest("invalid boolean parameter - prefer true/false")


def _banks(request: Request) -> set[str] | None:
    """HMA's optional ``banks`` filter (comma-separated names), or None for all."""
    text = request.query_params.get("banks")
    return set(text.split(",")) if text else None


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _with_distance(m: HmaMatch) -> dict[str, Any]:
    # bank_content_id: current HMA's name; content_id: its name in earlier 1.0 releases
    return {
        "bank_content_id": m.content_id,
        "content_id": m.content_id,
        "distance": m.distance,
        "action": m.action,
    }


def _by_bank(matches: list[HmaMatch], banks: set[str] | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in matches:
        if banks is None or m.bank in banks:
            out.setdefault(m.bank, []).append(_with_distance(m))
    return out


def _refuse_url(request: Request) -> None:
    if "url" in request.query_params:
        raise BadRequest("url is not supported: hashbank fetches no media; POST the file instead")


@router.get(
    "/m/raw_lookup",
    summary="HMA: check one hash; the matched content ids (with distances on request)",
    responses=_ERRORS_DOC,
    openapi_extra=_query(
        _SIGNAL,
        _TYPE,
        ("include_distance", False, "true/1: matches as objects with a distance (false/0)"),
        _BANKS,
    ),
)
async def raw_lookup(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> Response:
    signal = _param(request, "signal")
    signal_type = _param(request, "signal_type")
    include_distance = _flag(request, "include_distance")
    banks = _banks(request)
    matches = await services.hma.lookup_hash(
        signal, signal_type, client.id, exact=client.exact_distances
    )
    if banks is not None:
        matches = [m for m in matches if m.bank in banks]
    if not matches:
        return Response(NO_MATCHES, media_type="application/json")
    if include_distance:
        return _json({"matches": [_with_distance(m) for m in matches]})
    return _json({"matches": [m.content_id for m in matches]})


@router.get(
    "/m/lookup",
    summary="HMA: check one hash; its matches by bank",
    responses=_ERRORS_DOC,
    openapi_extra=_query(_SIGNAL, _TYPE, _BANKS, _COIN, ("seed", False, "Accepted, unused")),
)
async def lookup_get(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> Response:
    _refuse_url(request)
    signal = request.query_params.get("signal")
    signal_type = request.query_params.get("signal_type")
    if not signal or not signal_type:
        raise BadRequest("Either url or both signal and signal_type are required")
    _flag(request, "bypass_coinflip")  # every bank always matches here: nothing to bypass
    matches = await services.hma.lookup_hash(
        signal, signal_type, client.id, exact=client.exact_distances
    )
    return _json(_by_bank(matches, _banks(request)))


@router.post(
    "/m/lookup",
    summary="HMA: hash an uploaded image in memory and check it; matches by type and bank",
    responses=_ERRORS_DOC,
    openapi_extra=_UPLOAD_DOC,
)
async def lookup_post(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> Response:
    banks = _banks(request)
    _flag(request, "bypass_coinflip")
    parts = await _upload(request, services.settings.max_image_bytes)
    with wiped(parts):
        found = await services.hma.lookup_image(
            parts[0].data, client.id, exact=client.exact_distances
        )
    parts.clear()
    return _json({name: _by_bank(matches, banks) for name, matches in found.items()})


@router.get(
    "/m/index/status",
    summary="HMA: whether each signal type's index is loaded, when it caught up, its size",
    responses=_ERRORS_DOC,
    openapi_extra=_query(("signal_type", False, "Only this signal type")),
)
async def index_status(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> Response:
    status = services.hma.index_status(request.query_params.get("signal_type"))
    return _json(
        {
            name: {"present": s.present, "built_to": s.built_to, "size": s.size}
            for name, s in status.items()
        }
    )


@router.post(
    "/h/hash",
    summary="HMA: hash an uploaded image in memory (nothing checked, nothing kept)",
    responses=_ERRORS_DOC,
    openapi_extra=_UPLOAD_DOC,
)
async def hash_post(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> Response:
    parts = await _upload(request, services.settings.max_image_bytes)
    with wiped(parts):
        values = await services.hma.hash_image(parts[0].data)
    parts.clear()
    return _json(values)


async def _upload(request: Request, max_bytes: int) -> list[ImagePart]:
    """The one file of the field ``photo``, in memory (HMA: one file per request)."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise BadRequest("Missing multipart/form-data file upload")
    return await read_images(request, field=FIELD, max_files=1, max_bytes=max_bytes)
