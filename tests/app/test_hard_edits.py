"""Issue 9 end to end: hard edits of reported photos match through a real server's
``/v1/check`` at the default PDQ threshold (31), different photos never do, and the feed
carries every stored hash of a case under one group."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

import hashes
from benchmarks.accuracy import TRANSFORMS
from tests.hashes._images import encode, skimage_photo
from tests.servers import Server, fresh_database_url

REPORTED = ("astronaut.png", "coffee.png", "motorcycle_left.png")
OTHERS = ("rocket.jpg", "camera.png", "chelsea.png")
HARD = [t for t in TRANSFORMS if t.group == "hard"]


def _copies(name: str) -> dict[str, bytes]:
    rng = np.random.default_rng(9)
    photo = skimage_photo(name)
    return {t.name: t.edit(photo, rng) for t in HARD}


def _check(server: Server, key: str, data: bytes) -> dict[str, object]:
    with server.client(key) as c:
        r = c.post("/v1/check", files={"image": ("upload.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


@pytest.fixture(scope="module")
def bank(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str, dict[str, dict[str, str]]]]:
    workdir = tmp_path_factory.mktemp("hard-edits")
    server = Server(workdir, fresh_database_url(workdir)).start()
    key = server.create_client("platform", "check,feed")
    cases = {}
    for name in REPORTED:
        with server.client() as c:
            data = encode(skimage_photo(name), "PNG")
            r = c.post("/v1/cases", files=[("image", (name, data, "image/png"))])
        assert r.status_code == 201, r.text
        cases[name] = r.json()
    yield server, key, cases
    server.stop()


@pytest.mark.parametrize("name", REPORTED)
def test_every_hard_edit_matches_its_reported_photo(
    bank: tuple[Server, str, dict[str, dict[str, str]]], name: str
) -> None:
    server, key, _ = bank
    misses = [
        edit
        for edit, data in _copies(name).items()
        if _check(server, key, data)["match"] is not True
    ]
    assert misses == []
    # ...and it is this photo's hashes that it matches, not another reported one
    others = [hashes.hash_bytes(encode(skimage_photo(o), "PNG")) for o in REPORTED if o != name]
    for data in _copies(name).values():
        copy = hashes.hash_bytes(data)
        for other in others:
            assert (
                min(hashes.hamming(a, b) for a in other.pdq_stored for b in copy.pdq_variants) > 31
            )


@pytest.mark.parametrize("name", OTHERS)
def test_different_photos_and_their_edits_never_match(
    bank: tuple[Server, str, dict[str, dict[str, str]]], name: str
) -> None:
    server, key, _ = bank
    for data in (encode(skimage_photo(name), "JPEG"), *_copies(name).values()):
        body = _check(server, key, data)
        assert body["match"] is False, body


def test_the_feed_carries_each_case_s_stored_hashes_as_one_group(
    bank: tuple[Server, str, dict[str, dict[str, str]]],
) -> None:
    server, key, _ = bank
    items = server.feed(key)
    groups: dict[object, set[object]] = {}
    for item in items:
        if item["type"] == "pdq" and item["op"] == "add":
            groups.setdefault(item["group"], set()).add(item["value"])
    expected = [
        set(hashes.hash_bytes(encode(skimage_photo(n), "PNG")).pdq_stored) for n in REPORTED
    ]
    assert sorted(map(sorted, groups.values())) == sorted(map(sorted, expected))


def test_a_platform_matching_the_feed_on_its_side_gets_the_same_answer(
    bank: tuple[Server, str, dict[str, dict[str, str]]],
) -> None:
    """hashes.HashIndex over the feed's values answers as the server does."""
    server, key, _ = bank
    items = server.feed(key)
    values = [i["value"] for i in items if i["type"] == "pdq" and i["op"] == "add"]
    index = hashes.HashIndex()
    index.add(
        np.arange(len(values)),
        np.stack([np.frombuffer(hashes.hex_to_bytes(v), np.uint8) for v in values]),
    )
    for name in (*REPORTED, *OTHERS):
        for data in _copies(name).values():
            h = hashes.hash_bytes(data)
            queries = np.stack(
                [np.frombuffer(hashes.hex_to_bytes(v), np.uint8) for v in h.pdq_variants]
            )
            local = any(len(ids) for ids, _ in index.search(queries, 31))
            assert local == (_check(server, key, data)["match"] is True), name


def test_noise_never_matches(bank: tuple[Server, str, dict[str, dict[str, str]]]) -> None:
    """Sanity: the bank does not match everything."""
    server, key, _ = bank
    noise = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    body = _check(server, key, encode(Image.fromarray(noise), "PNG"))
    assert body["match"] is False


@pytest.mark.parametrize("density", ["none", "light"])
def test_the_variant_density_is_a_setting(
    server_factory: Callable[..., Server], density: str
) -> None:
    server = server_factory(extra_env={"HASHBANK_PDQ_VARIANTS": density})
    data = encode(skimage_photo("coffee.png"), "PNG")
    with server.client() as c:
        r = c.post("/v1/cases", files=[("image", ("coffee.png", data, "image/png"))])
        assert r.status_code == 201, r.text
        case = r.json()
        got = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}).json()
    stored = hashes.hash_bytes(data, density=density).pdq_stored
    assert got["hashes"] == len(stored) + 3  # with pHash, MD5 and SHA-256
    assert len(stored) < len(hashes.hash_bytes(data).pdq_stored)
