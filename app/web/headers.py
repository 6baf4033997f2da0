"""Security headers of the server-rendered pages and of their static files."""

from __future__ import annotations

__all__ = ["content_security_policy", "page_headers", "static_headers"]


def content_security_policy(*extra: str) -> str:
    """Everything from hashbank itself: no inline script or style, fetches and form posts
    stay on this origin, and the page cannot be framed. ``extra`` adds directives (e.g.
    ``worker-src 'self'``)."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            *extra,
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(csp: str, **extra: str) -> dict[str, str]:
    """Headers of an HTML page: ``no-store`` (case ids, PINs, hashes and keys are never
    kept by a browser or a proxy, and "back" never restores them from the page cache)."""
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        **extra,
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def static_headers(csp: str) -> dict[str, str]:
    """Headers of a static file: revalidated on each use (ETag), same-origin only."""
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-cache",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
