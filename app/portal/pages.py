"""Rendering the portal's pages: templates, the data handed to scripts, response headers."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from app.config import Settings
from app.portal.content import contacts
from app.portal.follow import FollowOutcome
from app.portal.i18n import LANGUAGES, NAMES, texts
from app.web.headers import content_security_policy, page_headers, static_headers
from app.web.static import StaticFolder

__all__ = ["CSP", "PAGE_HEADERS", "STATIC", "STATIC_HEADERS", "render"]

# The hashing runs in a worker of this origin; a chosen video is played (never shown)
# from a blob: URL of the file on this device, to draw its frames; "back" after a quick
# exit reloads a blank form (no-store) instead of restoring a case number and PIN from
# the page cache.
CSP = content_security_policy("worker-src 'self'", "media-src blob:")
PAGE_HEADERS = page_headers(CSP, Vary="Accept-Language")
STATIC_HEADERS = static_headers(CSP)
STATIC = StaticFolder("app.portal")

_env = Environment(
    loader=PackageLoader("app.portal", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _script_json(data: dict[str, Any]) -> Markup:
    """JSON safe inside <script type="application/json"> (no "</script>" can appear)."""
    text = json.dumps(data, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a JSON data block


def size_text(n_bytes: int, lang: str) -> str:
    """A byte count as people read it: "32 MB" (French: "32 Mo"), or KB under 1 MB."""
    mb, kb = ("Mo", "Ko") if lang == "fr" else ("MB", "KB")
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes // (1024 * 1024)} {mb}"
    return f"{max(1, n_bytes // 1024)} {kb}"


def _video_upload_bytes(settings: Settings) -> int:
    """The largest video the page may send to be hashed in the server's memory: within
    the server's video limit and the request body limit of /v1/cases (a multipart
    request's own headers take some room)."""
    return max(0, min(settings.max_video_bytes, settings.max_body_bytes - 64 * 1024))


def _page_config(lang: str, settings: Settings) -> dict[str, Any]:
    """What the page's scripts need: limits the server enforces, texts, the exit site."""
    return {
        "lang": lang,
        "exitUrl": contacts(lang).exit_url,
        "limits": {
            "maxBytes": settings.max_image_bytes,
            "maxSize": size_text(settings.max_image_bytes, lang),
            "maxPixels": settings.max_image_pixels,
            "maxHashes": settings.max_hashes_anonymous,
            "minPdqQuality": settings.min_pdq_quality,
            "maxVideoBytes": _video_upload_bytes(settings),
            "maxVideoSeconds": settings.max_video_seconds,
            "maxVideoFrames": settings.max_video_frames,
            "pinAttempts": settings.pin_attempts,
        },
        "texts": texts(lang).for_scripts(),
    }


def render(
    page: str,
    lang: str,
    settings: Settings,
    *,
    path: str,
    outcome: FollowOutcome | None = None,
) -> str:
    """The HTML of ``page`` (``report`` or ``follow``) in ``lang``; ``outcome`` is the
    result of a follow form posted without JavaScript."""
    t = texts(lang)
    switch = [
        {"code": code, "name": NAMES[code], "url": f"{path}?lang={code}", "current": code == lang}
        for code in LANGUAGES
    ]
    return _env.get_template(f"{page}.html").render(
        t=t,
        lang=lang,
        page=page,
        languages=switch,
        help=contacts(lang),
        config=_script_json(_page_config(lang, settings)),
        max_size=size_text(settings.max_image_bytes, lang),
        max_video_size=size_text(_video_upload_bytes(settings), lang),
        v=STATIC.version(),
        outcome=outcome,
    )
