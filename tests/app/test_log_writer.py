"""A log write that waits does not hold up the server's answers, and nothing is lost.

Every request is logged (one JSON line). The lines used to be written in the event loop's
thread: when the write waited (stderr a full pipe, a disk busy writing back an index
snapshot: p99 of checks x18-25 in ``/tmp`` measurements of session 30), every request of
the process waited with it. Here stderr is a pipe nobody reads for a while: it fills
after a few hundred lines, the server must keep answering, and once the pipe is read
again every line must arrive.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.servers import HASHBANK, Server, fresh_database_url

REQUESTS = 1_500  # ~250 KB of log lines: a pipe (64 KiB) is full long before


def _drain(stream: object, into: list[bytes]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)


def test_requests_are_answered_while_the_log_cannot_be_written(tmp_path: Path) -> None:
    server = Server(tmp_path, fresh_database_url(tmp_path))
    proc = subprocess.Popen(  # noqa: S603
        [HASHBANK, "serve", "--port", str(server.port)],
        cwd=tmp_path,
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # not read until the requests are done
        start_new_session=True,
    )
    assert proc.stderr is not None
    lines: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, lines), daemon=True)
    try:
        server.proc = proc  # type: ignore[assignment]
        server.wait_ready(120)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(REQUESTS):
                assert client.get("/healthz").status_code == 200
    except httpx.TimeoutException:
        pytest.fail("the server stopped answering when its log pipe was full")
    finally:
        reader.start()  # the pipe read again: what was queued can be written
        os.killpg(proc.pid, 15)
        proc.wait(30)
        reader.join(30)
        proc.stderr.close()
    answered = [
        entry
        for entry in (json.loads(line) for line in lines if line.startswith(b"{"))
        if entry.get("message") == "request" and entry.get("path") == "/healthz"
    ]
    assert len(answered) == REQUESTS  # written in the end, every one, and once
