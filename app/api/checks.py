"""Routes of platform checks: one upload's hashes or image, or a batch of hashes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from app.api.deps import ServicesDep, require
from app.api.problems import json_body, problems
from app.api.schemas import BatchIn, BatchOut, CheckOut, HashesIn, MatchOut, VideoMatchOut
from app.api.uploads import body_kind, hash_inputs, read_images, read_model, wiped
from app.errors import InvalidInput
from app.services.checks import CheckResult
from app.services.clients import ClientView
from app.services.videos import VideoDetail

router = APIRouter(prefix="/v1/check", tags=["checks"])

NO_MATCH = CheckOut(match=False, action="none", matches=[]).model_dump_json().encode()


def _out(result: CheckResult, client: ClientView) -> CheckOut:
    exact = client.exact_distances
    return CheckOut(
        match=result.match,
        action=result.action,
        matches=[
            (MatchOut if m.video is None else VideoMatchOut)(
                signal_type=m.signal_type,
                band=m.band,
                distance=m.distance if exact else None,
                bank=m.bank,
                match_id=m.match_id,
                **_video(m.video),
            )
            for m in result.matches
        ],
    )


def _video(detail: VideoDetail | None) -> dict[str, Any]:
    if detail is None:
        return {}
    return {
        "seconds": detail.seconds,
        "interval": detail.interval,
        "query_interval": detail.query_interval,
        "query_percent": detail.query_percent,
        "stored_percent": detail.stored_percent,
    }


@router.post(
    "",
    response_model=CheckOut,
    summary="Check one upload (its hashes, or the image or video hashed in memory) against "
    "the bank",
    responses=problems(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=json_body(HashesIn, multipart=True),
)
async def check(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> CheckOut | Response:
    # a client serving a probing penalty was refused with its authentication (before the
    # body is read); the use case decides the rest (budget, variants, threads)
    if body_kind(request) == "multipart":
        s = services.settings
        parts = await read_images(
            request, max_files=1, max_bytes=s.max_image_bytes, more={"video": s.max_video_bytes}
        )
        with wiped(parts):
            if parts[0].field == "video":
                result = await services.checker.check_video(parts[0].data, client.id)
            else:
                result = await services.checker.check_image(parts[0].data, client.id)
        parts.clear()
    else:
        body = await read_model(request, HashesIn)
        items = hash_inputs(body.hashes)
        result = await services.checker.check_hashes(items, client.id)
    if result is None:
        return Response(NO_MATCH, media_type="application/json")  # the common answer, ready-made
    return _out(result, client)


@router.post(
    "/batch",
    response_model=BatchOut,
    summary="Check up to 1,000 uploads' hashes in one call; one result per item, in order",
    responses=problems(400, 401, 403, 413, 415, 422, 429),
    openapi_extra=json_body(BatchIn),
)
async def check_batch(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> BatchOut | Response:
    if body_kind(request) != "json":
        raise InvalidInput('a batch is JSON: {"items": [{"hashes": [...]}, ...]}')
    body = await read_model(request, BatchIn)
    batch = [hash_inputs(item["hashes"]) for item in body.items]
    results = await services.checker.check_batch(batch, client.id)
    if results is None:  # the common answer, from ready-made bytes
        return Response(
            b'{"results":[' + b",".join([NO_MATCH] * len(batch)) + b"]}",
            media_type="application/json",
        )
    return BatchOut(results=[_out(r, client) for r in results])
