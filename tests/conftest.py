"""Shared fixtures: real server processes on real databases (see tests/servers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.privacy_audit import suite_privacy_audit  # noqa: F401  (the session's privacy audit)
from tests.servers import Server, fresh_database_url

REPO = Path(__file__).resolve().parents[1]

# Modules whose outcome no database engine can change (most never touch one): the
# PostgreSQL pass of scripts/test.sh
# leaves them out (``-m "not engine_agnostic"``) to keep CI short; every other test of
# tests/app and tests/browser (each that reports, imports or reads a case) runs on both.
ENGINE_AGNOSTIC = {
    "tests/app/test_allocator.py": "page faults of image hashing in fresh interpreters",
    "tests/app/test_bench_cli.py": "the index benchmarks, no server",
    "tests/app/test_docs.py": "settings in the README and routes in the OpenAPI document",
    "tests/app/test_exchange_file_formats.py": "hash-file readers and writers, no database",
    "tests/app/test_webhook_urls.py": "webhook URLs, addresses and signatures, no database",
    "tests/app/test_signal_specs.py": "the built-in signal specs' numbers in settings and services",
    "tests/browser/test_portal_hashing.py": "the page's JavaScript hashing against Python's",
    "tests/app/test_worker_startup.py": "uvicorn's supervision of slow-starting workers",
    "tests/app/test_log_writer.py": "the log's writing thread, no database work",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).relative_to(REPO).as_posix() in ENGINE_AGNOSTIC:
            item.add_marker(pytest.mark.engine_agnostic)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the whole session (tests must not assume an empty bank)."""
    workdir = tmp_path_factory.mktemp("live")
    server = Server(workdir, fresh_database_url(workdir)).start()
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Start servers of a test's own; ``database_url`` shares a database between them."""
    started: list[Server] = []

    def make(database_url: str | None = None, start: bool = True, **kwargs: object) -> Server:
        workdir = tmp_path_factory.mktemp("srv")
        server = Server(workdir, database_url or fresh_database_url(workdir), **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start() if start else server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def api_key(live_server: Server) -> str:
    """A key with every scope on the session server."""
    return live_server.create_client("all-scopes", "check,report,feed,admin")
