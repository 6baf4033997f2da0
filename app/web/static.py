"""A package's own static files (scripts, styles, icons), read once and served with ETags.

No third-party asset exists: everything a page loads comes from its package's ``static``
folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

from fastapi import HTTPException, Request, Response

__all__ = ["Asset", "StaticFolder"]

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


class StaticFolder:
    """The files of ``package``'s ``static`` folder (no sub-folders), kept in memory."""

    def __init__(self, package: str) -> None:
        self.package = package

    @cached_property
    def _assets(self) -> dict[str, Asset]:
        folder = resources.files(self.package).joinpath("static")
        out = {}
        for entry in folder.iterdir():
            suffix = "." + entry.name.rpartition(".")[2]
            if entry.is_file() and suffix in _TYPES:
                body = entry.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                out[entry.name] = Asset(body, _TYPES[suffix], etag)
        return out

    def asset(self, name: str) -> Asset | None:
        """The static file ``name``, or None when there is no such file."""
        return self._assets.get(name)

    @cached_property
    def _version(self) -> str:
        digest = hashlib.sha256()
        for name, item in sorted(self._assets.items()):
            digest.update(name.encode() + item.etag.encode())
        return digest.hexdigest()[:10]

    def version(self) -> str:
        """A short digest of every asset, for cache-busting URLs: changes whenever one
        of them does."""
        return self._version

    def response(self, name: str, request: Request, headers: Mapping[str, str]) -> Response:
        """The file as a response (304 when the browser's copy is current); 404 if none."""
        item = self.asset(name)
        if item is None:
            raise HTTPException(404, "Not Found")
        all_headers = {**headers, "ETag": item.etag}
        if request.headers.get("if-none-match") == item.etag:
            return Response(status_code=304, headers=all_headers)
        return Response(item.body, media_type=item.media_type, headers=all_headers)
