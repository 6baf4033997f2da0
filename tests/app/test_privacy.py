"""No image byte reaches the disk: upload through every route that takes images, then scan
the database files, the server's working and temp directories and its logs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests import images
from tests.servers import Server


def _needles(data: bytes, n: int = 12, width: int = 48) -> list[bytes]:
    """Windows from all over the image (headers alone could be generic)."""
    step = max(1, (len(data) - width) // n)
    return [data[i : i + width] for i in range(64, len(data) - width, step)][:n]


def _scan(paths: list[Path], needles: list[bytes]) -> list[str]:
    found = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            blob = path.read_bytes()
            found += [f"{path}: window {i}" for i, n in enumerate(needles) if n in blob]
    return found


def test_uploaded_images_never_touch_disk(server_factory, tmp_path: Path):
    server: Server = server_factory()
    key = server.create_client(scopes="check,report")
    uploads = [
        images.jpeg("astronaut", 95),
        images.png("coffee"),  # ~600 KB: multipart would spool this to disk in Starlette
        images.encode(images.photo("rocket"), "WEBP", quality=90),
        images.encode(images.photo("chelsea"), "TIFF"),
    ]
    with server.client() as c:
        case = c.post(
            "/v1/cases",
            files=[
                ("image", (f"i{i}", d, "application/octet-stream"))
                for i, d in enumerate(uploads[:2])
            ],
        )
        assert case.status_code == 201, case.text
        case = case.json()
        r = c.post(
            f"/v1/cases/{case['case_id']}/hashes",
            headers={"X-Case-Pin": case["pin"]},
            files={"image": ("more.webp", uploads[2], "image/webp")},
        )
        assert r.status_code == 200, r.text
    with server.client(key) as c:
        for data in uploads:
            assert (
                c.post("/v1/check", files={"image": ("up", data, "image/jpeg")}).status_code == 200
            )
        assert (
            c.post("/v1/cases", files={"image": ("t.tiff", uploads[3], "image/tiff")}).status_code
            == 201
        )
    server.stop()  # flush everything the process may have buffered

    needles = [n for data in uploads for n in _needles(data)]
    places = [server.workdir, Path(tempfile.gettempdir()) / "hashbank-never-used"]
    assert (
        server.log_path.exists()
        and any(server.workdir.glob("hashbank.db*"))
        or server.database_url.startswith("postgresql")
    )
    assert _scan([p for p in places if p.exists()], needles) == []
    # the scan itself can find bytes: prove it on a file we write on purpose
    planted = tmp_path / "planted.bin"
    planted.write_bytes(b"prefix" + uploads[1][1000:5000])
    assert _scan([planted], _needles(uploads[1][1000:5000], width=32)) != []


def test_victim_routes_log_no_ip_address(server_factory):
    server: Server = server_factory()
    with server.client() as c:
        case = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": "ab" * 32}]}).json()
        c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": "0000-0000-0000"})
        c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    server.stop()
    log = server.log_path.read_text()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [r for r in records if r["logger"] == "hashbank.access"]
    assert len([r for r in requests if r["path"].startswith("/v1/cases")]) == 4
    # no record carries the client's address (the startup banner names the listen address
    # and the database URL, which are configuration, not a visitor's address)
    listening = f"http://127.0.0.1:{server.port}"
    assert [r for r in records if "127.0.0.1" in json.dumps(r).replace(listening, "")] == []
    assert case["case_id"] not in log and case["pin"] not in log
