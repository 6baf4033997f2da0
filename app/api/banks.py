"""Routes of banks and of stored hashes held in quarantine (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import MAX_ID, BankIn, BankOut, QuarantineOut
from app.api.uploads import read_model
from app.services.banks import VideoSettings
from app.services.clients import ClientView
from app.services.quarantine import QuarantineService

router = APIRouter(prefix="/v1", tags=["banks"])


@router.get(
    "/banks", response_model=list[BankOut], summary="List banks", responses=problems(401, 403)
)
async def list_banks(services: ServicesDep, client: ClientView = require("admin")) -> list[BankOut]:
    banks = await run_sync(services.banks.list)
    return [BankOut.model_validate(b, from_attributes=True) for b in banks]


@router.post(
    "/banks",
    status_code=201,
    response_model=BankOut,
    summary="Create a bank",
    responses=problems(400, 401, 403, 409, 422),
    openapi_extra=json_body(BankIn),
)
async def create_bank(
    request: Request, services: ServicesDep, client: ClientView = require("admin")
) -> JSONResponse:
    body = await read_model(request, BankIn)
    bank = await run_sync(
        services.banks.create,
        body.name,
        body.policy,
        actor=f"client:{client.name}",
        description=body.description,
        thresholds=body.all_thresholds(),
        phash_block=body.phash_block,
        video=VideoSettings(**body.video.model_dump()),
    )
    return JSONResponse(
        BankOut.model_validate(bank, from_attributes=True).model_dump(), status_code=201
    )


@router.get(
    "/quarantine",
    response_model=list[QuarantineOut],
    summary="Stored hashes quarantined for matching far more than a victim's image would",
    responses=problems(401, 403),
)
async def list_quarantine(
    services: ServicesDep, client: ClientView = require("admin")
) -> list[QuarantineOut]:
    views = await run_sync(
        QuarantineService(services.db, services.replica, services.feed.groups).list
    )
    return [QuarantineOut.model_validate(v, from_attributes=True) for v in views]


@router.post(
    "/quarantine/{signal_id}/release",
    response_model=QuarantineOut,
    summary="Release a quarantined hash: it acts as its case says again, and stays exempt",
    responses=problems(401, 403, 404, 409, 422),
)
async def release_quarantine(
    signal_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    services: ServicesDep,
    client: ClientView = require("admin"),
) -> QuarantineOut:
    service = QuarantineService(services.db, services.replica, services.feed.groups)
    view = await run_sync(service.release, signal_id, actor=f"client:{client.name}")
    return QuarantineOut.model_validate(view, from_attributes=True)
