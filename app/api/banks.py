"""Routes of banks (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import BankIn, BankOut
from app.api.uploads import read_model
from app.services.clients import ClientView

router = APIRouter(prefix="/v1/banks", tags=["banks"])


@router.get("", response_model=list[BankOut], summary="List banks", responses=problems(401, 403))
async def list_banks(services: ServicesDep, client: ClientView = require("admin")) -> list[BankOut]:
    banks = await run_sync(services.banks.list)
    return [BankOut.model_validate(b, from_attributes=True) for b in banks]


@router.post(
    "",
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
        pdq_threshold=body.pdq_threshold,
        phash_threshold=body.phash_threshold,
    )
    return JSONResponse(
        BankOut.model_validate(bank, from_attributes=True).model_dump(), status_code=201
    )
