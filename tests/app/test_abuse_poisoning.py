"""A bank cannot be poisoned with hashes that match everything: weak hashes and plain
images are refused with 422 at report time (checks of them still work)."""

from __future__ import annotations

import io
import secrets

import numpy as np
import pytest
from PIL import Image

from app.services.inputs import HashInput, weakness
from tests import images
from tests.servers import Server

PROBLEM = "application/problem+json"


def _bits(n: int, width: int = 256) -> str:
    """A hex hash of ``width`` bits with exactly ``n`` of them set (spread out)."""
    rng = np.random.default_rng(n)
    on = rng.choice(width, size=n, replace=False)
    value = sum(1 << int(i) for i in on)
    return f"{value:0{width // 4}x}"


WEAK = [
    ({"type": "pdq", "value": "0" * 64}, "all zeros"),
    ({"type": "pdq", "value": "f" * 64}, "all ones"),
    ({"type": "pdq", "value": _bits(15)}, "15 of 256"),
    ({"type": "pdq", "value": _bits(241)}, "241 of 256"),
    ({"type": "pdq", "value": _bits(128), "quality": 49}, "quality 49"),
    ({"type": "pdq", "value": _bits(128), "quality": 0}, "quality 0"),
    ({"type": "phash", "value": "8000000000000000"}, "1 of 64"),
    ({"type": "phash", "value": _bits(3, 64)}, "3 of 64"),
    ({"type": "phash", "value": _bits(61, 64)}, "61 of 64"),
    ({"type": "md5", "value": "0" * 32}, "all zeros"),
    ({"type": "sha256", "value": "F" * 64}, "all ones"),
]
STRONG = [
    {"type": "pdq", "value": _bits(16)},
    {"type": "pdq", "value": _bits(240)},
    {"type": "pdq", "value": _bits(128), "quality": 50},
    {"type": "pdq", "value": _bits(128), "quality": None},
    {"type": "phash", "value": _bits(4, 64)},
    {"type": "phash", "value": _bits(60, 64)},
    {"type": "md5", "value": secrets.token_hex(16)},
]


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _plain_images() -> dict[str, bytes]:
    rng = np.random.default_rng(3)
    grey = np.full((256, 256, 3), 128.0)
    dot = np.full((256, 256, 3), 255.0)
    dot[120:130, 120:130] = 0
    two_tone = np.concatenate([np.zeros((256, 128, 3)), np.full((256, 128, 3), 255.0)], axis=1)
    return {
        "uniform-grey": _png(grey),
        "white": _png(np.full((256, 256, 3), 255.0)),
        "black": _png(np.zeros((256, 256, 3))),
        "near-blank-noise": _png(np.clip(grey + rng.normal(0, 2, grey.shape), 0, 255)),
        "dot-on-white": _png(dot),
        "two-tone": _png(two_tone),
        "grey-jpeg": images.encode(Image.new("RGB", (640, 480), (90, 90, 90)), "JPEG"),
    }


@pytest.mark.parametrize(("item", "why"), WEAK, ids=[f"{h['type']}-{w}" for h, w in WEAK])
def test_weak_hash_is_refused_at_report(live_server: Server, item: dict, why: str):
    good = {"type": "pdq", "value": secrets.token_hex(32)}
    with live_server.client() as c:
        r = c.post("/v1/cases", json={"hashes": [good, item]})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["weak"] == [
            {"index": 1, "type": item["type"], "reason": problem["weak"][0]["reason"]}
        ]
        assert "would match unrelated images" in problem["detail"]
        # nor can it be slipped into an existing case
        case = c.post("/v1/cases", json={"hashes": [good]}).json()
        r = c.post(
            f"/v1/cases/{case['case_id']}/hashes",
            json={"hashes": [item]},
            headers={"X-Case-Pin": case["pin"]},
        )
        assert r.status_code == 422, r.text
        status = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        assert status.json()["hashes"] == 1


def test_strong_hashes_at_the_edges_are_accepted(live_server: Server):
    with live_server.client() as c:
        r = c.post("/v1/cases", json={"hashes": STRONG})
    assert r.status_code == 201, r.text


def test_weakness_rules():
    assert weakness(HashInput("pdq", _bits(128), 50)) is None
    assert weakness(HashInput("pdq", _bits(128), 49)) is not None
    assert weakness(HashInput("pdq", _bits(128), 30), min_pdq_quality=30) is None
    assert weakness(HashInput("md5", "0" * 31 + "1")) is None


@pytest.mark.parametrize("name", list(_plain_images()))
def test_plain_images_are_refused_at_report_but_checked(live_server: Server, api_key: str, name):
    data = _plain_images()[name]
    with live_server.client() as c:
        r = c.post("/v1/cases", files={"image": (f"{name}.png", data, "image/png")})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert "too plain to identify" in r.json()["detail"]
    with live_server.client(api_key) as c:  # a platform may still check such an upload
        r = c.post("/v1/check", files={"image": (f"{name}.png", data, "image/png")})
    assert r.status_code == 200 and r.json()["action"] in ("none", "review", "block")


def test_a_real_photo_is_accepted(live_server: Server):
    with live_server.client() as c:
        r = c.post("/v1/cases", files={"image": ("p.jpg", images.jpeg("coffee"), "image/jpeg")})
    assert r.status_code == 201, r.text


def test_the_quality_floor_is_a_setting(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_MIN_PDQ_QUALITY": "80"})
    with server.client() as c:
        low = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": _bits(128), "quality": 79}]}
        )
        ok = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": _bits(128), "quality": 80}]}
        )
    assert low.status_code == 422 and "below 80" in low.json()["detail"]
    assert ok.status_code == 201
