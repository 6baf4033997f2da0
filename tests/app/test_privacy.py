"""No image or video byte reaches the disk: upload through every route that takes images
or videos, then scan the database files, the server's working and temp directories and
its logs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests import images
from tests.hashes._videos import photo_clip
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


def test_uploaded_videos_never_touch_disk(server_factory, tmp_path: Path):
    """A video checked or reported by upload (multipart field ``video``, hashed by FFmpeg
    from memory) leaves none of its bytes in the database, logs or temp dir; a corrupt
    one, refused, neither."""
    server: Server = server_factory()
    key = server.create_client(scopes="check,report")
    mp4, webm = photo_clip("h264", 10, 2.0), photo_clip("vp9", 10, 1.0)
    broken = mp4[: len(mp4) // 2]  # truncated: refused mid-decode
    with server.client(key) as c:
        for data, kind in ((mp4, "video/mp4"), (webm, "video/webm"), (broken, "video/mp4")):
            r = c.post("/v1/check", files={"video": ("up", data, kind)})
            assert r.status_code in (200, 422), r.text
        r = c.post("/v1/cases", files={"video": ("mine.webm", webm, "video/webm")})
        assert r.status_code == 201, r.text
    server.stop()

    needles = [n for data in (mp4, webm) for n in _needles(data)]
    assert _scan([server.workdir], needles) == []
    planted = tmp_path / "planted.bin"
    planted.write_bytes(b"prefix" + webm[1000:5000])
    assert _scan([planted], _needles(webm[1000:5000], width=32)) != []


def test_victim_routes_log_no_ip_address(server_factory):
    server: Server = server_factory()
    with server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": "ab" * 32, "quality": 90}]}
        ).json()
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


# -- no visitor address anywhere, after every victim route ----------------------------------

VISITOR = "127.0.0.77"  # a loopback address of its own: nothing else on the machine says it
FORWARDED = "127.0.0.78"  # the client a trusted proxy (VISITOR) forwards: not kept either


def _database_text(url: str) -> str:
    """Every row of every table, as text (SQLite and PostgreSQL alike)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            return "\n".join(
                repr(row) for t in tables for row in conn.execute(text(f'SELECT * FROM "{t}"'))
            )
    finally:
        engine.dispose()


