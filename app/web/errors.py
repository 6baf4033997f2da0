"""The one error renderer: every error a request raises becomes one :class:`Problem`,
answered as RFC 9457 ``application/problem+json`` or as a page of the surface that owns
the path (the dashboard, the reporting page).

What maps to what, in one place (:func:`problem_of`)::

    app.errors.HashbankError      its status, type and detail (Retry-After when it has one)
    hashes.ImageTooLarge          PayloadTooLarge 413
    hashes.HashError (others)     InvalidInput 422
    storage DatabaseError         DatabaseUnavailable 503 when the database is unreachable
                                  (anything else is a bug: re-raised, answered as a 500)
    RequestValidationError        InvalidInput 422, with the validation ``errors``
    Starlette HTTPException       its status and headers (unknown route 404, 405, ...)

A surface (:class:`Pages`) draws the pages of the paths it owns; it may decline one
(``None``), which is then answered as problem+json like every error of the API. A
compatible API (``/compat/hma``) is a surface too, one that answers ``every`` problem of
its paths in the error shape of the API it imitates.
``install`` registers :func:`render` for all of these in ``create_app``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import hashes
from app.errors import DatabaseUnavailable, HashbankError, InvalidInput, PayloadTooLarge
from app.storage import DatabaseError, is_unavailable

__all__ = ["HANDLED", "PROBLEM", "Pages", "Problem", "install", "problem_of", "render"]

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

# every exception type the renderer answers (the access log answers the rest: a 500)
HANDLED: tuple[type[Exception], ...] = (
    HashbankError,
    hashes.HashError,
    DatabaseError,
    RequestValidationError,
    StarletteHTTPException,
)


@dataclass(frozen=True)
class Problem:
    """One error, whatever raised it: what problem+json and the pages are drawn from.

    ``source`` says where it came from, for the pages' own wording: ``error`` (our
    hierarchy, hashes' and the database's errors mapped into it), ``validation`` (the
    request's path, query or headers did not validate), ``http`` (Starlette's own: an
    unknown route, a method not allowed, a form it could not parse). ``pages``: False
    for the library's and the database's errors, which the pages have always left to
    problem+json.
    """

    status: int
    type: str
    title: str
    detail: str
    source: Literal["error", "validation", "http"]
    error: Exception  # what was raised
    extra: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    pages: bool = True

    def body(self) -> dict[str, Any]:
        """The RFC 9457 body."""
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


@dataclass(frozen=True)
class Pages:
    """A surface whose errors are pages: the paths it owns, and its page for a problem
    (or None: answered as problem+json)."""

    owns: Callable[[str], bool]
    page: Callable[[Request, Problem], Response | None]
    every: bool = False  # it answers every problem of its paths, not only page-worthy ones


def _from_error(
    error: HashbankError,
    raised: Exception,
    source: Literal["error", "validation"] = "error",
    *,
    pages: bool = True,
) -> Problem:
    retry = getattr(error, "retry_after", None)
    return Problem(
        status=error.status,
        type=error.type,
        title=error.title,
        detail=error.detail,
        source=source,
        error=raised,
        extra=error.extra,
        headers={"Retry-After": str(retry)} if retry is not None else {},
        pages=pages,
    )


def problem_of(exc: Exception) -> Problem:
    """The problem ``exc`` is (see the module's table).

    Raises:
        DatabaseError: ``exc`` itself, when it is a database error other than the database
            being unreachable (a bug: the access log answers it as a 500 and logs it).
    """
    if isinstance(exc, HashbankError):
        return _from_error(exc, exc)
    if isinstance(exc, hashes.HashError):
        error = PayloadTooLarge if isinstance(exc, hashes.ImageTooLarge) else InvalidInput
        return _from_error(error(str(exc)), exc, pages=False)
    if isinstance(exc, DatabaseError):
        if not is_unavailable(exc):
            raise exc
        log.warning("database unavailable", extra={"error": type(exc.orig).__name__})
        down = DatabaseUnavailable("the database cannot be reached; retry shortly")
        return _from_error(down, exc, pages=False)
    if isinstance(exc, RequestValidationError):
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        invalid = InvalidInput("the request is not valid", errors=errors)
        return _from_error(invalid, exc, "validation")
    if isinstance(exc, StarletteHTTPException):
        detail = str(exc.detail)
        return Problem(
            status=exc.status_code,
            type=f"https://hashbank.dev/problems/http-{exc.status_code}",
            title=detail,
            detail=detail,
            source="http",
            error=exc,
            headers=dict(exc.headers or {}),
        )
    raise exc  # not one of HANDLED: never registered for it


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        media_type=PROBLEM,
        headers=dict(problem.headers),
    )


def render(request: Request, exc: Exception, surfaces: Sequence[Pages] = ()) -> Response:
    """The answer to ``exc``: the page of the surface owning the path, else problem+json."""
    problem = problem_of(exc)
    path = request.url.path
    for surface in surfaces:
        if surface.owns(path):
            if problem.pages or surface.every:
                page = surface.page(request, problem)
                if page is not None:
                    return page
            break
    return problem_response(problem)


def install(app: FastAPI, surfaces: Sequence[Pages]) -> None:
    """Answer every error of :data:`HANDLED` with :func:`render` (``surfaces`` in order:
    the first that owns a path draws its pages)."""
    chosen = tuple(surfaces)

    async def handler(request: Request, exc: Exception) -> Response:
        return render(request, exc, chosen)

    for kind in HANDLED:
        app.add_exception_handler(kind, handler)
