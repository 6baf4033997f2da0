"""Routes of reports: create a case, follow it, add hashes, withdraw it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

import hashes
from app.api.deps import ServicesDep, optional_client, run_sync
from app.api.problems import json_body, problems
from app.api.schemas import CaseOut, HashesIn, NewCaseOut
from app.api.uploads import ImagePart, body_kind, hash_inputs, read_images, read_model, wiped
from app.config import Settings
from app.errors import InvalidInput
from app.services.clients import ClientView
from app.services.container import Services
from app.services.images import hash_image, refuse_trivial
from app.services.inputs import HashInput, from_hashes, validate_hashes
from app.services.ratelimit import PinAttempts, ReportBudget
from app.services.video_uploads import hash_video_upload, video_items
from app.web.addresses import client_address

router = APIRouter(prefix="/v1/cases", tags=["cases"])

PinHeader = Annotated[str, Header(alias="X-Case-Pin", description="The case's PIN.")]
MAX_IMAGES_PER_REQUEST = 20


async def _read_hashes(request: Request, services: Services, limit: int) -> list[HashInput]:
    """Hashes from a JSON body, or from images (hashed in memory) in a multipart body."""
    s = services.settings
    if body_kind(request) == "multipart":
        parts = await read_images(
            request,
            max_files=MAX_IMAGES_PER_REQUEST,
            max_bytes=s.max_image_bytes,
            more={"video": s.max_video_bytes},
        )
        with wiped(parts):
            async with services.decodes.hold():
                items = await run_sync(_hash_parts, parts, s, services.types)
    else:
        body = await read_model(request, HashesIn)
        items = validate_hashes(
            hash_inputs(body.hashes),
            services.types,
        )
    if len(items) > limit:
        raise InvalidInput(f"a case may hold at most {limit} hashes")
    return items


def _hash_parts(
    parts: list[ImagePart], s: Settings, types: hashes.SignalRegistry
) -> list[HashInput]:
    items: list[HashInput] = []
    for part in parts:
        if part.field == "video":  # a report's video: its vPDQ, file hashes, frame variants
            v = hash_video_upload(
                part.data,
                limits=hashes.VideoLimits(
                    max_bytes=s.max_video_bytes,
                    max_seconds=s.max_video_seconds,
                    max_frames=s.max_video_frames,
                ),
                variants="stored",
                name=part.filename,
            )
            items += video_items(v, types)
            part.data = b""  # zeroed by wiped() in the caller
            continue
        h = hash_image(
            part.data,
            max_bytes=s.max_image_bytes,
            max_pixels=s.max_image_pixels,
            name=part.filename,
            density=s.pdq_variants,
        )
        refuse_trivial(h, name=part.filename, min_pdq_quality=s.min_pdq_quality)
        items += from_hashes(h, stored=True, types=types)
        part.data = b""  # drop the bytes as soon as they are hashed
    return items


def _case_out(view: object) -> CaseOut:
    return CaseOut.model_validate(view, from_attributes=True)


@router.post(
    "",
    status_code=201,
    response_model=NewCaseOut,
    summary="Report an image or a video by its hashes (or by images or a video hashed in memory)",
    responses=problems(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=json_body(HashesIn, multipart=True),
)
async def create_case(
    request: Request, services: ServicesDep, client: ClientView | None = optional_client("report")
) -> JSONResponse:
    s = services.settings
    limit = s.max_hashes_per_case if client is not None else s.max_hashes_anonymous
    items = await _read_hashes(request, services, limit)
    # a `report` key's client is trusted to omit a PDQ quality; anyone else must send it
    items = await run_sync(services.cases.prepare, items, quality_required=client is None)
    actor = f"client:{client.name}" if client is not None else "reporter"
    # only now, once the report is valid: junk must not spend a victim's budget (a key's
    # client has a budget of its own). Keyed on an HMAC of the address, in memory only.
    with _reports(request, services, 0 if client else s.anonymous_cases_per_hour):
        new = await run_sync(
            services.cases.report,
            items,
            actor=actor,
            client_id=client.id if client else None,
            quality_required=client is None,
        )
    body = NewCaseOut(case_id=new.case_id, pin=new.pin, status=new.status)
    return JSONResponse(body.model_dump(), status_code=201, headers={"Cache-Control": "no-store"})


def _address(request: Request, services: Services) -> str:
    return client_address(request, services.settings.trusted_proxies)


def _reports(request: Request, services: Services, per_hour: int) -> ReportBudget:
    """A valid anonymous report spends one of the address's reports (429 when none are
    left; given back if the report then fails)."""
    return ReportBudget(services.limiter, _address(request, services), per_hour)


def _pin_attempts(request: Request, services: Services) -> PinAttempts:
    """Failed PIN checks spend the address's budget (429 once it is empty)."""
    per_hour = services.settings.pin_attempts_per_address_per_hour
    return PinAttempts(services.limiter, _address(request, services), per_hour)


@router.get(
    "/{case_id}",
    response_model=CaseOut,
    summary="Follow a case with its PIN",
    responses=problems(401, 422, 423, 429),
)
async def get_case(
    case_id: str, pin: PinHeader, request: Request, services: ServicesDep
) -> CaseOut:
    with _pin_attempts(request, services):
        view = await run_sync(services.cases.status, case_id, pin)
    return _case_out(view)


@router.post(
    "/{case_id}/hashes",
    response_model=CaseOut,
    summary="Add hashes (or images) to a case with its PIN",
    responses=problems(400, 401, 409, 413, 415, 422, 423, 429, 503),
    openapi_extra=json_body(HashesIn, multipart=True),
)
async def add_hashes(
    case_id: str, pin: PinHeader, request: Request, services: ServicesDep
) -> CaseOut:
    s = services.settings
    # The order, and why: the PIN first (one argon2 run, ~20 ms), so a wrong PIN is
    # refused before a body of up to HASHBANK_MAX_BODY_BYTES is read or its images
    # decoded; the view it returns is what add_hashes takes, so the PIN is checked once.
    # Then the body is validated, and only a valid one takes a token of the address's
    # report budget (shared with POST /v1/cases; given back if the case turns out full).
    # A failed PIN spends the separate PIN budget instead; a bad body after a right PIN
    # spends nothing.
    with _pin_attempts(request, services):
        view = await run_sync(services.cases.authenticate, case_id, pin)
    items = await _read_hashes(request, services, s.max_hashes_anonymous)
    items = await run_sync(services.cases.prepare, items, quality_required=True, adding=True)
    # Parts of a video the case names (`part_of`) spend no report: the page must cut a
    # long video into many requests under 16 KB (an hour is ~25), and what they add is
    # bounded by HASHBANK_MAX_VIDEO_FRAMES for the joined video; a part naming no video
    # of this case is refused. Anything else in the request makes it a report.
    parts_only = all(item.part_of is not None for item in items)
    with _reports(request, services, 0 if parts_only else s.anonymous_cases_per_hour):
        view = await run_sync(
            services.cases.add_hashes,
            view,
            items,
            limit=s.max_hashes_anonymous,
            quality_required=True,
        )
    return _case_out(view)


@router.delete(
    "/{case_id}",
    response_model=CaseOut,
    summary="Withdraw a case with its PIN: its hashes stop matching at once",
    responses=problems(401, 422, 423, 429),
)
async def withdraw_case(
    case_id: str, pin: PinHeader, request: Request, services: ServicesDep
) -> CaseOut:
    with _pin_attempts(request, services):
        view = await run_sync(services.cases.withdraw, case_id, pin)
    return _case_out(view)
