"""Route of the hash feed for platforms that match on their own side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import problems
from app.api.schemas import MAX_ID, FeedItemOut, FeedOut
from app.services.clients import ClientView

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
) -> FeedOut:
    page = await run_sync(services.feed.page, after, limit)
    return FeedOut(
        items=[FeedItemOut.model_validate(i, from_attributes=True) for i in page.items],
        next_after=page.next_after,
        has_more=page.has_more,
    )
