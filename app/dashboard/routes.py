"""Routes of the moderators' dashboard under ``/dashboard``: pages (GET) and actions (POST).

GET never changes anything. Every POST passes the CSRF guard first, then the role check,
then calls one service and answers "see other" (303) with a one-time message. Errors are
rendered as pages by :func:`error_page` (the one renderer, :mod:`app.web.errors`, hands it
every error under ``/dashboard``).
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from app.dashboard.deps import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    AdminPage,
    Fields,
    FormDep,
    LoginPage,
    PageContext,
    ServicesDep,
    SignInRequired,
    StaffPage,
    clear_cookie,
    csrf_guard,
    login_address,
    safe_next,
    set_cookie,
)
from app.dashboard.pages import (
    PAGE_HEADERS,
    STATIC,
    STATIC_HEADERS,
    bar_chart,
    has_template,
    render,
    url_with,
)
from app.errors import InvalidInput, Unauthorized
from app.services.clients import SCOPES, parse_scopes
from app.services.sessions import Staff
from app.services.views import AuditFilter, Sort, paginate
from app.storage.models import BankPolicy, CaseStatus, Role
from app.web.errors import Pages, Problem
from app.web.inputs import Id32, Id64

__all__ = ["PAGES", "error_page", "router"]

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(csrf_guard)])

PER_PAGE = (10, 25, 50, 100)


# -- query parsing: lenient (a bad value falls back to the default, never a 422) ---------
def _int(request: Request, name: str, default: int, lo: int = 1, hi: int = 1_000_000) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        return default
    return min(max(value, lo), hi)


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str = "") -> str:
    value = request.query_params.get(name, default)
    return value if value in choices else default


def _sort(
    request: Request, keys: tuple[str, ...], default: str, descending: bool, prefix: str = ""
) -> Sort:
    """``?sort=<key>&order=asc|desc``; the default direction goes with the default key.
    A second list on a page has its own parameters (``prefix``: ``hsort``, ``horder``)."""
    key = _choice(request, prefix + "sort", keys, default)
    order = request.query_params.get(prefix + "order")
    if order in ("asc", "desc"):
        return Sort(key, order == "desc")
    return Sort(key, descending if key == default else False)


def _per_page(request: Request, default: int = 50) -> int:
    value = _int(request, "per", default, 1, 100)
    return value if value in PER_PAGE else default


def _date(request: Request, name: str) -> date | None:
    try:
        return date.fromisoformat(request.query_params.get(name, ""))
    except ValueError:
        return None


# -- signing in and out ------------------------------------------------------------------
@router.get("")
def home(ctx: LoginPage) -> HTMLResponse:
    """The overview when signed in, else the sign-in form."""
    if ctx.staff is None:
        return _login_form(ctx)
    overview = ctx.services.views.statistics.overview()
    return ctx.render(
        "overview.html",
        title="Overview",
        section="overview",
        overview=overview,
        chart=bar_chart(overview.per_day),
    )


def _login_form(ctx: LoginPage, *, error: str | None = None, status: int = 200) -> HTMLResponse:
    nxt = safe_next(ctx.request.query_params.get("next"), "")
    return ctx.render(
        "login.html", title="Sign in", status=status, error=error, next=nxt, username=""
    )


@router.get("/login")
def login_form(ctx: LoginPage) -> Response:
    """The sign-in form (signed in: the overview)."""
    if ctx.staff is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return _login_form(ctx)


@router.post("/login")
def login(ctx: LoginPage, form: FormDep) -> Response:
    """Check the password (failures are limited per address and per account) and sign in.

    Every refusal is the same page: unknown user, wrong password, locked account."""
    username = form.text("username", 64)
    try:
        token, _staff = ctx.services.sessions.sign_in(
            username, form.data.get("password", [""])[0], address=login_address(ctx.request)
        )
    except Unauthorized as exc:
        return ctx.render(
            "login.html",
            title="Sign in",
            status=401,
            error=exc.detail,
            next=safe_next(form.text("next"), ""),
            username=username,
        )
    response = RedirectResponse(safe_next(form.text("next")), status_code=303)
    set_cookie(response, ctx.request, SESSION_COOKIE, token)
    clear_cookie(response, ctx.request, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, services: ServicesDep, form: FormDep) -> Response:
    """End the session; the cookie alone is worthless from then on."""
    services.sessions.sign_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/dashboard", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


# -- review ------------------------------------------------------------------------------
CASE_SORTS = ("created_at", "updated_at", "hashes", "matches", "status")
MATCH_SORTS = ("created_at", "distance")
HASH_SORTS = ("id", "type", "quality")
SEARCH_SORTS = ("distance", "type", "created_at")


@router.get("/queue")
def queue(ctx: StaffPage) -> HTMLResponse:
    """Pending cases, oldest first: confirm or reject each."""
    r = ctx.request
    sort = _sort(r, CASE_SORTS, "created_at", False)
    page = ctx.services.views.cases.page(
        status=CaseStatus.PENDING,
        search=None,
        sort=sort,
        page=_int(r, "page", 1),
        per_page=_per_page(r),
    )
    return ctx.render("queue.html", title="Review queue", section="queue", page=page, sort=sort)


@router.get("/queue/matches")
def queue_matches(ctx: StaffPage) -> HTMLResponse:
    """Matches a platform flagged as false positives, awaiting a moderator."""
    r = ctx.request
    sort = _sort(r, MATCH_SORTS, "created_at", False)
    page = ctx.services.views.matches.page(
        review="awaiting",
        action=None,
        client_id=None,
        sort=sort,
        page=_int(r, "page", 1),
        per_page=_per_page(r),
    )
    return ctx.render(
        "queue_matches.html",
        title="Matches awaiting review",
        section="queue",
        page=page,
        sort=sort,
    )


@router.get("/cases")
def cases(ctx: StaffPage) -> HTMLResponse:
    """Every case, filtered by status and id, sorted."""
    r = ctx.request
    status = _choice(r, "status", tuple(s.value for s in CaseStatus))
    search = r.query_params.get("q", "")[:40]
    sort = _sort(r, CASE_SORTS, "created_at", True)
    page = ctx.services.views.cases.page(
        status=status or None,
        search=search,
        sort=sort,
        page=_int(r, "page", 1),
        per_page=_per_page(r),
    )
    return ctx.render(
        "cases.html",
        title="Cases",
        section="cases",
        page=page,
        sort=sort,
        status_filter=status,
        q=search,
        statuses=[s.value for s in CaseStatus],
    )


@router.get("/cases/{case_id}")
def case(ctx: StaffPage, case_id: Id32) -> HTMLResponse:
    """One case: status, hashes, timeline, actions."""
    r = ctx.request
    hash_sort = _sort(r, HASH_SORTS, "id", False, prefix="h")
    detail = ctx.services.views.cases.detail(
        case_id,
        hash_page=_int(r, "hpage", 1),
        hash_sort=hash_sort,
        timeline_page=_int(r, "page", 1),
        newest_first=_choice(r, "order", ("asc", "desc"), "desc") == "desc",
        per_page=_per_page(r, 25),
    )
    return ctx.render(
        "case.html",
        title=f"Case {detail.case.public_id}",
        section="cases",
        detail=detail,
        hash_sort=hash_sort,
    )


@router.post("/cases/{case_id}/confirm")
def confirm_case(ctx: StaffPage, form: FormDep, case_id: Id32) -> Response:
    view = ctx.services.review.review_case(case_id, confirm=True, staff=_staff(ctx))
    return ctx.redirect(
        safe_next(form.text("back"), f"/dashboard/cases/{case_id}"),
        f"Case {view.case_id} confirmed: its hashes now act by their bank's policy.",
    )


@router.post("/cases/{case_id}/reject")
def reject_case(ctx: StaffPage, form: FormDep, case_id: Id32) -> Response:
    view = ctx.services.review.review_case(
        case_id, confirm=False, staff=_staff(ctx), reason=form.text("reason")
    )
    return ctx.redirect(
        safe_next(form.text("back"), f"/dashboard/cases/{case_id}"),
        f"Case {view.case_id} rejected: its hashes no longer match.",
    )


@router.get("/matches")
def matches(ctx: StaffPage) -> HTMLResponse:
    """Every match (re-upload attempt), filtered and sorted."""
    r = ctx.request
    review = _choice(r, "review", ("awaiting", "confirmed", "false_positive"))
    action = _choice(r, "action", ("block", "review"))
    clients = ctx.services.views.matches.client_names()
    client = _int(r, "client", 0, 0)
    client_id = client if any(c == client for c, _ in clients) else None
    sort = _sort(r, MATCH_SORTS, "created_at", True)
    page = ctx.services.views.matches.page(
        review=review or None,
        action=action or None,
        client_id=client_id,
        sort=sort,
        page=_int(r, "page", 1),
        per_page=_per_page(r),
    )
    return ctx.render(
        "matches.html",
        title="Matches",
        section="matches",
        page=page,
        sort=sort,
        review=review,
        action=action,
        client=client_id or 0,
        clients=clients,
    )


@router.post("/matches/{match_id}/false-positive")
def false_positive(ctx: StaffPage, form: FormDep, match_id: Id64) -> Response:
    """Put the match's *query* hash on the allow-list (the victim's hash keeps matching)."""
    ctx.services.matches.mark_false_positive(match_id, actor=_staff(ctx).actor)
    return ctx.redirect(
        safe_next(form.text("back"), "/dashboard/queue/matches"),
        f"Match {match_id} marked a false positive: the uploaded image's hash is on the "
        "allow-list.",
    )


@router.post("/matches/{match_id}/confirm")
def confirm_match(ctx: StaffPage, form: FormDep, match_id: Id64) -> Response:
    ctx.services.matches.confirm(match_id, actor=_staff(ctx).actor)
    return ctx.redirect(
        safe_next(form.text("back"), "/dashboard/queue/matches"),
        f"Match {match_id} confirmed as a re-upload.",
    )


@router.get("/search")
def search(ctx: StaffPage) -> Response:
    """By case id (straight to the case) or by hash, exactly or within a distance."""
    r = ctx.request
    kind = _choice(r, "type", ctx.services.types.names)
    distance = _int(r, "distance", 0, 0, 256)
    result = ctx.services.views.search.find(
        r.query_params.get("q", "")[:200], signal_type=kind, distance=distance
    )
    if result.case is not None:
        return RedirectResponse(f"/dashboard/cases/{result.case.id}", status_code=303)
    sort = _sort(r, SEARCH_SORTS, "distance", False)
    hits = sorted(
        result.hits, key=lambda h: (getattr(h, sort.key), h.signal_id), reverse=sort.descending
    )
    page = paginate(hits, _int(r, "page", 1), _per_page(r))
    return ctx.render(
        "search.html",
        sort=sort,
        title="Search",
        section="search",
        result=result,
        page=page,
        kind=kind,
        distance=distance,
    )


@router.post("/signals/{signal_id}/remove")
def remove_entry(ctx: AdminPage, form: FormDep, signal_id: Id64) -> Response:
    """Take a hash a bank holds itself (an allow-list entry, an imported hash) out of it."""
    bank = ctx.services.entries.remove_one(
        signal_id, actor=_staff(ctx).actor, reason=form.text("reason") or None
    )
    return ctx.redirect(
        safe_next(form.text("back"), "/dashboard/search"),
        f"Hash {signal_id} removed from bank {bank}: it no longer matches anywhere.",
    )


# -- audit -----------------------------------------------------------------------------
EXPORT_PARAMS = ("actor", "action", "since", "until", "sort", "order")


def _audit_filter(request: Request) -> AuditFilter:
    return AuditFilter(
        actor=request.query_params.get("actor", "")[:100],
        action=request.query_params.get("action", "")[:64],
        since=_date(request, "since"),
        until=_date(request, "until"),
    )


@router.get("/audit")
def audit(ctx: StaffPage) -> HTMLResponse:
    """Who did what, when: filter by actor, action and dates (UTC)."""
    r = ctx.request
    filters = _audit_filter(r)
    sort = _sort(r, ("at",), "at", True)
    page = ctx.services.views.audit.page(
        filters, newest_first=sort.descending, page=_int(r, "page", 1), per_page=_per_page(r)
    )
    return ctx.render(
        "audit.html",
        title="Audit log",
        section="audit",
        page=page,
        filters=filters,
        actions=ctx.services.views.audit.actions(),
        sort=sort,
        export_url=url_with(
            "/dashboard/audit.csv",
            {k: v for k, v in r.query_params.items() if k in EXPORT_PARAMS},
        ),
    )


@router.get("/audit.csv")
def audit_csv(ctx: StaffPage) -> StreamingResponse:
    """The filtered audit log as a CSV download (at most 50,000 events)."""
    r = ctx.request
    rows = ctx.services.views.audit.csv(
        _audit_filter(r), newest_first=_sort(r, ("at",), "at", True).descending
    )
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": 'attachment; filename="hashbank-audit.csv"',
        },
    )


# -- admin -------------------------------------------------------------------------------
@router.get("/banks")
def banks(ctx: AdminPage) -> HTMLResponse:
    """Banks: policy, thresholds, hashes; create one."""
    r = ctx.request
    sort = _sort(r, ("name", "policy", "hashes"), "name", False)
    rows = sorted(
        ctx.services.banks.list(), key=lambda b: getattr(b, sort.key), reverse=sort.descending
    )
    return ctx.render(
        "banks.html",
        title="Banks",
        section="banks",
        page=paginate(rows, _int(r, "page", 1), _per_page(r)),
        sort=sort,
        policies=[p.value for p in BankPolicy],
        perceptual=[t for t in ctx.services.types if t.perceptual],
    )


@router.post("/banks")
def create_bank(ctx: AdminPage, form: FormDep) -> Response:
    bank = ctx.services.banks.create(
        form.text("name", 64),
        form.text("policy", 16),
        actor=_staff(ctx).actor,
        description=form.text("description"),
        thresholds=_thresholds(ctx, form),
        phash_block=form.text("phash_block") == "on",
    )
    return ctx.redirect("/dashboard/banks", f"Bank {bank.name} created.")


@router.get("/clients")
def clients(ctx: AdminPage) -> HTMLResponse:
    """Platforms' API clients: scopes, rate limit, last use; create and revoke keys."""
    return _clients_page(ctx, new_key=None)


