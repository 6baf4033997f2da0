"""HMA-compatible routes (issue 19, item 3) against a live server, on both engines.

There is no HMA client on PyPI (OpenMediaMatch is a Flask service; python-threatexchange
has no client for its API), so these tests call the routes as HMA's own tests and docs
do, with plain httpx:

- facebook/ThreatExchange hasher-matcher-actioner/src/OpenMediaMatch/tests/test_api.py
  (``GET /m/raw_lookup?signal_type=pdq&signal=...`` -> ``{"matches": [1]}``),
  tests/test_match_api.py (``include_distance``: objects with ``distance``),
- hasher-matcher-actioner/docs/api.md (``curl -X POST --form photo='@example.png'
  .../h/hash`` and ``.../m/lookup``; ``GET /m/lookup?signal_type=&signal=`` ->
  ``{"TEST_BANK": [{"bank_content_id": 1, "distance": "0"}]}``),
- blueprints/matching.py and utils/flask_utils.py (400 ``{"message": ...}`` for a missing
  parameter, an unknown type or an invalid signal; 503 ``index not yet ready``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import hashes as hashes_lib
from app.config import Settings
from app.services.container import Services
from tests import images
from tests.servers import Server, eventually, fresh_database_url

PROBE_LIMIT = 6  # near misses of one key at one stored hash before it is refused
MAX_IMAGE = 2 * 2**20  # an upload's limit (the body's stays 32 MiB)
QUARANTINE_CLIENTS = 3  # clients matching one stored hash before it is quarantined


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("compat-hma")
    srv = Server(
        workdir,
        fresh_database_url(workdir),
        extra_env={
            "HASHBANK_PROBE_NEAR_MISSES": str(PROBE_LIMIT),
            "HASHBANK_MAX_IMAGE_BYTES": str(MAX_IMAGE),
            "HASHBANK_QUARANTINE_CLIENTS": str(QUARANTINE_CLIENTS),
        },
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def services(server: Server) -> Iterator[Services]:
    svc = Services.build(Settings(database_url=server.database_url), migrate=False)
    yield svc
    svc.close()


def _key(services: Services, scopes: str, *, exact: bool = False) -> str:
    """A new API key (made in this process, on the server's database: no CLI start-up)."""
    name = f"c-{secrets.token_hex(4)}"
    new = services.clients.create(name, scopes.split(","), actor="test", exact_distances=exact)
    return new.key


def _pdq() -> str:
    """A random PDQ hash (about half its bits set: not refused as weak)."""
    return secrets.token_hex(32)


def _flip(value: str, n: int, start: int = 0) -> str:
    v = int(value, 16)
    for bit in range(start, start + n):
        v ^= 1 << bit
    return f"{v:064x}"


def _confirmed(server: Server, services: Services, hashes: list[dict[str, Any]]) -> dict[str, Any]:
    with server.client() as c:
        r = c.post("/v1/cases", json={"hashes": hashes})
    assert r.status_code == 201, r.text
    case = dict(r.json())
    services.cases.review(case["case_id"], confirm=True, actor="user:test")
    return case


def _hma(server: Server, key: str | None) -> httpx.Client:
    """An HMA client of hashbank: HMA's base URL + /compat/hma, and the Bearer header."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url + "/compat/hma", headers=headers, timeout=60)


def _raw(server: Server, key: str, signal: str, **params: Any) -> Any:
    with _hma(server, key) as c:
        r = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": signal, **params})
    assert r.status_code == 200, r.text
    return r.json()


def _until_matches(server: Server, key: str, signal: str) -> Any:
    """The content ids ``signal`` matches once the server has applied the confirmation
    (made in this process: the server follows the change log). The same query each time:
    one upload, however often it is repeated."""

    def confirmed() -> Any:
        matches = _raw(server, key, signal, include_distance="true")["matches"]
        return matches and all(m["action"] == "block" for m in matches) and matches

    return [m["content_id"] for m in eventually(confirmed)]


def test_raw_lookup_matches_within_the_threshold_only(server: Server, services: Services):
    key = _key(services, "check")
    feed_key = _key(services, "feed")
    value = _pdq()
    _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    near = _flip(value, 10)
    [content_id] = _until_matches(server, key, near)
    assert isinstance(content_id, int) and 0 <= content_id < 2**53
    assert _raw(server, key, _flip(value, 40)) == {"matches": []}  # PDQ threshold: 31
    # the same stored hash, the same content id, on every look-up and for every client
    other = _key(services, "check")
    assert _raw(server, other, _flip(value, 12, 100))["matches"] == [content_id]
    # opaque: not the stored hash's signal id (the feed shows that one)
    [signal_id] = {i["signal_id"] for i in server.feed(feed_key) if i["value"] == value}
    assert content_id != signal_id


def test_include_distance_is_a_band_unless_the_client_may_see_distances(
    server: Server, services: Services
):
    value = _pdq()
    _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    band_key = _key(services, "check")
    exact_key = _key(services, "check", exact=True)
    near = _flip(value, 7)
    [content_id] = _until_matches(server, band_key, near)

    body = _raw(server, band_key, near, include_distance="true")
    assert body == {
        "matches": [
            {
                "bank_content_id": content_id,
                "content_id": content_id,
                "distance": "near",
                "action": "block",
            }
        ]
    }
    assert _raw(server, band_key, value, include_distance="1")["matches"][0]["distance"] == (
        "exact"
    )
    exact = _raw(server, exact_key, near, include_distance="True")["matches"]
    assert [(m["content_id"], m["distance"]) for m in exact] == [(content_id, "7")]
    # HMA's str_to_bool: false/0 give ids only
    assert _raw(server, band_key, near, include_distance="0") == {"matches": [content_id]}


def test_lookup_by_hash_answers_by_bank(server: Server, services: Services):
    key = _key(services, "check")
    value = _pdq()
    _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    [content_id] = _until_matches(server, key, value)
    with server.client(key) as c:
        bank = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]}).json()[
            "matches"
        ][0]["bank"]
    with _hma(server, key) as c:
        r = c.get("/m/lookup", params={"signal_type": "pdq", "signal": _flip(value, 3)})
        assert r.status_code == 200, r.text
        assert r.json() == {
            bank: [
                {
                    "bank_content_id": content_id,
                    "content_id": content_id,
                    "distance": "near",
                    "action": "block",
                }
            ]
        }
        # HMA's bank filter; and no match is {}
        r = c.get("/m/lookup", params={"signal_type": "pdq", "signal": value, "banks": "OTHER"})
        assert r.json() == {}
        assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": _pdq()}).json() == {}


def test_lookup_and_hash_of_an_uploaded_file(server: Server, services: Services):
    key = _key(services, "check")
    photo = images.jpeg("chelsea")
    with server.client() as c:
        r = c.post("/v1/cases", files=[("image", ("me.jpg", photo, "image/jpeg"))])
    assert r.status_code == 201, r.text
    services.cases.review(r.json()["case_id"], confirm=True, actor="user:test")

    expected = hashes_lib.hash_bytes(photo)
    with _hma(server, key) as c:
        # HMA's docs: curl -X POST --form photo='@example.png' .../h/hash
        r = c.post("/h/hash", files={"photo": ("example.jpg", photo, "image/jpeg")})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "pdq": expected.pdq,
            "phash": expected.phash,
            "md5": expected.md5,
            "sha256": expected.sha256,
        }

        def lookup() -> Any:
            copy = images.resized_reencoded("chelsea")  # a re-upload, not the same file
            body = c.post("/m/lookup", files={"photo": ("up.jpg", copy, "image/jpeg")}).json()
            confirmed = [m["action"] for ms in body["pdq"].values() for m in ms] == ["block"]
            return body if confirmed else None  # once the confirmation has been applied

        body = eventually(lookup)
    assert set(body) == {"pdq", "phash", "md5", "sha256"}  # every type the file hashed to
    [(bank, matches)] = body["pdq"].items()
    assert matches[0]["distance"] in ("exact", "near") and matches[0]["action"] == "block"
    assert body["md5"] == {} and body["sha256"] == {}  # another file: no exact match

    with _hma(server, key) as c:  # an unrelated photo
        other = c.post("/m/lookup", files={"photo": ("x.jpg", images.jpeg("rocket"), "image/jpeg")})
    assert other.status_code == 200 and all(v == {} for v in other.json().values())


def test_every_lookup_is_a_check_that_counts_the_reupload(server: Server, services: Services):
    key = _key(services, "check")
    value = _pdq()
    case = _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    _until_matches(server, key, _flip(value, 5))
    with _hma(server, key) as c:
        c.get("/m/lookup", params={"signal_type": "pdq", "signal": _flip(value, 6, 50)})
        c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": _flip(value, 5)})  # again

    def status() -> Any:
        with server.client() as c:
            r = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        return r.json()

    # two distinct uploads; the third look-up repeated the first (one upload, as on /v1/check)
    body = status()
    assert body["reupload_attempts"] == 2 and body["last_detected"] is not None


def test_an_allow_listed_false_positive_no_longer_comes_back(server: Server, services: Services):
    key = _key(services, "check")
    value = _pdq()
    _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    look_alike = _flip(value, 20)
    _until_matches(server, key, look_alike)
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": look_alike}]})
    services.matches.mark_false_positive(r.json()["matches"][0]["match_id"], actor="user:test")

    eventually(lambda: _raw(server, key, look_alike) == {"matches": []})
    with _hma(server, key) as c:
        r = c.get("/m/lookup", params={"signal_type": "pdq", "signal": look_alike})
    assert r.json() == {}
    assert len(_raw(server, key, value)["matches"]) == 1  # the victim's own image still does


def test_lookups_of_many_clients_quarantine_a_hot_hash(server: Server, services: Services):
    value = _pdq()
    _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    keys = [_key(services, "check") for _ in range(QUARANTINE_CLIENTS)]
    _until_matches(server, keys[0], value)
    for key in keys[1:]:
        _raw(server, key, value)
    # counted like /v1/check's matches: the hash now answers review, for every client

    def action() -> str:
        return str(_raw(server, keys[0], value, include_distance="true")["matches"][0]["action"])

    eventually(lambda: action() == "review")
    with server.client(keys[1]) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]})
    assert r.json()["action"] == "review"


def test_a_prober_is_refused_as_on_v1_check(server: Server, services: Services):
    key = _key(services, "check")
    value = _pdq()
    _confirmed(server, services, [{"type": "pdq", "value": value, "quality": 100}])
    _until_matches(server, key, _flip(value, 1))
    with _hma(server, key) as c:
        answers = [
            c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": _flip(value, 1, i)})
            for i in range(1, PROBE_LIMIT + 1)
        ]
        assert answers[-1].status_code == 429
        assert "probing" in answers[-1].json()["message"]
        assert answers[-1].headers["retry-after"]
    with server.client(key) as c:  # the same key on /v1/check: refused too
        assert (
            c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]}).status_code
            == 429
        )


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/m/raw_lookup", {"signal_type": "pdq"}, "signal is required"),
        ("/m/raw_lookup", {"signal": "ab"}, "signal_type is required"),
        ("/m/raw_lookup", {"signal_type": "nope", "signal": "ab"}, "No such SignalType 'nope'"),
        ("/m/raw_lookup", {"signal_type": "pdq", "signal": "zz" * 32}, "invalid signal"),
        ("/m/raw_lookup", {"signal_type": "pdq", "signal": "ab"}, "invalid signal"),
        ("/m/raw_lookup", {"signal_type": "md5", "signal": "0" * 31}, "invalid signal"),
        (
            "/m/raw_lookup",
            {"signal_type": "pdq", "signal": "ab" * 32, "include_distance": "maybe"},
            "invalid boolean parameter",
        ),
        ("/m/lookup", {"signal_type": "pdq"}, "both signal and signal_type are required"),
        ("/m/lookup", {"url": "http://169.254.169.254/"}, "url is not supported"),
        ("/m/lookup", {"signal_type": "pdq", "signal": "ab\x00"}, ""),
        ("/m/index/status", {"signal_type": "nope"}, "No such signal type 'nope'"),
    ],
)
def test_bad_parameters_are_400_in_hmas_shape(
    server: Server, services: Services, path: str, params: dict[str, str], message: str
):
    key = _key(services, "check")
    with _hma(server, key) as c:
        r = c.get(path, params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/json"
    assert list(r.json()) == ["message"] and message in r.json()["message"]


def test_bad_uploads_are_400_or_413(server: Server, services: Services):
    key = _key(services, "check")
    with _hma(server, key) as c:
        for path in ("/m/lookup", "/h/hash"):
            no_file = c.post(path, data={"photo": "not a file"}, files={"x": ("a", b"b")})
            assert no_file.status_code == 400 and "photo" in no_file.json()["message"]
            assert c.post(path, json={"photo": "x"}).status_code == 400
            two = c.post(
                path,
                files=[
                    ("photo", ("a.jpg", b"1", "image/jpeg")),
                    ("photo", ("b.jpg", b"2", "image/jpeg")),
                ],
            )
            assert two.status_code == 400
            junk = c.post(path, files={"photo": ("a.jpg", b"not an image", "image/jpeg")})
            assert junk.status_code == 400 and junk.json()["message"]
            big = c.post(path, files={"photo": ("a.png", b"\0" * (MAX_IMAGE + 1), "image/png")})
            assert big.status_code == 413 and big.json()["message"]
    assert httpx.get(server.url + "/readyz").status_code == 200  # still serving


def test_keys_and_scopes_as_on_v1(server: Server, services: Services):
    calls = [
        ("GET", "/m/raw_lookup?signal_type=pdq&signal=" + "ab" * 32),
        ("GET", "/m/lookup?signal_type=pdq&signal=" + "ab" * 32),
        ("POST", "/m/lookup"),
        ("GET", "/m/index/status"),
        ("POST", "/h/hash"),
    ]
    feed_key = _key(services, "feed,report,admin")
    for method, path in calls:
        for key, status in ((None, 401), ("hb_wrong", 401), (feed_key, 403)):
            with _hma(server, key) as c:
                r = c.request(method, path, files={"photo": ("a.jpg", b"x")})
            assert r.status_code == status, (method, path, key, r.text)
            assert list(r.json()) == ["message"]


def test_index_status(server: Server, services: Services):
    key = _key(services, "check")
    _confirmed(server, services, [{"type": "pdq", "value": _pdq(), "quality": 100}])
    with _hma(server, key) as c:
        body = c.get("/m/index/status").json()
        assert set(body) == set(services.hma.names())  # the registry's names
        pdq = eventually(lambda: c.get("/m/index/status?signal_type=pdq").json()["pdq"])
    assert pdq["present"] is True and pdq["size"] >= 1
    assert abs(pdq["built_to"] - time.time()) < 30


def test_an_index_not_loaded_answers_503(server: Server, services: Services):
    """The app as it is before its start-up has loaded the index (the server's lifespan
    loads it before it accepts a connection, so this state is reached by serving the app
    without running its lifespan): every look-up is 503, as HMA answers while its index
    cache is not ready."""
    from app.main import create_app

    key = _key(services, "check")
    app = create_app(Settings(database_url=server.database_url))

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hb/compat/hma", headers=headers
        ) as c:
            return [
                await c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": _pdq()}),
                await c.get("/m/lookup", params={"signal_type": "pdq", "signal": _pdq()}),
                await c.post("/m/lookup", files={"photo": ("a.jpg", images.jpeg("coffee"))}),
                await c.get("/m/index/status"),
            ]

    import anyio

    try:
        *lookups, status = anyio.run(run)
    finally:
        app.state.services.close()
    for r in lookups:
        assert r.status_code == 503, r.text
        assert r.json() == {"message": "index not yet ready"}
    assert status.status_code == 200
    assert status.json()["pdq"] == {"present": False, "built_to": -1, "size": 0}


def test_what_hashbank_does_not_serve_of_hmas_api(server: Server, services: Services):
    """Banks, content, exchanges, compare and the UI are the hotline's (404); hashing a URL
    is refused (GET /h/hash: 405), each in HMA's error shape."""
    key = _key(services, "check")
    with _hma(server, key) as c:
        for method, path, status in (
            ("GET", "/c/banks", 404),
            ("POST", "/c/bank/X/content", 404),
            ("POST", "/m/compare", 404),
            ("GET", "/ui/", 404),
            ("GET", "/h/hash?url=http://169.254.169.254/", 405),
        ):
            r = c.request(method, path)
            assert r.status_code == status, (path, r.text)
            assert list(r.json()) == ["message"]
