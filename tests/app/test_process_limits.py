"""Limits of each server process: no core dump can hold an uploaded image (the server and
every worker forbid core files and are not dumpable), and image decoding is capped per
process (503 + Retry-After past HASHBANK_MAX_CONCURRENT_DECODES)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hashes._images import encode, skimage_photo
from tests.servers import Server, fresh_database_url


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _core_limit(pid: int) -> tuple[str, str]:
    line = next(
        line
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
        if line.startswith("Max core file size")
    )
    soft, hard = line.split()[4:6]
    return soft, hard


METRICS_KEY = "metrics-" + "k" * 32


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Two workers, /metrics behind a bearer key."""
    workdir = tmp_path_factory.mktemp("workers")
    env = {"HASHBANK_METRICS_KEY": METRICS_KEY}
    server = Server(workdir, fresh_database_url(workdir), extra_env=env, workers=2).start()
    yield server
    server.stop()


def test_the_server_and_its_workers_forbid_core_dumps(workers: Server) -> None:
    server = workers
    assert server.proc is not None
    pids = [server.proc.pid, *_descendants(server.proc.pid)]
    workers = [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(workers) == 2, pids
    # the kernel's own view of every process's limit: no core file, soft or hard
    assert {p: _core_limit(p) for p in pids} == {p: ("0", "0") for p in pids}
    # each worker's PR_GET_DUMPABLE, as it reports it (one series per worker)
    with server.client(METRICS_KEY) as c:
        text = c.get("/metrics").text
    dumpable = {
        int(pid): float(value)
        for pid, value in re.findall(
            r'^hashbank_process_dumpable\{pid="(\d+)"\} (\S+)$', text, re.M
        )
    }
    # every worker reports it, and every process that ever reported says 0 (uvicorn may
    # replace a worker that missed its health check on a loaded machine: the series of
    # the replaced one stays in the shared metrics directory)
    assert set(workers) <= set(dumpable) and set(dumpable.values()) == {0.0}, dumpable


def test_metrics_need_the_metrics_key_when_one_is_set(workers: Server) -> None:
    key = workers.create_client(scopes="check,report,feed,admin")
    for wrong in (None, key, "x" * 40, METRICS_KEY + "x", METRICS_KEY[:-1]):
        with workers.client(wrong) as c:
            r = c.get("/metrics")
            assert r.status_code == 401, wrong
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "hashbank_" not in r.text
    with workers.client(METRICS_KEY) as c:
        r = c.get("/metrics")
    assert r.status_code == 200 and "hashbank_http_requests" in r.text
    with workers.client() as c:  # the other operational routes stay open
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_concurrent_decodes_are_capped(server_factory) -> None:
    server: Server = server_factory(
        extra_env={"HASHBANK_MAX_CONCURRENT_DECODES": "1", "HASHBANK_DECODE_WAIT_SECONDS": "0"}
    )
    key = server.create_client("platform", "check")
    photo = skimage_photo("coffee.png").resize((2400, 1600))
    large = encode(photo, "PNG")  # ~0.2-0.5 s to decode and hash here
    small = encode(skimage_photo("coffee.png"), "JPEG")
    answers: list[httpx.Response] = []

    def upload(barrier: threading.Barrier) -> None:
        with server.client(key) as c:
            barrier.wait()
            answers.append(c.post("/v1/check", files={"image": ("big.png", large, "image/png")}))

    for _ in range(3):  # at most three rounds of four parallel uploads
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=upload, args=(barrier,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if any(r.status_code == 503 for r in answers):
            break
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) == {200, 503}, statuses
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert busy.json()["type"].endswith("/busy")
    with server.client(key) as c:  # the slot is given back: alone, an upload is hashed
        r = c.post("/v1/check", files={"image": ("small.jpg", small, "image/jpeg")})
        assert r.status_code == 200
    with server.client() as anonymous:
        report = anonymous.post("/v1/cases", files={"image": ("s.jpg", small, "image/jpeg")})
        assert report.status_code == 201


def test_uploads_past_the_cap_wait_in_line_for_a_slot(server_factory) -> None:
    """With the default wait, a burst of parallel uploads past the cap is queued, not
    refused: every one is hashed, while the cap still holds decoding to one at a time."""
    server: Server = server_factory(extra_env={"HASHBANK_MAX_CONCURRENT_DECODES": "1"})
    key = server.create_client("platform", "check")
    large = encode(skimage_photo("coffee.png").resize((2400, 1600)), "PNG")
    barrier = threading.Barrier(4)
    answers: list[httpx.Response] = []

    def upload() -> None:
        with server.client(key) as c:
            barrier.wait()
            answers.append(c.post("/v1/check", files={"image": ("big.png", large, "image/png")}))

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200]
