"""Bad input on every route: a documented 4xx with a problem body, never a 5xx, and the
server keeps serving."""

from __future__ import annotations

import secrets

import pytest

from tests import images
from tests.servers import Server

PROBLEM = "application/problem+json"
JPEG = images.jpeg("astronaut")

BAD_JSON = [
    (b"{not json", 400),
    (b"[]", 422),
    (b'{"hashes": []}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "abc"}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"zz" * 32 + b'"}]}', 422),
    (b'{"hashes": [{"type": "md5", "value": "' + b"ab" * 32 + b'"}]}', 422),
    (b'{"hashes": [{"type": "sha1", "value": "ab"}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": 7}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"ab" * 32 + b'", "quality": 101}]}', 422),
    (b'{"hashes": "nope"}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"ab" * 32 + b'", "colour": "red"}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"ab" * 32 + b'", "quality": "70"}]}', 422),
    (b'{"hashes": [{"value": "' + b"ab" * 32 + b'"}]}', 422),
    (b'{"hashes": [["pdq", "' + b"ab" * 32 + b'"]]}', 422),
    (b"\xff\xfe\x00garbage", 400),
]
BAD_IMAGES = [
    (b"", 422),
    (b"this is text, not an image", 422),
    (JPEG[: len(JPEG) // 2], 422),
    (images.bomb_png(), 413),
    (images.encode(images.photo("camera").resize((8, 8)), "PNG"), 422),
    (b"%PDF-1.4 not an image", 422),
]


@pytest.fixture(scope="module")
def key(live_server: Server) -> str:
    return live_server.create_client(scopes="check,report")


def _case(live_server: Server) -> dict:
    with live_server.client() as c:
        return c.post(
            "/v1/cases",
            json={"hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90}]},
        ).json()


def _json_routes(live_server: Server) -> list[tuple[str, dict]]:
    case = _case(live_server)
    return [
        ("/v1/cases", {}),
        ("/v1/check", {}),
        (f"/v1/cases/{case['case_id']}/hashes", {"X-Case-Pin": case["pin"]}),
    ]


@pytest.mark.parametrize(("body", "status"), BAD_JSON)
def test_bad_json(live_server: Server, key: str, body: bytes, status: int):
    for path, headers in _json_routes(live_server):
        with live_server.client(key) as c:
            r = c.post(path, content=body, headers={**headers, "content-type": "application/json"})
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert {"type", "title", "status", "detail"} <= set(problem) and problem["status"] == status


@pytest.mark.parametrize(
    ("data", "status"), BAD_IMAGES, ids=["empty", "text", "truncated", "bomb", "tiny", "pdf"]
)
def test_bad_images(live_server: Server, key: str, data: bytes, status: int):
    for path, headers in _json_routes(live_server):
        with live_server.client(key) as c:
            r = c.post(path, files={"image": ("x.jpg", data, "image/jpeg")}, headers=headers)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM


def test_batch_and_feedback_bad_bodies(live_server: Server, key: str):
    with live_server.client(key) as c:
        assert (
            c.post(
                "/v1/check/batch", content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )
        assert c.post("/v1/check/batch", json={"items": []}).status_code == 422
        assert (
            c.post(
                "/v1/check/batch", json={"items": [{"hashes": [{"type": "pdq", "value": "1"}]}]}
            ).status_code
            == 422
        )
        pdq = {"type": "pdq", "value": "ab" * 32}
        for items in (
            [{"hashes": [pdq], "note": "x"}],  # an unknown field in an item
            [{"hashes": []}],
            [{"hashes": [pdq] * 65}],  # more than 64 hashes in one item
            [{"hashes": [{**pdq, "quality": 7.5}]}],
            ["not an item"],
        ):
            r = c.post("/v1/check/batch", json={"items": items})
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, items
        assert c.post("/v1/matches/1/feedback", json={"feedback": "maybe"}).status_code == 422
        assert c.post("/v1/matches/abc/feedback", json={"feedback": "blocked"}).status_code == 422


def test_oversized_body_refused_from_content_length_before_auth(live_server: Server):
    big = b"x" * (33 * 1024 * 1024)
    with live_server.client() as c:
        r = c.post("/v1/check", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


def test_wrong_content_type_is_415(live_server: Server, key: str):
    with live_server.client(key) as c:
        r = c.post("/v1/check", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.headers["content-type"] == PROBLEM


def test_multipart_without_image_field(live_server: Server, key: str):
    with live_server.client(key) as c:
        r = c.post("/v1/check", files={"photo": ("x.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 422


def test_server_keeps_serving_after_all_that(live_server: Server):
    with live_server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").status_code == 200
    assert "unhandled error" not in live_server.log_path.read_text()
