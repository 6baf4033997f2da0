"""Languages of the reporting page: negotiation and translated texts.

The language comes from ``?lang=`` (the page's switcher), else from the browser's
``Accept-Language``; nothing is remembered between requests (no cookie). Texts live in
``translations/<lang>.json``, one flat key per text; every language has every key (a
test checks it). Keys starting with ``js.`` are also handed to the page's scripts.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["DEFAULT", "LANGUAGES", "Texts", "negotiate", "texts"]

LANGUAGES = ("en", "fr", "nl")
DEFAULT = "en"
NAMES = {"en": "English", "fr": "Français", "nl": "Nederlands"}


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """The page language: ``requested`` if supported, else the browser's best, else English."""
    if requested and requested.lower() in LANGUAGES:
        return requested.lower()
    best, best_q = DEFAULT, 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:  # strictly: on a tie the earlier entry (the browser's order) wins
            best, best_q = primary, q
    return best


class Texts:
    """The texts of one language; ``texts("key", n=3)`` formats ``{n}`` placeholders."""

    def __init__(self, lang: str, table: dict[str, str]) -> None:
        self.lang = lang
        self.table = table

    def __call__(self, key: str, **values: Any) -> str:
        text = self.table[key]  # a missing key is a bug: fail loudly
        return text.format(**values) if values else text

    def for_scripts(self) -> dict[str, str]:
        """The ``js.*`` texts, without their prefix, for the page's scripts."""
        return {k[3:]: v for k, v in self.table.items() if k.startswith("js.")}


@cache
def texts(lang: str) -> Texts:
    """The texts of ``lang`` (one of :data:`LANGUAGES`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    raw = resources.files("app.portal").joinpath("translations", f"{lang}.json").read_text("utf-8")
    table: dict[str, str] = json.loads(raw)
    return Texts(lang, table)
