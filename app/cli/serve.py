"""``hashbank serve``: run the HTTP service (API, dashboard, reporting page)."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer
import uvicorn

import hashes
from app import hardening
from app.config import Settings
from app.logs import configure_logging
from app.services.container import Services


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each holds its own index).")] = 1,
) -> None:
    """Serve hashbank. The schema is brought up to date first."""
    hardening.harden()  # no core dump of this process; each worker does it again
    settings = Settings()
    configure_logging(settings.log_level, settings.log_file)
    try:
        svc = Services.build(settings)  # migrates, under a lock, before workers start
    except hashes.SignalSpecError as exc:
        typer.echo(f"error: signal types: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        first_run = svc.users.count() == 0 and not svc.clients.list()
    finally:
        svc.close()
    typer.echo(
        f"hashbank on http://{host}:{port}  (database: {_safe_url(settings.database_url)})",
        err=True,
    )
    if first_run:
        typer.echo(
            "\nFirst run: nobody can sign in yet. In another terminal:\n"
            "  # a dashboard login (asks for a password):\n"
            "  .venv/bin/hashbank users create admin --role admin\n"
            "  # an API key for a platform (shown once):\n"
            "  .venv/bin/hashbank clients create my-platform --scopes check,report,feed\n"
            f"Then open http://{host}:{port}/dashboard (moderators)"
            f" or http://{host}:{port}/ (reporting page).\n",
            err=True,
        )
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # the workers share their metric values here (numbers only), removed on exit
        metrics_dir = tempfile.TemporaryDirectory(prefix="hashbank-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
    uvicorn.run(
        "app.main:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # uvicorn's access log prints client addresses
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
    )


def _safe_url(url: str) -> str:
    from app.storage.db import safe_url

    return safe_url(url)
