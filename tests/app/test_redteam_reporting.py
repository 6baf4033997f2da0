"""Issue 17, the reporting side: anonymous limits behind a proxy (item 1), poisoning guards
of reports (item 4), and the PIN's costs (item 11): real servers, real databases."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import argon2
import httpx
import pytest

from app.config import Settings
from app.errors import Unauthorized
from app.main import create_app
from app.services.container import Services
from app.services.inputs import HashInput
from app.web.addresses import limit_key, parse_trusted_proxies, resolve
from tests.servers import Server, fresh_database_url

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server behind a fake trusted proxy (the test client, 127.0.0.1), with small
    budgets: each test names its own clients in X-Forwarded-For, so each gets fresh
    buckets of this one server."""
    workdir = tmp_path_factory.mktemp("proxied")
    env = {
        "HASHBANK_TRUSTED_PROXIES": "127.0.0.1",
        "HASHBANK_ANONYMOUS_CASES_PER_HOUR": "2",
        "HASHBANK_PIN_ATTEMPTS_PER_ADDRESS_PER_HOUR": "4",
        "HASHBANK_MAX_HASHES_ANONYMOUS": "3",
    }
    server = Server(workdir, fresh_database_url(workdir), extra_env=env).start()
    yield server
    server.stop()


def _as(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def _client(server: Server, forwarded_for: dict[str, str]) -> httpx.Client:
    """A client whose every request comes "from" the address the proxy forwards."""
    client = server.client()
    client.headers.update(forwarded_for)
    return client


def _pdq(quality: int | None = 90) -> dict:
    item: dict = {"type": "pdq", "value": secrets.token_hex(32)}
    if quality is not None:
        item["quality"] = quality
    return item


def _report(c, forwarded_for: str | None = None, **body: object):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return c.post("/v1/cases", json=body or {"hashes": [_pdq()]}, headers=headers)


# -- item 1: whose address a limit is keyed on ----------------------------------------------


def test_behind_a_trusted_proxy_each_forwarded_client_gets_its_own_bucket(proxied: Server):
    with proxied.client() as c:
        alice = [_report(c, "203.0.113.7").status_code for _ in range(3)]
        bob = [_report(c, "198.51.100.23").status_code for _ in range(2)]
        # a hop forged to the left of Alice's (her own header, passed on by the proxy)
        # changes nothing: the rightmost hop that is not a trusted proxy counts
        forged = _report(c, "192.0.2.99, 203.0.113.7")
        # a chain of trusted proxies: 127.0.0.1 hops are skipped, the client is Bob
        chained = _report(c, "198.51.100.23, 127.0.0.1")
        # IPv6 clients share a bucket per /64: the same subscriber's other address ...
        six = [_report(c, f"2001:db8:7:1::{n:x}").status_code for n in (1, 2, 0xFFFF)]
        # ... but the next /64 is someone else
        other64 = _report(c, "2001:db8:7:2::1")
    assert alice == [201, 201, 429] and bob == [201, 201]
    assert forged.status_code == 429 and chained.status_code == 429
    assert int(forged.headers["retry-after"]) > 0
    assert forged.headers["content-type"] == PROBLEM
    assert six == [201, 201, 429] and other64.status_code == 201


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_ANONYMOUS_CASES_PER_HOUR": "2"})
    with server.client() as c:
        codes = [_report(c, f"203.0.113.{n}").status_code for n in range(1, 4)]
    assert codes == [201, 201, 429]  # one bucket: the socket peer's


def test_junk_does_not_use_up_a_victims_quota(proxied: Server):
    victim = _as("203.0.113.50")
    json_type = {**victim, "Content-Type": "application/json"}
    with proxied.client() as c:
        junk = [
            c.post("/v1/cases", content=b"junk", headers=json_type),
            c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": "xyz"}]}, headers=victim),
            c.post(
                "/v1/cases", json={"hashes": [{"type": "pdq", "value": "0" * 64}]}, headers=victim
            ),
            c.post("/v1/cases", json={"hashes": [_pdq(quality=None)]}, headers=victim),  # item 4
            c.post("/v1/cases", json={"hashes": []}, headers=victim),
        ]
        assert [r.status_code for r in junk] == [400, 422, 422, 422, 422]
        reports = [_report(c, "203.0.113.50").status_code for _ in range(3)]
    assert reports == [201, 201, 429]


def test_the_trusted_proxy_rule():
    """uvicorn's --forwarded-allow-ips rule, and the /64 of IPv6 clients."""
    none, local = parse_trusted_proxies(""), parse_trusted_proxies("127.0.0.1, 10.0.0.0/8")
    assert resolve("127.0.0.1", ["203.0.113.7"], none) == "127.0.0.1"  # nobody trusted
    assert resolve("192.0.2.1", ["203.0.113.7"], local) == "192.0.2.1"  # an untrusted peer
    assert resolve("127.0.0.1", ["203.0.113.7"], local) == "203.0.113.7"
    assert resolve("127.0.0.1", ["1.1.1.1, 203.0.113.7, 10.1.2.3"], local) == "203.0.113.7"
    assert resolve("127.0.0.1", ["1.1.1.1", "203.0.113.7"], local) == "203.0.113.7"  # 2 headers
    assert resolve("127.0.0.1", ["10.0.0.1, 10.0.0.2"], local) == "10.0.0.1"  # all trusted
    assert resolve("127.0.0.1", [], local) == "127.0.0.1"
    assert resolve("192.0.2.1", ["203.0.113.7"], parse_trusted_proxies("*")) == "203.0.113.7"
    assert resolve("::ffff:127.0.0.1", ["203.0.113.7"], local) == "203.0.113.7"
    same = {limit_key(h) for h in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff")}
    assert same == {"2001:db8:1:2::/64"}
    assert limit_key("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert limit_key("[2001:db8:1:2::1]") == "2001:db8:1:2::/64"
    assert limit_key("::ffff:192.0.2.1") == limit_key("192.0.2.1") == "192.0.2.1"
    with pytest.raises(ValueError, match="not an address"):
        Settings(trusted_proxies="127.0.0.1, proxy.example")


# -- item 4: a PDQ hash without its quality; the add-hashes route's limit -------------------


def test_a_pdq_hash_without_quality_is_refused_unless_a_report_key_sends_it(proxied: Server):
    key = proxied.create_client(scopes="report")
    me = _as("203.0.113.60")
    with _client(proxied, me) as c:
        r = c.post("/v1/cases", json={"hashes": [_pdq(quality=None)]})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert "needs its quality" in r.json()["detail"]
        assert r.json()["weak"][0]["index"] == 0
        case = c.post("/v1/cases", json={"hashes": [_pdq()]}).json()
        pin = {"X-Case-Pin": case["pin"]}
        url = f"/v1/cases/{case['case_id']}"
        r = c.post(f"{url}/hashes", json={"hashes": [_pdq(quality=None)]}, headers=pin)
        assert r.status_code == 422 and "needs its quality" in r.json()["detail"]
        assert c.post(f"{url}/hashes", json={"hashes": [_pdq()]}, headers=pin).status_code == 200
        assert c.get(url, headers=pin).json()["hashes"] == 2
    with proxied.client(key) as c:  # a platform's or an NGO's own hashing is trusted
        assert c.post("/v1/cases", json={"hashes": [_pdq(quality=None)]}).status_code == 201


def test_adding_hashes_shares_the_anonymous_report_budget(proxied: Server):
    with _client(proxied, _as("203.0.113.70")) as c:
        case = c.post("/v1/cases", json={"hashes": [_pdq()]}).json()  # 1 of 2
        pin = {"X-Case-Pin": case["pin"]}
        url = f"/v1/cases/{case['case_id']}/hashes"
        junk = [
            c.post(url, content=b"{", headers={**pin, "Content-Type": "application/json"}),
            c.post(url, json={"hashes": [{"type": "md5", "value": "0" * 32}]}, headers=pin),
            c.post(url, json={"hashes": [_pdq(quality=None)]}, headers=pin),
        ]
        assert [r.status_code for r in junk] == [400, 422, 422]  # they spend nothing
        added = [c.post(url, json={"hashes": [_pdq()]}, headers=pin) for _ in range(2)]
        report = c.post("/v1/cases", json={"hashes": [_pdq()]})
    assert [r.status_code for r in added] == [200, 429]
    assert int(added[1].headers["retry-after"]) > 0
    assert report.status_code == 429  # one budget for both routes


def test_an_addition_to_a_full_case_gives_its_report_back(proxied: Server):
    with _client(proxied, _as("203.0.113.75")) as c:
        case = c.post("/v1/cases", json={"hashes": [_pdq() for _ in range(3)]}).json()  # 1 of 2
        pin = {"X-Case-Pin": case["pin"]}
        full = c.post(f"/v1/cases/{case['case_id']}/hashes", json={"hashes": [_pdq()]}, headers=pin)
        assert full.status_code == 422 and "at most 3 hashes" in full.json()["detail"]
        reports = [c.post("/v1/cases", json={"hashes": [_pdq()]}).status_code for _ in range(2)]
    assert reports == [201, 429]  # the failed addition took nothing: 2 of 2, then none


# -- item 11: the PIN's costs ------------------------------------------------------------------


def test_failed_pin_checks_are_limited_per_address_across_routes(proxied: Server):
    wrong = {"X-Case-Pin": "0000-0000-0000"}
    unknown = "/v1/cases/HB-0000-0000-0000-0000"
    with _client(proxied, _as("203.0.113.80")) as c:
        case = c.post("/v1/cases", json={"hashes": [_pdq()]}).json()
        url = f"/v1/cases/{case['case_id']}"
        right = {"X-Case-Pin": case["pin"]}
        assert all(c.get(url, headers=right).status_code == 200 for _ in range(6))  # free
        failed = [
            c.get(unknown, headers=wrong),
            c.get(url, headers=wrong),
            c.delete(unknown, headers=wrong),
            c.post(f"{url}/hashes", json={"hashes": [_pdq()]}, headers=wrong),
        ]
        assert [r.status_code for r in failed] == [401] * 4
        refused = c.get(unknown, headers=wrong)
        form = {"case_id": case["case_id"], "pin": "1", "action": "show"}
        follow = c.post("/follow", data=form)
        # another address behind the same (trusted) proxy still has its own attempts
        elsewhere = c.get(unknown, headers={**wrong, **_as("203.0.113.81")})
    assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
    assert 0 < int(refused.headers["retry-after"]) <= 900  # 4 an hour: one back in 15 min
    assert "PIN" in refused.json()["detail"]
    assert follow.status_code == 429 and int(follow.headers["retry-after"]) > 0
    said = "Too many case numbers or PINs were tried from this connection. Try again in 15 minutes"
    assert said in follow.text
    assert elsewhere.status_code == 401


def test_the_follow_page_says_so_in_the_visitors_language(proxied: Server):
    form = {"case_id": "HB-0000-0000-0000-0000", "pin": "0000-0000-0000", "action": "show"}
    with _client(proxied, _as("203.0.113.90")) as c:
        pages = [c.post("/follow?lang=fr", data=form) for _ in range(5)]
    said = "Trop de numéros de dossier ou de codes PIN ont été essayés depuis cette connexion. "
    said += "Réessayez dans 15 minutes."
    assert [p.status_code for p in pages] == [200] * 4 + [429]
    assert said not in pages[3].text and said in pages[4].text


@pytest.fixture
def services(tmp_path: Path):
    """In-process services on a database of the suite's kind (SQLite, or PostgreSQL)."""
    svc = Services.build(Settings(database_url=fresh_database_url(tmp_path)))
    yield svc
    svc.close()


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification in this process (argon2-cffi's, called through)."""
    runs: list[str] = []
    verify = argon2.PasswordHasher.verify

    def counted(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        runs.append("verify")
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted)
    return runs


def test_adding_hashes_checks_the_pin_once_per_request(services: Services, argon2_runs):
    """POST /v1/cases/{id}/hashes through the real app (its router, services, database):
    one argon2 run for the PIN, not one before the body is read and another to add."""
    new = services.cases.report([HashInput("md5", secrets.token_hex(16))], actor="test")
    services.replica.load()  # what the app's start-up does (the transport runs no lifespan)
    app = create_app(services.settings, services=services)

    async def add(pin: str, value: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hashbank") as c:
            return await c.post(
                f"/v1/cases/{new.case_id}/hashes",
                headers={"X-Case-Pin": pin},
                json={"hashes": [{"type": "md5", "value": value}]},
            )

    added = asyncio.run(add(new.pin, secrets.token_hex(16)))
    assert added.status_code == 200 and added.json()["hashes"] == 2
    assert argon2_runs == ["verify"]
    argon2_runs.clear()
    refused = asyncio.run(add("0000-0000-0000", secrets.token_hex(16)))
    assert refused.status_code == 401 and argon2_runs == ["verify"]


@contextmanager
def _commits(database_url: str) -> Iterator[Callable[[], object]]:
    """A probe whose value changes when another connection commits a write."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            yield lambda: conn.execute("PRAGMA data_version").fetchone()[0]
        finally:
            conn.close()
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    # the versions of the rows (a write makes a new one)
    versions = text("SELECT xmin::text FROM case_report UNION ALL SELECT xmin::text FROM bank")

    def probe() -> object:
        with engine.connect() as conn:
            return sorted(conn.execute(versions).scalars())

    try:
        yield probe
    finally:
        engine.dispose()


def test_an_unknown_case_id_costs_the_write_a_wrong_pin_costs(services: Services):
    """A wrong PIN commits its failure count; an unknown id now commits a write too, so
    neither answers faster (docs/security.md has the measured medians)."""
    new = services.cases.report([HashInput("md5", secrets.token_hex(16))], actor="test")
    with _commits(services.settings.database_url) as probe:
        before = probe()
        with pytest.raises(Unauthorized):
            services.cases.authenticate(new.case_id, "0000-0000-0000")
        assert probe() != before
        before = probe()
        with pytest.raises(Unauthorized):
            services.cases.authenticate("HB-0000-0000-0000-0000", "0000-0000-0000")
        assert probe() != before
