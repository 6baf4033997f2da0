"""`hashbank serve --workers N` comes up when its workers are slow to start.

Uvicorn asks each worker for a health answer and kills one that does not answer in
time; a worker can answer only once its interpreter has imported the service. With
uvicorn's default of 5 s, a machine busy enough to make that import take longer saw
every worker killed and replaced forever (found at load 20 on 2 cores: the server never
became ready). Here a `sitecustomize` on the workers' path makes each worker's start
8 s slower, as such a machine would.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.servers import Server, fresh_database_url

SLOW_START = """\
import time
from pathlib import Path

if b"spawn_main" in Path("/proc/self/cmdline").read_bytes():  # a uvicorn worker
    time.sleep(8)
"""


def test_workers_slower_to_start_than_uvicorns_default_still_serve(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_START)
    server = Server(
        tmp_path, fresh_database_url(tmp_path), extra_env={"PYTHONPATH": str(site)}, workers=2
    )
    try:
        server.start(timeout=150)
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        log = server.log_path.read_text()
        assert "died" not in log, log[-3000:]
    finally:
        server.stop()
