"""Dashboard dependencies: cookies, the CSRF guard, the signed-in user, page rendering.

Every POST goes through :func:`csrf_guard` first (a router-wide dependency): a request
from another origin, a body that is not a dashboard form, or a missing or wrong token
gets 403 before any other work is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.config import Settings
from app.dashboard.pages import PAGE_HEADERS, render, url_with
from app.errors import Forbidden, InvalidInput, PayloadTooLarge, Unauthorized
from app.services.container import Services
from app.services.sessions import Staff, csrf_token, csrf_valid, new_secret
from app.web.addresses import client_address
from app.web.inputs import INT32_MAX

__all__ = [
    "AdminPage",
    "Fields",
    "FormDep",
    "LoginPage",
    "PageContext",
    "ServicesDep",
    "SignInRequired",
    "StaffPage",
    "login_address",
    "safe_next",
]

SESSION_COOKIE = "hashbank_session"
LOGIN_COOKIE = "hashbank_login"
FLASH_COOKIE = "hashbank_flash"
COOKIE_PATH = "/dashboard"
LOGIN_PATH = "/dashboard/login"
MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class SignInRequired(Unauthorized):
    """No valid session: pages send the browser to the sign-in form."""


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _secure(request: Request) -> bool:
    """Secure cookies when set, when served over HTTPS, or behind a TLS-terminating proxy
    that says so (X-Forwarded-Proto: trusting it can only add the flag, never drop it)."""
    settings: Settings = request.app.state.settings
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return settings.secure_cookies or request.url.scheme == "https" or forwarded == "https"


def login_address(request: Request) -> str:
    """The address sign-in failures are counted against: the client as the trusted
    proxies of ``HASHBANK_TRUSTED_PROXIES`` forward it (the socket's peer when there are
    none), so that behind a proxy every visitor does not share one pause."""
    settings: Settings = request.app.state.settings
    return client_address(request, settings.trusted_proxies)


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    """An HttpOnly, SameSite=Strict cookie for /dashboard (Secure over HTTPS or when set)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


def safe_next(url: str | None, default: str = "/dashboard") -> str:
    """``url`` if it is a path of the dashboard on this site, else ``default``."""
    if not url or any(c in url for c in "\\\r\n\t") or "//" in url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return default
    if parts.path != "/dashboard" and not parts.path.startswith("/dashboard/"):
        return default
    return url


@dataclass(frozen=True)
class Fields:
    """A posted form: the first value of each field, and every value of repeated ones."""

    data: Mapping[str, list[str]] = field(default_factory=dict)

    def text(self, name: str, max_length: int = 500) -> str:
        values = self.data.get(name)
        return values[0].strip()[:max_length] if values else ""

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.data.get(name, [])]

    def number(self, name: str) -> int | None:
        """An optional whole number; text that is not one is None (the service decides).

        Raises:
            InvalidInput: a number beyond the database's integers.
        """
        text = self.text(name, 12)
        try:
            value = int(text) if text else None
        except ValueError:
            return None
        if value is not None and abs(value) > INT32_MAX:
            raise InvalidInput(f"{name} is too large")
        return value


def _same_origin(request: Request) -> bool:
    """Refuse requests that say they come from another site (defence in depth: the CSRF
    token is the check). Browsers send ``Origin: null`` under our no-referrer policy, so
    ``Sec-Fetch-Site`` is what tells; an Origin, when given, must be this host."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def csrf_guard(request: Request) -> Fields:
    """Read and check a POSTed form before anything else (403 on any doubt)."""
    if request.method in ("GET", "HEAD"):
        return Fields()
    if not _same_origin(request):
        raise Forbidden("cross-site form posts are refused")
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != FORM_TYPE:
        raise Forbidden("the dashboard accepts only its own forms")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLarge("a dashboard form is at most 64 KiB")
    data = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=200)
    cookie = LOGIN_COOKIE if request.url.path == LOGIN_PATH else SESSION_COOKIE
    submitted = data.get("csrf", [""])[0]
    if not csrf_valid(request.cookies.get(cookie), submitted):
        raise Forbidden("the form's security token is missing or out of date: reload the page")
    return Fields(data)


FormDep = Annotated[Fields, Depends(csrf_guard)]


def optional_staff(request: Request, services: ServicesDep) -> Staff | None:
    """The signed-in user, or None (resolved once per request)."""
    if not hasattr(request.state, "staff"):
        request.state.staff = services.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    staff: Staff | None = request.state.staff
    return staff


def current_staff(staff: Annotated[Staff | None, Depends(optional_staff)]) -> Staff:
    if staff is None:
        raise SignInRequired("sign in to use the dashboard")
    return staff


def current_admin(staff: Annotated[Staff, Depends(current_staff)]) -> Staff:
    if not staff.is_admin:
        raise Forbidden("this page is for admins")
    return staff


@dataclass
class PageContext:
    """What a page handler needs to answer: the user, their CSRF token, rendering."""

    request: Request
    services: Services
    staff: Staff | None
    csrf: str
    new_login_secret: str | None = None

    def url(self, **changes: object) -> str:
        """This page's URL with query parameters changed (see :func:`url_with`)."""
        return url_with(self.request.url.path, self.request.query_params, **changes)

    def render(
        self, template: str, *, title: str, section: str = "", status: int = 200, **data: object
    ) -> HTMLResponse:
        flash = self.request.cookies.get(FLASH_COOKIE)
        message = _read_flash(flash)
        html = render(
            template,
            title=title,
            section=section,
            staff=self.staff,
            csrf=self.csrf,
            flash=message,
            url=self.url,
            path=self.request.url.path,
            query=self.request.query_params,
            **data,
        )
        response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
        if flash is not None:
            clear_cookie(response, self.request, FLASH_COOKIE)
        if self.new_login_secret is not None:
            set_cookie(response, self.request, LOGIN_COOKIE, self.new_login_secret)
        return response

    def redirect(self, url: str, flash: str | None = None, kind: str = "ok") -> RedirectResponse:
        """See other (303) to ``url``, with a one-time message for the next page."""
        response = RedirectResponse(url, status_code=303)
        if flash:
            set_cookie(response, self.request, FLASH_COOKIE, quote(f"{kind}:{flash}"), max_age=60)
        return response


def _read_flash(raw: str | None) -> tuple[str, str] | None:
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return ("error" if kind == "error" else "ok", text[:300])


def staff_page(
    request: Request, services: ServicesDep, staff: Annotated[Staff, Depends(current_staff)]
) -> PageContext:
    return PageContext(request, services, staff, staff.csrf)


def admin_page(
    request: Request, services: ServicesDep, staff: Annotated[Staff, Depends(current_admin)]
) -> PageContext:
    return PageContext(request, services, staff, staff.csrf)


def login_page(
    request: Request,
    services: ServicesDep,
    staff: Annotated[Staff | None, Depends(optional_staff)],
) -> PageContext:
    """For pages that also serve signed-out visitors: they get a login CSRF cookie."""
    if staff is not None:
        return PageContext(request, services, staff, staff.csrf)
    secret = request.cookies.get(LOGIN_COOKIE)
    fresh = None
    if not secret or len(secret) > 128:
        secret = fresh = new_secret()
    return PageContext(request, services, None, csrf_token(secret), fresh)


StaffPage = Annotated[PageContext, Depends(staff_page)]
AdminPage = Annotated[PageContext, Depends(admin_page)]
LoginPage = Annotated[PageContext, Depends(login_page)]
