"""Graceful shutdown: on SIGTERM the requests in flight finish, the process exits, and
the batched "last used" times of API keys are written before it goes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx

from tests import images
from tests.servers import Server


def test_sigterm_finishes_requests_in_flight(server_factory) -> None:
    server: Server = server_factory()
    key = server.create_client("platform", "check")
    photo = images.jpeg("astronaut")
    results: list[int] = []

    def upload() -> None:
        with server.client(key) as c:
            files = [("image", ("a.jpg", photo, "image/jpeg"))]
            results.append(c.post("/v1/check", files=files).status_code)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.15)  # the uploads are being hashed now
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert results == [200] * 6
    # uvicorn re-raises the signal once shut down, so "terminated by SIGTERM" is the clean exit
    assert server.proc.wait(20) in (0, -signal.SIGTERM)
    try:
        httpx.get(server.url + "/healthz", timeout=2)
        raise AssertionError("the server still answers after SIGTERM")
    except httpx.ConnectError:
        pass
    lines = server.cli("clients", "list", "--json").stdout.splitlines()
    clients = [json.loads(line) for line in lines]
    used = [c for c in clients if c["name"] == "platform"]
    assert used and used[0]["last_used_at"] is not None  # flushed at shutdown
