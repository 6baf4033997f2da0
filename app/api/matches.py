"""Route of platform feedback on a match."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import MAX_ID, FeedbackIn, FeedbackOut
from app.api.uploads import read_model
from app.services.clients import ClientView

router = APIRouter(prefix="/v1/matches", tags=["matches"])


@router.post(
    "/{match_id}/feedback",
    response_model=FeedbackOut,
    summary="Say what the platform did with a match: blocked, not_blocked or false_positive",
    responses=problems(400, 401, 403, 404, 409, 422),
    openapi_extra=json_body(FeedbackIn),
)
async def feedback(
    match_id: Annotated[int, Path(ge=1, le=MAX_ID, description="From a check's answer.")],
    request: Request,
    services: ServicesDep,
    client: ClientView = require("check"),
) -> FeedbackOut:
    body = await read_model(request, FeedbackIn)
    value = await run_sync(
        services.matches.feedback,
        match_id,
        body.feedback,
        client_id=client.id,
        client_name=client.name,
    )
    return FeedbackOut(match_id=match_id, feedback=value)
