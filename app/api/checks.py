"""Routes of platform checks: one upload's hashes or image, or a batch of hashes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import metrics
from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import BatchIn, BatchOut, CheckOut, HashesIn, MatchOut
from app.api.uploads import body_kind, read_images, read_model, wiped
from app.errors import InvalidInput
from app.services.checks import CheckResult
from app.services.clients import ClientView
from app.services.images import hash_image
from app.services.inputs import HashInput, from_hashes, validate_hashes

router = APIRouter(prefix="/v1/check", tags=["checks"])

MAX_CHECK_HASHES = 64
INLINE_SEARCH_HASHES = 64  # bigger batches are searched in a worker thread
NO_MATCH = CheckOut(match=False, action="none", matches=[]).model_dump_json().encode()


def _out(result: CheckResult, client: ClientView) -> CheckOut:
    exact = client.exact_distances
    return CheckOut(
        match=result.match,
        action=result.action,
        matches=[
            MatchOut(
                signal_type=m.signal_type,
                band=m.band,
                distance=m.distance if exact else None,
                bank=m.bank,
                match_id=m.match_id,
            )
            for m in result.matches
        ],
    )


@router.post(
    "",
    response_model=CheckOut,
    summary="Check one upload (its hashes, or the image hashed in memory) against the bank",
    responses=problems(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=json_body(HashesIn, multipart=True),
)
async def check(
    request: Request, services: ServicesDep, client: ClientView = require("check")
) -> CheckOut | Response:
    services.checks.refuse_prober(client.id)  # a dict look-up; empty unless someone probed
    s = services.settings
    if body_kind(request) == "multipart":
        parts = await read_images(request, max_files=1, max_bytes=s.max_image_bytes)
        with wiped(parts):
            async with services.decodes.hold():
                h = await run_sync(
                    hash_image,
                    parts[0].data,
                    max_bytes=s.max_image_bytes,
                    max_pixels=s.max_image_pixels,
                    density=s.pdq_variants,
                )
        parts.clear()
        items = from_hashes(h, stored=False, types=services.types)
    else:
        body = await read_model(request, HashesIn)
        if len(body.hashes) > MAX_CHECK_HASHES:
            raise InvalidInput(f"a check holds at most {MAX_CHECK_HASHES} hashes (one upload)")
        items = validate_hashes(
            (HashInput(x["type"], x["value"]) for x in body.hashes), services.types
        )
    found = services.checks.find(items)  # in memory, microseconds: no thread hop
    if not found:
        metrics.CHECKS_NONE.inc()
        return Response(NO_MATCH, media_type="application/json")  # the common answer, ready-made
    result = await run_sync(services.checks.record, [found], client.id)
    _count(result)
    return _out(result[0], client)


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
    services.checks.refuse_prober(client.id)
    if body_kind(request) != "json":
        raise InvalidInput('a batch is JSON: {"items": [{"hashes": [...]}, ...]}')
    body = await read_model(request, BatchIn)
    batch = [
        validate_hashes((HashInput(x["type"], x["value"]) for x in item["hashes"]), services.types)
        for item in body.items
    ]
    # one index search per signal type; a big batch searches off the event loop (the
    # kernels release the GIL), so that single checks on this process keep flowing
    if sum(len(item) for item in batch) > INLINE_SEARCH_HASHES:
        found = await run_sync(services.checks.find_many, batch)
    else:
        found = services.checks.find_many(batch)
    if not any(found):  # the common answer, from ready-made bytes
        metrics.CHECKS_NONE.inc(len(found))
        return Response(
            b'{"results":[' + b",".join([NO_MATCH] * len(found)) + b"]}",
            media_type="application/json",
        )
    results = await run_sync(services.checks.record, found, client.id)
    _count(results)
    return BatchOut(results=[_out(r, client) for r in results])


def _count(results: list[CheckResult]) -> None:
    matched = [r for r in results if r.match]
    metrics.CHECKS_NONE.inc(len(results) - len(matched))
    metrics.CHECKS_MATCH.inc(len(matched))
    for r in matched:
        metrics.MATCHES.labels(r.action).inc()
