"""``/docs``: Swagger UI served from this process, under a CSP that allows nothing else.

FastAPI's own page loads Swagger UI from a CDN (no integrity check) and starts it with an
inline script, so its CSP had to allow both, on the dashboard's origin. Here the files
come from the pinned ``fastapi-offline`` package (Swagger UI's own build, byte for byte
the ``swagger-ui-dist`` release it names) and a small external script of ours starts it:
the page works without any network, and its CSP allows scripts and styles from this
origin only.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from importlib import resources

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app.web.headers import page_headers, static_headers
from app.web.static import Asset

__all__ = ["DOCS_CSP", "router"]

# Swagger UI's stylesheet draws its icons from data: URIs; "Try it out" fetches this origin.
DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
VENDOR = ("swagger-ui-bundle.js", "swagger-ui.css")  # of fastapi_offline's static folder
OURS = ("docs.js",)  # of app/web/static
_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@cache
def _asset(name: str) -> Asset | None:
    if name in VENDOR:
        path = resources.files("fastapi_offline").joinpath("static", name)
    elif name in OURS:
        path = resources.files("app.web").joinpath("static", name)
    else:
        return None
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    return Asset(body, _TYPES[name.rpartition(".")[2]], etag)


@cache
def _version() -> str:
    digest = hashlib.sha256()
    for name in (*VENDOR, *OURS):
        asset = _asset(name)
        assert asset is not None
        digest.update(asset.etag.encode())
    return digest.hexdigest()[:10]


def _page(title: str) -> str:
    v = _version()
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{html.escape(title)} - API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css?v={v}">
<script src="/docs/static/swagger-ui-bundle.js?v={v}"></script>
<script src="/docs/static/docs.js?v={v}"></script>
</head>
<body>
<div id="swagger-ui"></div>
</body>
</html>
"""


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """The interactive API documentation (Swagger UI) of ``/openapi.json``."""
    return HTMLResponse(_page(request.app.title), headers=page_headers(DOCS_CSP))


@router.get("/docs/static/{name}")
def docs_static(name: str, request: Request) -> Response:
    """Swagger UI's script and stylesheet, and the script that starts it (ETags)."""
    item = _asset(name)
    if item is None:
        raise HTTPException(404, "Not Found")
    headers = {**static_headers(DOCS_CSP), "ETag": item.etag}
    if request.headers.get("if-none-match") == item.etag:
        return Response(status_code=304, headers=headers)
    return Response(item.body, media_type=item.media_type, headers=headers)