def _clients_page(ctx: AdminPage, *, new_key: tuple[str, str] | None) -> HTMLResponse:
    r = ctx.request
    sort = _sort(r, ("name", "created_at", "last_used_at"), "name", False)
    rows = ctx.services.admin.client_list()
    rows.sort(key=lambda c: (getattr(c, sort.key) is not None, getattr(c, sort.key) or 0))
    if sort.descending:
        rows.reverse()
    return ctx.render(
        "clients.html",
        title="API clients",
        section="clients",
        page=paginate(rows, _int(r, "page", 1), _per_page(r)),
        sort=sort,
        scopes=SCOPES,
        new_key=new_key,
        probing=ctx.services.views.statistics.probing_clients(),
    )


@router.post("/clients")
def create_client(ctx: AdminPage, form: FormDep) -> HTMLResponse:
    """Create a client; its key is on this response only (stored as a SHA-256)."""
    rate = form.text("rate_limit")
    rate_limit = form.number("rate_limit")
    if rate and rate_limit is None:
        raise InvalidInput("a rate limit is a whole number of requests per second")
    new = ctx.services.clients.create(
        form.text("name", 100),
        parse_scopes(form.all("scopes")),
        actor=_staff(ctx).actor,
        rate_limit=rate_limit,
        exact_distances=form.text("exact_distances") == "on",
    )
    return _clients_page(ctx, new_key=(new.client.name, new.key))


