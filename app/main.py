"""create_app(settings): wires services, routers, middleware and error handling."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

import hashes
from app import allocator, hardening, metrics
from app.api import (
    banks,
    cases,
    checks,
    compat_hma,
    compat_stopncii,
    feed,
    health,
    matches,
    records,
    webhooks,
)
from app.config import Settings
from app.dashboard import records as dashboard_records
from app.dashboard import routes as dashboard
from app.portal import routes as portal_pages
from app.services.container import Services
from app.web import docs, errors
from app.web.inputs import refuse_nul
from app.web.middleware import AccessLog, BodyLimit, SecurityHeaders

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger(__name__)
# how often a process adds its checks per client and day to the database (records)
CHECK_COUNT_FLUSH_SECONDS = 5


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the ASGI app. The index loads and starts following the change log at startup."""
    settings = settings or Settings()
    services = services or Services.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        allocator.tune()  # per process: every worker hashes images
        hardening.harden()  # per process too (spawned workers start dumpable): no core dumps
        metrics.observe_dumpable(hardening.dumpable())
        await asyncio.to_thread(hashes.warm_up)  # before ready: no check compiles kernels
        await asyncio.to_thread(services.replica.load)
        # Everything alive now (the imported libraries, the loaded bank) lives as long as
        # the process: out of the collector's sight, a full collection no longer walks it
        # (~0.2 s each under load here: the p99 of every request caught in one).
        gc.collect()
        gc.freeze()
        services.replica.start()
        webhook_worker = services.webhook_worker() if settings.webhook_worker else None
        if webhook_worker is not None:
            webhook_worker.start()
        flusher = asyncio.create_task(_flush_last_used(services))
        counts = asyncio.create_task(_flush_check_counts(services))
        observer = asyncio.create_task(_observe_replica(services))
        purger = asyncio.create_task(_purge_periodically(services))
        try:
            yield
        finally:
            flusher.cancel()
            counts.cancel()
            observer.cancel()
            purger.cancel()
            if webhook_worker is not None:
                webhook_worker.stop()
            await asyncio.to_thread(services.close)
            gc.unfreeze()  # an app built again in this process (tests) starts afresh

    app = FastAPI(
        title="hashbank",
        version="0.1.0",
        summary="Hash bank that stops intimate images shared without consent from coming back.",
        docs_url=None,  # app.web.docs serves /docs from this process, not from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.settings = settings

    errors.install(app, [compat_hma.ERRORS, portal_pages.ERROR_PAGES, dashboard.PAGES])

    # checks first: the hot path, matched against the fewest routes. No NUL reaches the
    # database: every router refuses one (``refuse_nul``), the checks' from their
    # authentication (``deps.require``), which runs on each check anyway
    app.include_router(checks.router)
    app.include_router(compat_hma.router)  # checks too: NUL refused by their authentication
    no_nul = [Depends(refuse_nul)]
    for router in (
        cases.router,
        feed.router,
        matches.router,
        banks.router,
        health.router,
        compat_stopncii.router,
        webhooks.router,
        records.router,
    ):
        app.include_router(router, dependencies=no_nul)
    app.include_router(portal_pages.router, dependencies=no_nul)
    app.include_router(docs.router, dependencies=no_nul)
    app.include_router(dashboard.router, dependencies=no_nul)
    app.include_router(dashboard_records.router, dependencies=no_nul)

    # outermost last: the security headers go on every answer, the access log's 500 for an
    # unexpected error and the body limit's 413 included
    app.add_middleware(AccessLog)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _observe_replica(services: Services) -> None:
    """Keep this process's index gauges fresh (workers scraped via another worker)."""
    while True:
        metrics.observe_replica(services.replica)
        await asyncio.sleep(1)


async def _flush_last_used(services: Services) -> None:
    while True:
        await asyncio.sleep(30)
        try:
            await asyncio.to_thread(services.clients.flush_last_used)
        except Exception:
            log.warning("could not write last-used times", exc_info=True)


async def _flush_check_counts(services: Services) -> None:
    """Add this process's checks per client and day to the database every few seconds
    (the platform records read them; app.services.records.CheckCounter)."""
    while True:
        await asyncio.sleep(CHECK_COUNT_FLUSH_SECONDS)
        try:
            await asyncio.to_thread(services.check_counts.flush, services.db)
        except Exception:
            log.warning("could not write check counts", exc_info=True)


async def _purge_periodically(services: Services) -> None:
    """Apply the retention policy every ``purge_interval_seconds`` (docs/privacy.md)."""
    interval = services.settings.purge_interval_seconds
    if interval <= 0:
        return
    # the first run one interval after start: never on the start path, and a bank seeded
    # with old data (a benchmark, a restore being checked) is not purged under its feet
    while True:
        await asyncio.sleep(interval)
        try:
            result = await asyncio.to_thread(services.retention.purge, actor="system:retention")
            if result.removed or result.review_due:
                log.info(
                    "retention purge",
                    extra={
                        "matches": result.matches,
                        "audit_events": result.audit_events,
                        "erased_cases": result.erased_cases,
                        "erased_hashes": result.erased_hashes,
                        "review_due": result.review_due,
                    },
                )
        except Exception:
            log.warning("retention purge failed", exc_info=True)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the models of bodies that handlers read after auth, with the
    enabled signal types (the registry's, plug-ins included) as the enum of type names."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            defs = operation.pop("__defs__", None)
            operation.pop("x-hashbank-defs", None)
            if defs:
                components.update(defs)
    names = list(app.state.services.types.names)
    for model in ("HashIn", "HashIn-Input"):
        prop = components.get(model, {}).get("properties", {}).get("type")
        if prop is not None:
            prop["enum"] = names
    app.openapi_schema = schema
    return schema


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (one per worker process), reading HASHBANK_*."""
    from app.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_file)
    return create_app(settings)
