"""Liveness, readiness and metrics."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app import metrics
from app.api.deps import ServicesDep, run_sync
from app.api.problems import problems
from app.api.schemas import HealthOut
from app.errors import Unauthorized

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, summary="Alive")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get("/readyz", summary="Ready: database reachable, index loaded and caught up")
async def readyz(services: ServicesDep) -> JSONResponse:
    replica = services.replica
    checks: dict[str, object] = {"index_loaded": replica.loaded, "change_log_lag": replica.lag}
    ok = replica.loaded
    try:
        await run_sync(services.db.ping)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        ok = False
    stale = time.monotonic() - replica.last_sync_ok
    checks["seconds_since_sync"] = round(stale, 3)
    if stale > max(5.0, 10 * replica.sync_interval):
        ok = False
    return JSONResponse(
        {"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (no personal data; HASHBANK_METRICS_KEY requires a bearer key)",
    response_class=Response,
    responses=problems(401),
)
async def prometheus(services: ServicesDep, request: Request) -> Response:
    required = services.settings.metrics_key
    if required is not None:
        given = request.headers.get("authorization", "")
        expected = "Bearer " + required.get_secret_value()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("/metrics needs Authorization: Bearer <HASHBANK_METRICS_KEY>")
    metrics.observe_replica(services.replica)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