@router.post("/clients/{client_id}/distances")
def set_client_distances(ctx: AdminPage, form: FormDep, client_id: Id32) -> Response:
    """Give a client exact distances in its check answers, or take them away."""
    exact = form.text("exact") == "on"
    client = ctx.services.clients.set_exact_distances(client_id, exact, actor=_staff(ctx).actor)
    what = "exact distances" if exact else "only exact/near bands"
    return ctx.redirect("/dashboard/clients", f"Client {client.name} now gets {what}.")


@router.post("/clients/{client_id}/revoke")
def revoke_client(ctx: AdminPage, form: FormDep, client_id: Id32) -> Response:
    client = ctx.services.clients.revoke(client_id, actor=_staff(ctx).actor)
    return ctx.redirect(
        "/dashboard/clients", f"Client {client.name} revoked: its key now gets 401."
    )


@router.get("/webhooks")
def webhooks(ctx: AdminPage) -> HTMLResponse:
    """Platforms' webhook endpoints and each one's latest deliveries, with redelivery."""
    service = ctx.services.webhooks
    endpoints = service.list()
    return ctx.render(
        "webhooks.html",
        title="Webhooks",
        section="webhooks",
        endpoints=[(e, service.deliveries(e.id, limit=10)) for e in endpoints],
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
def redeliver_webhook(
    ctx: AdminPage, form: FormDep, endpoint_id: Id32, delivery_id: Id64
) -> Response:
    """Send a delivery's changes, and every later one, again (audited)."""
    ctx.services.webhooks.redeliver(endpoint_id, delivery_id, actor=_staff(ctx).actor)
    return ctx.redirect(
        "/dashboard/webhooks",
        f"Delivery {delivery_id} and every change after it will be sent again, in order.",
    )


@router.get("/users")
def users(ctx: AdminPage) -> HTMLResponse:
    """Dashboard users: roles, last sign-in; create, disable, enable."""
    r = ctx.request
    sort = _sort(r, ("username", "role", "last_login_at"), "username", False)
    rows = ctx.services.users.list()
    rows.sort(key=lambda u: (getattr(u, sort.key) is not None, getattr(u, sort.key) or 0))
    if sort.descending:
        rows.reverse()
    return ctx.render(
        "users.html",
        title="Users",
        section="users",
        page=paginate(rows, _int(r, "page", 1), _per_page(r)),
        sort=sort,
        roles=[role.value for role in Role],
    )


@router.post("/users")
def create_user(ctx: AdminPage, form: FormDep) -> Response:
    user = ctx.services.users.create(
        form.text("username", 64),
        form.data.get("password", [""])[0],
        form.text("role", 16),
        actor=_staff(ctx).actor,
    )
    return ctx.redirect("/dashboard/users", f"User {user.username} created ({user.role}).")


@router.post("/users/{user_id}/disable")
def disable_user(ctx: AdminPage, form: FormDep, user_id: Id32) -> Response:
    user = ctx.services.admin.set_user_disabled(user_id, True, staff=_staff(ctx))
    return ctx.redirect("/dashboard/users", f"User {user.username} disabled and signed out.")


@router.post("/users/{user_id}/enable")
def enable_user(ctx: AdminPage, form: FormDep, user_id: Id32) -> Response:
    user = ctx.services.admin.set_user_disabled(user_id, False, staff=_staff(ctx))
    return ctx.redirect("/dashboard/users", f"User {user.username} enabled.")


@router.get("/settings")
def settings(ctx: AdminPage) -> HTMLResponse:
    """Match thresholds: the defaults, and each bank's own."""
    r = ctx.request
    rows = sorted(ctx.services.banks.list(), key=lambda b: b.name)
    return ctx.render(
        "settings.html",
        title="Settings",
        section="settings",
        page=paginate(rows, _int(r, "page", 1), _per_page(r)),
        defaults=ctx.services.checks.thresholds,
        settings=ctx.services.settings,
        perceptual=[t for t in ctx.services.types if t.perceptual],
        exact=[t for t in ctx.services.types if not t.perceptual],
    )


@router.post("/settings/banks/{name}")
def set_thresholds(ctx: AdminPage, form: FormDep, name: str) -> Response:
    bank = ctx.services.banks.set_thresholds(
        name,
        actor=_staff(ctx).actor,
        thresholds=_thresholds(ctx, form),
        phash_block=form.text("phash_block") == "on",
    )
    return ctx.redirect("/dashboard/settings", f"Thresholds of bank {bank.name} saved.")


def _thresholds(ctx: PageContext, form: Fields) -> dict[str, int | None]:
    """The form's ``<type>_threshold`` field of each perceptual signal type."""
    return {
        spec.name: _threshold(form.text(f"{spec.name}_threshold"))
        for spec in ctx.services.types
        if spec.perceptual
    }


def _threshold(text: str) -> int | None:
    """Blank: the default threshold; else a whole number (range checked by the service)."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("a threshold is a whole number of bits, or blank") from None


def _staff(ctx: PageContext) -> Staff:
    assert ctx.staff is not None  # StaffPage and AdminPage require a signed-in user
    return ctx.staff


# -- static files ------------------------------------------------------------------------
@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    """The dashboard's stylesheet, script and icon (revalidated with ETags)."""
    return STATIC.response(name, request, STATIC_HEADERS)


# -- errors ------------------------------------------------------------------------------
_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible now",
    413: "Too large",
    422: "Please check the form",
    429: "Too many requests",
    503: "Temporarily unavailable",
}


