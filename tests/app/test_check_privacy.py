"""What a check key can learn and do (issue 17, items 2, 3 and 4).

- One key cannot quarantine a victim's hash, nor inflate the victim's re-upload count: an
  upload is a distinct (client, query hash), duplicates in a batch count once, and one
  client adds at most ``HASHBANK_QUARANTINE_MATCHES_PER_CLIENT`` uploads to a hash.
- A check answers a band (``exact``/``near``), not the distance that let a caller rebuild
  a stored pHash from 64 single-bit flips; an admin can give one client exact distances.
- A pHash-only match answers review unless its bank lets it block.
- A client sending many near-miss probes at one stored hash gets 429 and is flagged.
- With ``HASHBANK_PENDING_REVIEW_DELAY_SECONDS``, a fresh pending case's hashes do not
  answer at all until the delay has passed (or a moderator confirmed the case).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.services.container import Services
from app.services.inputs import HashInput
from tests.servers import Server, eventually, fresh_database_url

PENDING_DELAY = 4  # seconds; every other setting is the default


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("check-privacy")
    srv = Server(
        workdir,
        fresh_database_url(workdir),
        extra_env={"HASHBANK_PENDING_REVIEW_DELAY_SECONDS": str(PENDING_DELAY)},
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def services(server: Server) -> Iterator[Services]:
    svc = Services.build(Settings(database_url=server.database_url), migrate=False)
    yield svc
    svc.close()


def _flip(value: str, *bits: int) -> str:
    n = int(value, 16)
    for b in bits:
        n ^= 1 << b
    return f"{n:0{len(value)}x}"


def _report(server: Server, hashes: list[dict[str, Any]]) -> dict[str, Any]:
    with server.client() as c:
        r = c.post("/v1/cases", json={"hashes": hashes})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _confirmed_case(server: Server, services: Services, value: str) -> dict[str, Any]:
    case = _report(server, [{"type": "sha256", "value": value}])
    services.cases.review(case["case_id"], confirm=True, actor="moderator")
    return case


def _check(server: Server, key: str, hashes: list[dict[str, Any]]) -> dict[str, Any]:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": hashes})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _batch(server: Server, key: str, items: list[list[dict[str, Any]]]) -> Any:
    with server.client(key) as c:
        return c.post("/v1/check/batch", json={"items": [{"hashes": h} for h in items]})


def _attempts(server: Server, case: dict[str, Any]) -> int:
    with server.client() as c:
        r = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200, r.text
    return int(r.json()["reupload_attempts"])


def _import(services: Services, kind: str, value: str, bank: str = "reports") -> None:
    """Add a hash straight to a bank (as ``hashbank import`` does, without its start-up)."""
    services.entries.add(bank, [HashInput(kind, value)], actor="test")


def _key(services: Services, scopes: str = "check", name: str | None = None, **kw: Any) -> str:
    """A new API key (as ``hashbank clients create`` makes, without its start-up)."""
    name = name or f"c-{secrets.token_hex(4)}"
    return services.clients.create(name, scopes.split(","), actor="test", **kw).key


def _followed(server: Server, key: str, kind: str, value: str) -> None:
    """Wait until the server's index holds ``value`` (it follows the change log)."""
    with server.client(key) as c:
        eventually(
            lambda: c.post("/v1/check", json={"hashes": [{"type": kind, "value": value}]}).json()[
                "match"
            ]
        )


# -- item 2: quarantine and re-upload counts count uploads, not rows --------------------------
def test_one_batch_of_one_hash_neither_quarantines_nor_inflates(
    server: Server, services: Services
) -> None:
    value = secrets.token_hex(32)
    case = _confirmed_case(server, services, value)
    prober, other = (_key(services) for _ in range(2))
    _followed(server, prober, "sha256", value)  # the prober's own first check of the hash

    r = _batch(server, prober, [[{"type": "sha256", "value": value}]] * 1000)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert {res["action"] for res in results} == {"block"}  # every item answered
    assert len({res["matches"][0]["match_id"] for res in results}) == 1  # logged once
    # one upload (checked once before, then 1,000 times in the batch), not 1,001
    assert _attempts(server, case) == 1

    assert _check(server, other, [{"type": "sha256", "value": value}])["action"] == "block"
    with server.client(_key(services, "admin")) as c:
        assert not [q for q in c.get("/v1/quarantine").json() if q["case_id"] == case["case_id"]]
    # the prober's batch was one upload, the other platform's check another
    assert _attempts(server, case) == 2


def test_the_same_upload_checked_again_is_one_attempt(server: Server, services: Services) -> None:
    value = secrets.token_hex(32)
    case = _confirmed_case(server, services, value)
    key = _key(services)
    _followed(server, key, "sha256", value)
    for _ in range(3):
        assert _check(server, key, [{"type": "sha256", "value": value}])["action"] == "block"
    assert _attempts(server, case) == 1


