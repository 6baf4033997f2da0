"""Route of the hash feed for platforms that match on their own side."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import MAX_ID, FeedFeedbackIn, FeedFeedbackOut, FeedOut
from app.api.uploads import read_model
from app.services.clients import ClientView
from app.services.feed import FeedPage

router = APIRouter(prefix="/v1/feed", tags=["feed"])


@router.get(
    "",
    response_model=FeedOut,
    summary="The change log of hashes: additions, status changes and tombstones, by sequence",
    responses=problems(401, 403, 422, 429),
)
async def feed(
    services: ServicesDep,
    client: ClientView = require("feed"),
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Return changes after this sequence number.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Page size.")] = 1000,
) -> Response:
    page = await run_sync(services.feed.page, after, limit)
    return Response(_page_json(page), media_type="application/json")


def _page_json(page: FeedPage) -> bytes:
    """``FeedOut``'s JSON, byte for byte, written by orjson from the service's dataclasses:
    a page of 10,000 changes in a thirtieth of pydantic's time (a platform's full fetch
    is paging this; tests/app/test_tx_extension.py holds the bytes to FeedOut's)."""
    body = {"items": page.items, "next_after": page.next_after, "has_more": page.has_more}
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


@router.post(
    "/feedback",
    response_model=FeedFeedbackOut,
    summary="Feedback on a feed hash from a platform that matches on its own side",
    responses=problems(400, 401, 403, 404, 413, 422, 429),
    openapi_extra=json_body(FeedFeedbackIn),
)
async def feed_feedback(
    request: Request,
    services: ServicesDep,
    client: ClientView = require("feed"),
) -> FeedFeedbackOut:
    body = await read_model(request, FeedFeedbackIn)
    n = await run_sync(
        services.matches.feedback_on_hash,
        body.type,
        body.value,
        body.feedback,
        client_id=client.id,
        client_name=client.name,
    )
    return FeedFeedbackOut(feedback=body.feedback, hashes=n)
