"""Routes of the per-platform records (admin scope): one platform's, or every platform's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import ServicesDep, require, run_sync
from app.api.problems import problems
from app.api.schemas import RecordDayOut, RecordOut
from app.services.clients import ClientView
from app.services.records import PlatformRecord
from app.web.inputs import INT32_MAX

router = APIRouter(prefix="/v1/clients", tags=["records"])

FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=10,
        description="First day (UTC) of the period, YYYY-MM-DD, included; default: 30 days "
        "before 'to'.",
    ),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        max_length=10,
        description="Day after the period (UTC), YYYY-MM-DD, excluded; default: tomorrow "
        "(the period ends with today). At most two years after 'from'.",
    ),
]


def record_out(r: PlatformRecord) -> RecordOut:
    """The API's shape of a record (the report's figures are checked against it)."""
    return RecordOut(
        client_id=r.client_id,
        name=r.name,
        revoked=r.revoked,
        period_from=r.period.start,
        period_to=r.period.end,
        made_at=r.made_at,
        checks=r.checks,
        matches=r.matches,
        reupload_attempts=r.reupload_attempts,
        feedback=r.feedback,
        feedback_by_value=r.feedback_by_value,
        feedback_shares=r.feedback_shares,
        due_24h=r.due_24h,
        no_feedback_24h=r.no_feedback_24h,
        no_feedback_24h_share=r.no_feedback_24h_share,
        due_7d=r.due_7d,
        no_feedback_7d=r.no_feedback_7d,
        no_feedback_7d_share=r.no_feedback_7d_share,
        median_feedback_seconds=r.median_feedback_seconds,
        last_check_day=r.last_check_day,
        days_since_last_check=r.days_since_last_check,
        silent=r.silent,
        not_blocked_recent_share=r.not_blocked_recent_share,
        not_blocked_previous_share=r.not_blocked_previous_share,
        not_blocked_rising=r.not_blocked_rising,
        webhooks=dict(r.webhooks) if r.webhooks is not None else None,
        per_day=[
            RecordDayOut(
                day=d.day, checks=d.checks, matches=d.matches, reupload_attempts=d.reupload_attempts
            )
            for d in r.per_day
        ],
    )


@router.get(
    "/records",
    response_model=list[RecordOut],
    summary="Every platform's record over a period, with the silent and not-blocked flags",
    responses=problems(401, 403, 422),
)
async def list_records(
    services: ServicesDep,
    start: FromQuery = None,
    end: ToQuery = None,
    client: ClientView = require("admin"),
) -> list[RecordOut]:
    period = services.records.period(start, end)
    records = await run_sync(services.records.overview, period)
    return [record_out(r) for r in records]


@router.get(
    "/{client_id}/record",
    response_model=RecordOut,
    summary="One platform's record over a period: checks, matches, feedback and its delays",
    responses=problems(401, 403, 404, 422),
)
async def get_record(
    client_id: Annotated[
        int,
        Path(ge=1, le=INT32_MAX, description="As printed by `hashbank clients create --json`."),
    ],
    services: ServicesDep,
    start: FromQuery = None,
    end: ToQuery = None,
    client: ClientView = require("admin"),
) -> RecordOut:
    period = services.records.period(start, end)
    record = await run_sync(services.records.record, client_id, period)
    return record_out(record)
