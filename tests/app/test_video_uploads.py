"""Videos hashed by the server from a multipart upload, in memory: a report's video
(``/v1/cases``, field ``video``: vPDQ, file hashes and the stored frame variants) and a
check's (``/v1/check``, field ``video``: vPDQ with the check-side variants); the limits
answer 413 (bytes) and 422 (duration, frames, not a video); no video byte reaches the
disk (tests/app/test_privacy.py scans for them)."""

from __future__ import annotations

import pytest

import hashes
from tests.hashes._videos import photo_clip
from tests.servers import Server, eventually


@pytest.fixture(scope="module")
def clip() -> bytes:
    return photo_clip("h264", 10, 2.0)  # 8 s, four shots of real photos, 640 x 360


def _upload(server: Server, key: str, path: str, data: bytes, name: str = "v.mp4") -> dict:
    with server.client(key) as c:
        r = c.post(path, files={"video": (name, data, "video/mp4")})
    return {**r.json(), "http": r.status_code}


def test_a_video_reported_and_checked_by_upload(server_factory, clip: bytes) -> None:
    server: Server = server_factory(
        extra_env={"HASHBANK_MAX_VIDEO_SECONDS": "30", "HASHBANK_MAX_VIDEO_BYTES": "2000000"}
    )
    key = server.create_client()
    case = _upload(server, key, "/v1/cases", clip)
    assert case["http"] == 201, case
    expected = hashes.hash_video(clip)
    with server.client(key) as c:
        feed = c.get("/v1/feed", params={"after": 0, "limit": 10_000}).json()["items"]
    kinds = {i["type"] for i in feed}
    assert {"vpdq", "video_md5", "video_sha256", "pdq"} <= kinds
    # the stored value is Meta's serialisation of the frames hash_video computes
    assert hashes.format_vpdq(expected.frames) in [i["value"] for i in feed if i["type"] == "vpdq"]

    # the same file checked by upload: the case, by the file and by 100 % of its frames
    body = eventually(
        lambda: (b := _upload(server, key, "/v1/check", clip))["match"] and b, timeout=5.0
    )
    assert body["http"] == 200
    by_type = {m["signal_type"]: m for m in body["matches"]}
    assert {"vpdq", "video_md5", "video_sha256"} <= set(by_type)
    assert by_type["vpdq"]["query_percent"] == by_type["vpdq"]["stored_percent"] == 100.0
    assert by_type["vpdq"]["interval"] == [0.0, expected.frames[-1].seconds]

    # limits: bytes 413, duration 422, not a video 422; the server keeps serving
    too_long = photo_clip("h264", 5, 8.0)  # 32 s
    r = _upload(server, key, "/v1/check", too_long)
    assert r["http"] == 422 and "the limit is 30 s" in r["detail"], r
    r = _upload(server, key, "/v1/check", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 2_000_000)
    assert r["http"] == 413, r
    r = _upload(server, key, "/v1/check", b"\x00\x00\x00\x18ftypisom" + b"junk" * 100)
    assert r["http"] == 422 and r["title"], r
    r = _upload(server, key, "/v1/check", b"GIF89a not a video", name="x.gif")
    assert r["http"] == 422, r
    assert _upload(server, key, "/v1/check", clip)["http"] == 200