def _files_text(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_victim_routes_leave_no_address_anywhere(server_factory):
    import httpx

    # the per-address limits are on, so the address is really used (as an HMAC, in memory),
    # here the forwarded one: VISITOR plays a trusted proxy
    env = {"HASHBANK_ANONYMOUS_CASES_PER_HOUR": "50", "HASHBANK_TRUSTED_PROXIES": VISITOR}
    server: Server = server_factory(extra_env=env)
    transport = httpx.HTTPTransport(local_address=VISITOR)
    photo = images.jpeg("chelsea", 90)
    forwarded = {"X-Forwarded-For": FORWARDED}
    with httpx.Client(base_url=server.url, transport=transport, timeout=60, headers=forwarded) as c:
        for page in ("/", "/report", "/follow", "/portal/static/portal.css"):
            assert c.get(page).status_code == 200
        case = c.post("/v1/cases", files={"image": ("me.jpg", photo, "image/jpeg")}).json()
        pin = {"X-Case-Pin": case["pin"]}
        url = f"/v1/cases/{case['case_id']}"
        hashes = {"hashes": [{"type": "pdq", "value": "5a" * 32, "quality": 90}]}
        assert c.post(f"{url}/hashes", json=hashes, headers=pin).status_code == 200
        assert c.get(url, headers=pin).status_code == 200
        assert c.get(url, headers={"X-Case-Pin": "0000-0000-0000"}).status_code == 401
        form = {"case_id": case["case_id"], "pin": case["pin"], "action": "show"}
        assert c.post("/follow", data=form).status_code == 200
        assert c.delete(url, headers=pin).status_code == 200
        second = c.post("/v1/cases", json={"hashes": [{"type": "md5", "value": "ab" * 16}]})
        assert second.status_code == 201
    server.stop()
    database = _database_text(server.database_url)
    assert VISITOR not in database and FORWARDED not in database
    files = _files_text(server.workdir)  # database file, logs, the server's temp dir
    assert server.log_path.read_bytes() and VISITOR.encode() not in files
    assert FORWARDED.encode() not in files
    assert bytes([127, 0, 0, 77]) not in files  # nor packed
    assert case["case_id"].encode() not in server.log_path.read_bytes()


# -- hash values leave only through the feed --------------------------------------------------


def _near(value: str, bits: int) -> str:
    n = int(value, 16)
    for i in range(bits):
        n ^= 1 << (7 * i + 3)
    return f"{n:064x}"


def test_check_answers_never_echo_stored_hashes(live_server: Server, api_key: str):
    import secrets

    pdq, md5 = secrets.token_hex(32), secrets.token_hex(16)
    with live_server.client() as c:
        case = c.post(
            "/v1/cases",
            json={
                "hashes": [
                    {"type": "pdq", "value": pdq, "quality": 90},
                    {"type": "md5", "value": md5},
                ]
            },
        ).json()
    query = _near(pdq, 3)
    with live_server.client(api_key) as c:
        one = c.post(
            "/v1/check",
            json={"hashes": [{"type": "pdq", "value": query}, {"type": "md5", "value": md5}]},
        )
        batch = c.post(
            "/v1/check/batch", json={"items": [{"hashes": [{"type": "pdq", "value": query}]}]}
        )
        image = c.post("/v1/check", files={"image": ("x.jpg", images.jpeg("rocket"), "image/jpeg")})
        banks = c.get("/v1/banks")
        feed = c.get("/v1/feed", params={"limit": 10_000})
    with live_server.client() as c:
        status = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    body = one.json()
    assert body["match"] is True and body["action"] == "review"
    # only the action, and per match the type, a band (no distance), bank and an id
    assert set(body) == {"match", "action", "matches"}
    assert {frozenset(m) for m in body["matches"]} == {
        frozenset({"signal_type", "band", "distance", "bank", "match_id"})
    }
    assert sorted((m["signal_type"], m["band"], m["distance"]) for m in body["matches"]) == [
        ("md5", "exact", None),
        ("pdq", "near", None),
    ]
    for r in (one, batch, image, banks, status):  # nor does the reporter's own status
        assert r.status_code == 200, r.text
        assert pdq not in r.text.lower() and md5 not in r.text.lower(), r.request.url
    for r in (one, batch, image):  # a platform learns nothing about the case itself
        text = r.text.lower()
        assert case["case_id"].lower() not in text and "pending" not in text
        assert "quality" not in text and "case" not in text
    # the feed (feed scope) is the one place hash values leave
    assert pdq in feed.text and md5 in feed.text


# -- the audit of the whole suite's traffic (tests/privacy_audit.py) -------------------------


def test_the_suite_audit_finds_what_is_planted():
    from tests.privacy_audit import audit

    # outside the session's temp dir, which the suite's own audit scans at the end
    with tempfile.TemporaryDirectory() as root:
        _planted(Path(root), audit)


def _planted(tmp_path: Path, audit) -> None:
    clean = tmp_path / "srv0"
    (clean / "tmp").mkdir(parents=True)
    (clean / "server.log").write_text(
        '{"message": "listening", "url": "http://127.0.0.1:8123"}\n'
        '{"message": "database", "url": "postgresql+psycopg://postgres@127.0.0.1:5432/hb_x"}\n'
        '{"message": "database unavailable", "error": "connection to server at '
        '\\"127.0.0.1\\", port 5432 failed"}\n'
    )
    (clean / "hashbank.db").write_bytes(b"SQLite format 3\x00" + b"ab" * 5000)
    assert audit(tmp_path).findings == []

    dirty = tmp_path / "srv1"
    (dirty / "tmp").mkdir(parents=True)
    (dirty / "server.log").write_text(
        '{"message": "request", "client": "127.0.0.5"}\n'
        '{"message": "bad image", "head": "b\'\\\\x89PNG\\\\r\\\\n\'"}\n'
    )
    (dirty / "tmp" / "spool-1").write_bytes(images.jpeg("rocket"))
    (dirty / "hashbank.db").write_bytes(
        b"SQLite format 3\x00" + images.encode(images.photo("chelsea"), "WEBP") + b"\x00" * 100
    )
    (dirty / "tmp" / "t").write_bytes(images.encode(images.photo("coffee"), "TIFF"))
    (dirty / "tmp" / "g").write_bytes(images.encode(images.photo("coffee"), "GIF"))
    (dirty / "tmp" / "v.mp4").write_bytes(photo_clip("h264", 5, 1.0))
    (dirty / "tmp" / "v.webm").write_bytes(photo_clip("vp9", 5, 1.0))
    report = audit(tmp_path)
    assert report.servers == 2 and report.files == 9
    found = sorted(
        f.split(": ", 1)[1] + " in " + Path(f.split(": ")[0]).name for f in report.findings
    )
    assert found == [
        "GIF bytes in g",
        "JPEG (JFIF) bytes in spool-1",
        "MP4/MOV bytes in v.mp4",
        "Matroska/WebM bytes in v.webm",
        "TIFF bytes in t",
        "WebP bytes in hashbank.db",
        "client address 127.0.0.5 in server.log",
        "escaped image header bytes in server.log",
    ]
