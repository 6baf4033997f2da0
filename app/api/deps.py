"""FastAPI dependencies: the Services container and API-key authentication."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.errors import Unauthorized
from app.services.clients import ClientView
from app.services.container import Services
from app.web.inputs import refuse_nul_in_head

__all__ = [
    "Caller",
    "ServicesDep",
    "bearer_key",
    "optional_client",
    "require",
    "require_key_header",
    "run_sync",
]

P = ParamSpec("P")
T = TypeVar("T")


async def run_sync(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking work (database, argon2, image decoding) off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_key(request: Request) -> str | None:
    """The key of ``Authorization: Bearer <key>``, or None when there is no header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("use Authorization: Bearer <key>")
    return key.strip()


def _rate_limit(services: Services, client: ClientView) -> None:
    if client.rate_limit:
        services.limiter.hit(
            f"client:{client.id}", rate=client.rate_limit, burst=client.rate_limit * 2
        )


async def _authenticate(services: Services, key: str | None, scope: str) -> ClientView:
    # the hot path: a cached key is checked on the event loop, no thread hop
    client = services.clients.authenticate_cached(key, scope)
    if client is None:
        client = await run_sync(services.clients.authenticate, key, scope)
    _rate_limit(services, client)
    if scope == "check":
        # a client serving a probing penalty is refused every check, like a rate limit:
        # before its body is read (a dict look-up, empty unless someone probed)
        services.checks.refuse_prober(client.id)
    return client


def require(scope: str):  # type: ignore[no-untyped-def]
    """A dependency that authenticates the caller's key for ``scope`` (before the body)."""

    async def dependency(request: Request) -> ClientView:
        # the services straight from the app, not as a sub-dependency: this runs on
        # every check, and each level of FastAPI's dependency solving costs ~30 µs
        services: Services = request.app.state.services
        refuse_nul_in_head(request.scope)  # the checks' router has no refuse_nul dependency
        return await _authenticate(services, bearer_key(request), scope)

    return Depends(dependency)


def require_key_header(scope: str, first: str, last: str):  # type: ignore[no-untyped-def]
    """Like :func:`require`, for an API that carries the key in headers of its own
    (StopNCII's ``x-functions-key`` and ``Ocp-Apim-Subscription-Key``): the key is header
    ``first``, else ``Authorization: Bearer``, else header ``last``. Same answers: 401
    for a missing or wrong key, 403 for a missing scope."""

    async def dependency(request: Request) -> ClientView:
        services: Services = request.app.state.services
        refuse_nul_in_head(request.scope)
        key = (request.headers.get(first) or "").strip() or bearer_key(request)
        if key is None:
            key = (request.headers.get(last) or "").strip() or None
        return await _authenticate(services, key, scope)

    return Depends(dependency)


def optional_client(scope: str):  # type: ignore[no-untyped-def]
    """Like :func:`require`, but anonymous callers (no Authorization header) get None."""

    async def dependency(request: Request, services: ServicesDep) -> ClientView | None:
        key = bearer_key(request)
        if key is None:
            return None
        return await _authenticate(services, key, scope)

    return Depends(dependency)


Caller = ClientView
