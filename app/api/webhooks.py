"""Routes of platforms' webhooks (admin scope): endpoints, deliveries, redelivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import (
    MAX_ID,
    DeliveryOut,
    NewWebhookOut,
    WebhookIn,
    WebhookOut,
    WebhookSecretOut,
)
from app.api.uploads import read_model
from app.services.clients import ClientView
from app.web.inputs import Id32, Id64

router = APIRouter(prefix="/v1", tags=["webhooks"])


def _actor(client: ClientView) -> str:
    return f"client:{client.name}"


@router.post(
    "/webhooks",
    status_code=201,
    response_model=NewWebhookOut,
    summary="Give a platform a webhook endpoint (its signing secret is shown once)",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra=json_body(WebhookIn),
)
async def add_webhook(
    request: Request, services: ServicesDep, client: ClientView = require("admin")
) -> JSONResponse:
    body = await read_model(request, WebhookIn)
    new = await run_sync(
        services.webhooks.add, body.client, body.url, body.events, actor=_actor(client)
    )
    out = NewWebhookOut.model_validate({**vars(new.endpoint), "secret": new.secret})
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.get(
    "/webhooks",
    response_model=list[WebhookOut],
    summary="List webhook endpoints (never their secrets)",
    responses=problems(401, 403),
)
async def list_webhooks(
    services: ServicesDep, client: ClientView = require("admin")
) -> list[WebhookOut]:
    views = await run_sync(services.webhooks.list)
    return [WebhookOut.model_validate(v, from_attributes=True) for v in views]


@router.delete(
    "/webhooks/{endpoint_id}",
    status_code=204,
    summary="Remove a webhook endpoint and its delivery history",
    responses=problems(401, 403, 404, 422),
)
async def remove_webhook(
    endpoint_id: Id32, services: ServicesDep, client: ClientView = require("admin")
) -> Response:
    await run_sync(services.webhooks.remove, endpoint_id, actor=_actor(client))
    return Response(status_code=204)


@router.post(
    "/webhooks/{endpoint_id}/rotate",
    response_model=WebhookSecretOut,
    summary="Rotate an endpoint's signing secret (both sign for 24 hours)",
    responses=problems(401, 403, 404, 422),
)
async def rotate_webhook(
    endpoint_id: Id32, services: ServicesDep, client: ClientView = require("admin")
) -> WebhookSecretOut:
    secret = await run_sync(services.webhooks.rotate, endpoint_id, actor=_actor(client))
    return WebhookSecretOut(secret=secret)


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="An endpoint's deliveries, newest first (status, attempts, latency, last error)",
    responses=problems(401, 403, 404, 422),
)
async def list_deliveries(
    endpoint_id: Id32,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    client: ClientView = require("admin"),
) -> list[DeliveryOut]:
    views = await run_sync(services.webhooks.deliveries, endpoint_id, limit, before)
    return [DeliveryOut.model_validate(v, from_attributes=True) for v in views]


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery's changes, and every later one, again (in order)",
    responses=problems(401, 403, 404, 422),
)
async def redeliver(
    endpoint_id: Id32,
    delivery_id: Id64,
    services: ServicesDep,
    client: ClientView = require("admin"),
) -> Response:
    await run_sync(services.webhooks.redeliver, endpoint_id, delivery_id, actor=_actor(client))
    return Response(status_code=202)