# -- item 3: bands, pHash-only review, probing ------------------------------------------------
def test_bit_flips_no_longer_rebuild_a_stored_phash(server: Server, services: Services) -> None:
    stored = secrets.token_hex(8)
    _import(services, "phash", stored)
    prober = _key(services, name="prober")
    trusted = _key(services, name="trusted", exact_distances=True)
    _followed(server, trusted, "phash", stored)
    start = _flip(stored, 3, 17, 40, 61)  # 4 bits away, as in the red-team probe
    flips = [[{"type": "phash", "value": _flip(start, b)}] for b in range(64)]

    # a few flips: each answer says only "near", no distance, and review (pHash alone)
    r = _batch(server, prober, flips[:8])
    assert r.status_code == 200, r.text
    for res in r.json()["results"]:
        assert res["action"] == "review"
        (m,) = res["matches"]
        assert m["band"] == "near" and m["distance"] is None
    # the 64 flips of the red-team probe: refused outright, and the key stays refused
    r = _batch(server, prober, flips)
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) > 0
    assert "distance" not in r.text
    with server.client(prober) as c:
        nothing = c.post("/v1/check", json={"hashes": [{"type": "sha256", "value": "ab" * 32}]})
    assert nothing.status_code == 429  # no-match checks too: a 429 must not mean "match"
    assert "prober" in services.views.statistics.overview().probing_clients
    assert list(services.views.statistics.probing_clients()) != []

    # a client an admin trusts with exact distances still gets them
    res = _check(server, trusted, [{"type": "phash", "value": start}])
    assert res["matches"][0]["distance"] == 4 and res["matches"][0]["band"] == "near"
    exact = _check(server, trusted, [{"type": "phash", "value": stored}])
    assert exact["matches"][0] == {**exact["matches"][0], "distance": 0, "band": "exact"}


def test_exact_hashes_answer_the_exact_band(server: Server, services: Services) -> None:
    value = secrets.token_hex(32)
    _confirmed_case(server, services, value)
    key = _key(services)
    _followed(server, key, "sha256", value)
    res = _check(server, key, [{"type": "sha256", "value": value}])
    assert res["matches"][0]["band"] == "exact" and res["matches"][0]["distance"] is None


def test_phash_only_matches_block_only_where_the_bank_says(
    server: Server, services: Services
) -> None:
    admin = _key(services, "admin")
    with server.client(admin) as c:
        r = c.post(
            "/v1/banks", json={"name": "phash-strict", "policy": "block", "phash_block": True}
        )
        assert r.status_code == 201 and r.json()["phash_block"] is True, r.text
        banks = {b["name"]: b for b in c.get("/v1/banks").json()}
    assert banks["reports"]["phash_block"] is False
    loose, strict = secrets.token_hex(8), secrets.token_hex(8)
    _import(services, "phash", loose)
    _import(services, "phash", strict, bank="phash-strict")
    key = _key(services)
    _followed(server, key, "phash", strict)
    assert _check(server, key, [{"type": "phash", "value": loose}])["action"] == "review"
    assert _check(server, key, [{"type": "phash", "value": strict}])["action"] == "block"
    # beside another hash's block, a pHash match does not stand in the way
    sha = secrets.token_hex(32)
    _import(services, "sha256", sha)
    _followed(server, key, "sha256", sha)
    both = _check(
        server, key, [{"type": "phash", "value": loose}, {"type": "sha256", "value": sha}]
    )
    assert both["action"] == "block"


# -- item 4: a fresh pending case answers review only after the delay -------------------------
def test_pending_hashes_wait_for_the_delay_or_a_moderator(
    server: Server, services: Services
) -> None:
    key = _key(services)
    waiting, confirmed, marker = (secrets.token_hex(32) for _ in range(3))
    reported = time.monotonic()
    _report(server, [{"type": "sha256", "value": waiting}])
    case = _report(server, [{"type": "sha256", "value": confirmed}])
    _import(services, "sha256", marker)
    _followed(server, key, "sha256", marker)  # the change log is ordered: cases seen too
    first = _check(server, key, [{"type": "sha256", "value": waiting}])
    assert time.monotonic() - reported < PENDING_DELAY  # else the machine is far too slow
    assert first["match"] is False and first["action"] == "none"
    # a moderator's confirmation does not wait
    services.cases.review(case["case_id"], confirm=True, actor="moderator")
    eventually(
        lambda: _check(server, key, [{"type": "sha256", "value": confirmed}])["action"] == "block"
    )
    # and the delay passes
    late = eventually(
        lambda: _check(server, key, [{"type": "sha256", "value": waiting}])["match"], 15
    )
    assert late and time.monotonic() - reported >= PENDING_DELAY - 0.5
    assert _check(server, key, [{"type": "sha256", "value": waiting}])["action"] == "review"


# -- the dashboard: exact distances per client, probers flagged -------------------------------
def test_dashboard_toggles_exact_distances_and_flags_probers(
    server: Server, services: Services
) -> None:
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    admin, password = f"adm-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    services.users.create(admin, password, "admin", actor="test")
    stored = secrets.token_hex(8)
    _import(services, "phash", stored)
    platform, prober = f"platform-{secrets.token_hex(3)}", f"prober-{secrets.token_hex(3)}"
    key, probe_key = _key(services, name=platform), _key(services, name=prober)
    _followed(server, key, "phash", stored)
    near = [[{"type": "phash", "value": _flip(stored, b)}] for b in range(32)]
    assert _batch(server, probe_key, near).status_code == 429

    with httpx.Client(base_url=server.url, timeout=60) as web:
        token = csrf.search(web.get("/dashboard").text)
        assert token is not None
        login = {"csrf": token.group(1), "username": admin, "password": password}
        assert web.post("/dashboard/login", data=login).status_code == 303
        page = web.get("/dashboard/clients").text
        token = csrf.search(page)
        assert token is not None
        row = re.search(rf"<tr>\s*<td>{prober}</td>.*?</tr>", page, re.S)
        assert row is not None and "probing" in row.group(0)
        assert prober in web.get("/dashboard").text  # the overview names it
        (client_id,) = [c.id for c in services.clients.list() if c.name == platform]
        r = web.post(
            f"/dashboard/clients/{client_id}/distances",
            data={"csrf": token.group(1), "exact": "on"},
        )
        assert r.status_code == 303, r.text
    res = _check(server, key, [{"type": "phash", "value": _flip(stored, 1, 2)}])
    assert res["matches"][0]["distance"] == 2  # at once on the server that changed it
