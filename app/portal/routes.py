"""Routes of the reporting page: the report and follow pages, and their static files.

The pages only render text; the work happens in the browser, which hashes images
locally and talks to the ``/v1/cases`` API with hashes only. Nothing here sets a cookie
or stores anything; the no-JavaScript follow form keys its in-memory budget of failed
PINs on an HMAC of the address, as the API does, and keeps nothing else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.portal.follow import ACTIONS, FollowOutcome, explain, follow_case
from app.portal.i18n import negotiate, texts
from app.portal.pages import PAGE_HEADERS, STATIC, STATIC_HEADERS, render
from app.services.container import Services
from app.services.ratelimit import PinAttempts
from app.web.addresses import client_address
from app.web.errors import Pages, Problem

router = APIRouter(include_in_schema=False)

LangQuery = Annotated[str | None, Query(max_length=8, description="en, fr or nl")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _page(
    request: Request,
    name: str,
    lang: str | None,
    outcome: FollowOutcome | None = None,
    status: int = 200,
) -> HTMLResponse:
    chosen = negotiate(lang, request.headers.get("accept-language"))
    html = render(name, chosen, _settings(request), path=request.url.path, outcome=outcome)
    headers = {**PAGE_HEADERS, "Content-Language": chosen}
    if outcome is not None and outcome.retry_after is not None:
        headers["Retry-After"] = str(outcome.retry_after)
        return HTMLResponse(html, status_code=429, headers=headers)
    return HTMLResponse(html, status_code=status, headers=headers)


PAGES = {"/": "report", "/report": "report", "/follow": "follow"}


def owns(path: str) -> bool:
    """Whether an error at ``path`` is answered with one of these pages."""
    return path in PAGES


def error_page(request: Request, problem: Problem) -> HTMLResponse | None:
    """The page itself, with the status of a refused request (:mod:`app.web.errors`
    calls this for errors on the portal's paths; the follow page says so in its own
    words). Only bad input is a page; anything else is answered as problem+json."""
    if problem.source == "http" and problem.status not in (400, 413, 415):
        return None  # not a form Starlette could not parse (a method not allowed...)
    name = PAGES[request.url.path]
    t = texts(negotiate(None, request.headers.get("accept-language")))
    outcome = None
    if name == "follow":
        error = explain(problem.error, t, pin_attempts=_settings(request).pin_attempts)
        outcome = FollowOutcome("", error=error)
    return _page(request, name, None, outcome, status=problem.status)


ERROR_PAGES = Pages(owns, error_page)


@router.get("/")
async def home(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The reporting page."""
    return _page(request, "report", lang)


@router.get("/report")
async def report(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The reporting page (same as ``/``)."""
    return _page(request, "report", lang)


@router.get("/follow")
async def follow(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """Follow, add images to or withdraw a case with its number and PIN."""
    return _page(request, "follow", lang)


@router.post("/follow")
async def follow_without_javascript(request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The follow form posted without JavaScript: the page, with the case (or an error)."""
    form = await request.form(max_files=0, max_fields=8)
    action = str(form.get("action", "show"))
    services: Services = request.app.state.services
    settings = services.settings
    address = client_address(request, settings.trusted_proxies)  # in memory, never kept
    attempts = PinAttempts(services.limiter, address, settings.pin_attempts_per_address_per_hour)
    outcome = await run_in_threadpool(
        follow_case,
        services.cases,
        str(form.get("case_id", ""))[:64],
        str(form.get("pin", ""))[:64],
        action if action in ACTIONS else "show",
        texts(negotiate(lang, request.headers.get("accept-language"))),
        pin_attempts=settings.pin_attempts,
        attempts=attempts,
    )
    return _page(request, "follow", lang, outcome)


@router.get("/portal/static/{name}")
async def static(name: str, request: Request) -> Response:
    """The pages' own scripts, styles and icon (revalidated with ETags)."""
    return STATIC.response(name, request, STATIC_HEADERS)
