"""A webhook receiver for tests and benchmarks: a real process on a real port.

    python -m tests.webhook_receiver PORT LOG

Every request is appended to LOG as one JSON line (``path``, ``headers``, ``body`` as
text, ``at``: the receiver's clock) and answered by its path:

- ``/ok...``: 200;
- ``/status/NNN``: that status;
- ``/redirect``: 302 to ``/ok-redirected`` on the same receiver (a webhook must not follow);
- ``/slow``: waits 30 s, then 200 (a webhook must time out and go on with others);
- ``/huge``: 200 with 50 MB of body (a webhook must read at most 64 KB of it).

:class:`Receiver` starts and stops such a process from a test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port

_LOCK = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    log_file: Path

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        entry = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode(),
            "at": time.time(),
        }
        with _LOCK, self.log_file.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        if self.path.startswith("/status/"):
            self._answer(int(self.path.rsplit("/", 1)[1]))
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok-redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            time.sleep(30)
            self._answer(200)
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(800):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the webhook stopped reading: as it should
        else:
            self._answer(200)

    def do_GET(self) -> None:  # readiness
        self._answer(200)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@dataclass
class Receiver:
    """The receiver process, as a test holds it."""

    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.webhook_receiver", str(self.port), str(self.log)],
            cwd=Path(__file__).resolve().parents[1],
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url("/"), timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every request received so far (of ``path`` only, if given)."""
        if not self.log.exists():
            return []
        lines = [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]
        return [r for r in lines if path is None or r["path"] == path]

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every event of every delivery received, in the order received."""
        return [e for r in self.requests(path) for e in json.loads(r["body"])["events"]]


def main() -> None:
    port, log = int(sys.argv[1]), Path(sys.argv[2])
    _Handler.log_file = log
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
