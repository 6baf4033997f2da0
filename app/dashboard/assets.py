"""The dashboard's own stylesheet, script and icon, read once and served with ETags.

No third-party asset exists: everything the pages load comes from this folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Asset", "asset", "version"]

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def _assets() -> dict[str, Asset]:
    folder = resources.files("app.dashboard").joinpath("static")
    out = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            out[entry.name] = Asset(body, _TYPES[suffix], etag)
    return out


def asset(name: str) -> Asset | None:
    """The static file ``name`` (no folders), or None when there is no such file."""
    return _assets().get(name)


@cache
def version() -> str:
    """A short digest of every asset, for cache-busting URLs."""
    digest = hashlib.sha256()
    for name, item in sorted(_assets().items()):
        digest.update(name.encode() + item.etag.encode())
    return digest.hexdigest()[:10]
