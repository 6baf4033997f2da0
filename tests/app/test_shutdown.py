"""Graceful shutdown: on SIGTERM the requests in flight finish, the process exits, and
the batched "last used" times of API keys are written before it goes."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import httpx

from tests import images
from tests.servers import Server


def _send_upload(server: Server, key: str, photo: bytes) -> socket.socket:
    """Send a whole image-check request on a raw socket (the answer is read later)."""
    boundary = "shutdowntest"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(head + body)
    return sock


def _status(sock: socket.socket) -> int:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return int(data.split(b" ", 2)[1])


def test_sigterm_finishes_requests_in_flight(server_factory) -> None:
    # six uploads in flight at once: more than the default decode slots of a 2-core box
    server: Server = server_factory(extra_env={"HASHBANK_MAX_CONCURRENT_DECODES": "8"})
    key = server.create_client("platform", "check")
    photo = images.jpeg("astronaut")
    assert _status(_send_upload(server, key, photo)) == 200  # the key is known, code warm
    socks = [_send_upload(server, key, photo) for _ in range(6)]
    time.sleep(0.5)  # accepted and being hashed (each takes tens of milliseconds or more)
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGTERM)
    assert [_status(s) for s in socks] == [200] * 6
    # uvicorn re-raises the signal once shut down, so "terminated by SIGTERM" is the clean exit
    assert server.proc.wait(20) in (0, -signal.SIGTERM)
    try:
        httpx.get(server.url + "/healthz", timeout=2)
        raise AssertionError("the server still answers after SIGTERM")
    except httpx.ConnectError:
        pass
    lines = server.cli("clients", "list", "--json").stdout.splitlines()
    used = [json.loads(line) for line in lines if json.loads(line)["name"] == "platform"]
    assert used and used[0]["last_used_at"] is not None  # flushed at shutdown
