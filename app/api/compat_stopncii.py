"""Routes of StopNCII's partner API (``/compat/stopncii/v1``), the shape
python-threatexchange's ``StopNCIIAPI`` speaks: a platform that pulls StopNCII points its
base URL here and uses a hashbank key as its function key (docs/integrations.md).

The key comes in ``x-functions-key`` (else ``Authorization: Bearer``, else
``Ocp-Apim-Subscription-Key``) and is checked exactly as on ``/v1``. Errors are
problem+json like the rest of hashbank (StopNCII publishes no error body; its client
reads only the status code).
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ServicesDep, require_key_header, run_sync
from app.api.problems import json_body, problems
from app.api.uploads import read_model
from app.services.clients import ClientView
from app.services.stopncii import MAX_TIMESTAMP, CSPFeedbackValue, HashFeedbackIn

router = APIRouter(prefix="/compat/stopncii/v1", tags=["compat: StopNCII"])

FUNCTION_KEY = "x-functions-key"
SUBSCRIPTION_KEY = "ocp-apim-subscription-key"

Tag = Annotated[str, Field(max_length=100)]


def _key(scope: str):  # type: ignore[no-untyped-def]
    return require_key_header(scope, FUNCTION_KEY, SUBSCRIPTION_KEY)


class CSPFeedbackOut(BaseModel):
    feedbackValue: str
    tags: list[str]
    source: str = Field(description="The platform (its client name): only your own is sent.")


class HashRecordOut(BaseModel):
    lastModtimestamp: int = Field(description="Unix seconds of the hash's last change.")
    signalType: str = Field(examples=["ImagePDQ"])
    hashValue: str
    hashStatus: Literal["Active", "Received", "Withdrawn", "Deleted"]
    caseNumbers: dict[str, str] = Field(
        description="Opaque token of each case holding the hash (never a case id) -> "
        "that case's status."
    )
    CSPFeedbacks: list[CSPFeedbackOut]


class FetchHashesOut(BaseModel):
    count: int
    nextPageToken: str
    nextSetTimestamp: int = Field(description="Store it as your checkpoint (startTimestamp).")
    hasMoreRecords: bool
    hashRecords: list[HashRecordOut]


class CSPFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    feedbackValue: CSPFeedbackValue
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class HashFeedbackItemIn(CSPFeedbackIn):
    hashValue: str = Field(max_length=128)


class SubmitFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    count: int | None = None
    hashFeedbacks: list[HashFeedbackItemIn] = Field(min_length=1, max_length=1000)


class SubmittedHashIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    lastModtimestamp: int | None = None
    signalType: str = Field(max_length=64)
    hashValue: str = Field(max_length=128)
    CSPFeedbacks: list[CSPFeedbackIn] = Field(default_factory=list, max_length=20)


class SubmitHashesIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    count: int | None = None
    hashRecords: list[SubmittedHashIn] = Field(min_length=1, max_length=10_000)


class SubmitOut(BaseModel):
    count: int = Field(description="How many were recorded.")


@router.get(
    "/FetchHashes",
    response_model=FetchHashesOut,
    summary="StopNCII FetchHashes: hash records changed since a time, page by page",
    responses=problems(400, 401, 403, 422, 429),
)
async def fetch_hashes(
    services: ServicesDep,
    client: ClientView = _key("feed"),
    startTimestamp: Annotated[
        int,
        Query(ge=0, le=MAX_TIMESTAMP, description="Unix seconds: changes at or after it."),
    ] = 10,
    pageSize: Annotated[int, Query(ge=1, le=1000, description="Records per page.")] = 1000,
    nextPageToken: Annotated[
        str, Query(max_length=100, description="From the previous page.")
    ] = "",
) -> Response:
    page = await run_sync(
        services.stopncii.fetch,
        startTimestamp,
        pageSize,
        nextPageToken or None,
        client_id=client.id,
        client_name=client.name,
    )
    # the page's dataclasses straight to JSON: validating 1,000 records against the
    # response model would cost more than reading them (FetchHashesOut documents them)
    return Response(orjson.dumps(page), media_type="application/json")


@router.post(
    "/SubmitFeedback",
    response_model=SubmitOut,
    summary="StopNCII SubmitFeedback: what the platform did about hashes (Blocked, ...)",
    responses=problems(400, 401, 403, 422, 429),
    openapi_extra=json_body(SubmitFeedbackIn),
)
async def submit_feedback(
    request: Request, services: ServicesDep, client: ClientView = _key("feed")
) -> SubmitOut:
    body = await read_model(request, SubmitFeedbackIn)
    items = [HashFeedbackIn(f.hashValue, f.feedbackValue, f.tags) for f in body.hashFeedbacks]
    recorded = await run_sync(
        services.stopncii.submit_feedback, items, client_id=client.id, client_name=client.name
    )
    return SubmitOut(count=recorded)


@router.post(
    "/SubmitHashes",
    response_model=SubmitOut,
    summary="StopNCII SubmitHashes: report hashes as one pending case (report scope)",
    responses=problems(400, 401, 403, 422, 429),
    openapi_extra=json_body(SubmitHashesIn),
)
async def submit_hashes(
    request: Request, services: ServicesDep, client: ClientView = _key("report")
) -> SubmitOut:
    body = await read_model(request, SubmitHashesIn)
    records = [
        (
            r.signalType,
            r.hashValue,
            [HashFeedbackIn(r.hashValue, f.feedbackValue, f.tags) for f in r.CSPFeedbacks],
        )
        for r in body.hashRecords
    ]
    new = await run_sync(
        services.stopncii.submit_hashes,
        records,
        client_id=client.id,
        client_name=client.name,
        limit=services.settings.max_hashes_per_case,
    )
    return SubmitOut(count=new.hashes)
