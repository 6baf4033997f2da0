"""Where the page sends people for help: helplines, legal aid and the quick-exit site.

All of it is in ``helplines.json`` beside this module, one list per language, so that
the organisation running hashbank changes them in one place (see docs/portal.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Contact", "Contacts", "contacts"]


@dataclass(frozen=True)
class Contact:
    """One organisation: who they are, what they help with, how to reach them."""

    name: str
    what: str
    url: str
    phone: str | None = None


@dataclass(frozen=True)
class Group:
    title: str
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class Contacts:
    """The help shown on the pages of one language."""

    exit_url: str
    helplines: tuple[Group, ...]
    legal_aid: tuple[Group, ...]


def _groups(raw: list[dict[str, object]]) -> tuple[Group, ...]:
    groups = []
    for group in raw:
        items = group["contacts"]
        assert isinstance(items, list)
        groups.append(
            Group(
                title=str(group["title"]),
                contacts=tuple(
                    Contact(
                        name=str(c["name"]),
                        what=str(c["what"]),
                        url=str(c["url"]),
                        phone=str(c["phone"]) if c.get("phone") else None,
                    )
                    for c in items
                ),
            )
        )
    return tuple(groups)


@cache
def contacts(lang: str) -> Contacts:
    """The helplines, legal aid and quick-exit address for ``lang``."""
    raw = json.loads(resources.files("app.portal").joinpath("helplines.json").read_text("utf-8"))
    entry = raw[lang]
    return Contacts(
        exit_url=str(entry["exit_url"]),
        helplines=_groups(entry["helplines"]),
        legal_aid=_groups(entry["legal_aid"]),
    )
