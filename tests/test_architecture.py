"""Imports flow one way: api/dashboard/portal -> services -> storage/index -> hashes."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(folder: Path) -> dict[Path, set[str]]:
    out = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        out[path] = names
    return out


def _violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {name}"
        for path, names in _imports(REPO / folder).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_hashes_is_pure():
    assert (
        _violations(
            "hashes",
            ("app", "fastapi", "starlette", "sqlalchemy", "alembic", "httpx", "psycopg", "uvicorn"),
        )
        == []
    )


def test_services_do_not_know_the_web():
    assert (
        _violations(
            "app/services",
            ("fastapi", "starlette", "app.api", "app.dashboard", "app.portal", "app.web"),
        )
        == []
    )


def test_storage_and_index_do_not_call_services():
    assert _violations("app/storage", ("app.services", "app.api", "fastapi")) == []
    assert _violations("app/index", ("app.services", "app.api", "fastapi")) == []


def test_only_storage_writes_sql():
    bad = _violations("app/services", ("sqlalchemy.sql",)) + _violations("app/api", ("sqlalchemy",))
    assert bad == []


def test_only_storage_imports_the_database_libraries():
    """Services get ``Session`` and ``DatabaseError`` from ``app.storage``; queries live
    in its repositories."""
    bad = [
        v
        for v in _violations("app", ("sqlalchemy", "alembic", "psycopg"))
        if not v.startswith("app/storage/")
    ]
    assert bad == []


WEB_LAYERS = ("app/api/", "app/web/", "app/dashboard/", "app/portal/", "app/main.py")


def test_only_the_web_layers_import_fastapi_and_starlette():
    """``app/main.py`` is the app factory; the rest of the web is in its layers."""
    bad = [v for v in _violations("app", ("fastapi", "starlette")) if not v.startswith(WEB_LAYERS)]
    assert bad == []
