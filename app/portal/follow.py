"""Following a case without JavaScript: the follow form posted to the page itself.

With JavaScript the page calls the API and this is never used. Without it (a browser in
its safest mode, an old phone) the form posts here and the page comes back with the
case, or with a withdrawal to confirm. The PIN travels in form bodies only, never in an
address; the page holds it (in the withdraw form) only while the case is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.errors import CaseLocked, Conflict, HashbankError, NotFound, RateLimited, Unauthorized
from app.portal.i18n import Texts
from app.services.cases import CaseService, CaseView
from app.services.ratelimit import PinAttempts

__all__ = ["ACTIONS", "FollowOutcome", "explain", "follow_case"]

ACTIONS = ("show", "withdraw", "withdraw-confirmed")


def explain(error: Exception, t: Texts, *, pin_attempts: int) -> str:
    """The follow page's words for ``error`` (a refused follow-up, or bad input to the
    page: :func:`app.portal.routes.error_page` says it with these words too)."""
    if isinstance(error, RateLimited):
        return t("js.error.pin_rate_limited", minutes=max(1, math.ceil(error.retry_after / 60)))
    if isinstance(error, CaseLocked):
        return t("js.error.locked", minutes=max(1, math.ceil(error.retry_after / 60)))
    if isinstance(error, Unauthorized | NotFound):
        return t("js.error.wrong_pin", n=pin_attempts)
    if isinstance(error, Conflict):
        return t("js.error.closed")
    return t("js.error.invalid")


@dataclass(frozen=True)
class FollowOutcome:
    """What the follow page shows after a post."""

    case_id: str
    view: CaseView | None = None
    pin: str | None = None  # put back in the page's forms while the case is shown
    confirm: bool = False  # a withdrawal waits for "yes"
    error: str | None = None
    message: str | None = None
    retry_after: int | None = None  # the address tried too many PINs: 429 with Retry-After


def follow_case(
    cases: CaseService,
    case_id: str,
    pin: str,
    action: str,
    t: Texts,
    *,
    pin_attempts: int,
    attempts: PinAttempts,
) -> FollowOutcome:
    """Show a case, ask to confirm its withdrawal, or withdraw it (``action``).

    ``attempts``: the address's budget of failed PIN checks, shared with the API.
    """
    if not case_id.strip() or not pin.strip():
        return FollowOutcome(case_id, error=t("js.follow.missing"))
    try:
        with attempts:
            if action == "withdraw-confirmed":
                view = cases.withdraw(case_id, pin)
                return FollowOutcome(view.case_id, view, message=t("js.withdraw.done"))
            view = cases.status(case_id, pin)
    except HashbankError as exc:
        # a locked case answers 200 with its words; only the address's budget is a 429
        retry = exc.retry_after if isinstance(exc, RateLimited) else None
        error = explain(exc, t, pin_attempts=pin_attempts)
        return FollowOutcome(case_id, error=error, retry_after=retry)
    confirm = action == "withdraw" and view.status != "withdrawn"
    return FollowOutcome(view.case_id, view, pin=pin, confirm=confirm)