def error_page(request: Request, problem: Problem) -> Response:
    """The page for an error under ``/dashboard`` (:mod:`app.web.errors` calls this).

    Signed out, a page redirects to the sign-in form and comes back after it.
    """
    if isinstance(problem.error, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method == "GET":
            return RedirectResponse(f"/dashboard?next={quote(target)}", status_code=303)
        return RedirectResponse("/dashboard", status_code=303)
    status = problem.status
    detail = "The address is not valid." if problem.source == "validation" else problem.detail
    staff = getattr(request.state, "staff", None)
    template = f"errors/{status}.html" if has_template(f"errors/{status}.html") else None
    html = render(
        template or "errors/error.html",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        section="",
        staff=staff,
        csrf=staff.csrf if staff is not None else "",
        flash=None,
        path=request.url.path,
        back=_section_of(request.url.path),
    )
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **problem.headers})


def _owns(path: str) -> bool:
    return path.startswith("/dashboard")


PAGES = Pages(_owns, error_page)  # the dashboard's errors are pages


def _section_of(path: str) -> str:
    """The list page an action belongs to: where "back" goes from an error."""
    parts = path.split("/")
    if len(parts) > 2 and parts[2] and "." not in parts[2]:
        return f"/dashboard/{parts[2]}"
    return "/dashboard"
