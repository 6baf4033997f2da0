"""Webhooks end to end: real servers POST to a real receiver process (tests/webhook_receiver.py).

What is held: URLs are validated and SSRF-checked (422 problems); deliveries are signed as
docs/integrations.md says, carry hashes and opaque ids only, come in feed order, survive
a receiver that is down and a server killed with ``kill -9`` (at least once); a slow, huge,
redirecting or failing receiver holds up no other endpoint; a batch that fails for the
whole retry window is dead-lettered and can be redelivered; secrets rotate with both
signing meanwhile. On PostgreSQL, two replicas share the work and send each batch once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.services.container import Services
from app.services.webhook_worker import LEASE
from tests.servers import PG_ADMIN_URL, Server, eventually, fresh_database_url
from tests.webhook_receiver import Receiver

HOOK_ENV = {
    "HASHBANK_WEBHOOK_ALLOW_HTTP": "true",
    "HASHBANK_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "HASHBANK_WEBHOOK_FIRST_RETRY_SECONDS": "0.2",
    "HASHBANK_WEBHOOK_TIMEOUT_SECONDS": "1",
    "HASHBANK_WEBHOOK_POLL_SECONDS": "0.2",
}


def verify(secret: str, header: str, body: bytes, now: float, window: int = 300) -> bool:
    """The receiver's check, exactly as docs/integrations.md writes it."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = int(next(v for k, v in parts if k == "t"))
    if abs(now - t) > window:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("hooks")
    srv = Server(workdir, fresh_database_url(workdir), extra_env=HOOK_ENV).start()
    yield srv
    srv.stop()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    rec = Receiver(tmp_path / "received.jsonl").start()
    yield rec
    rec.kill()


_SERVICES: dict[str, Services] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_services() -> Iterator[None]:
    yield
    while _SERVICES:
        _SERVICES.popitem()[1].close()


def _key(server: Server, scopes: str = "check,feed", name: str | None = None) -> str:
    """A new API client's key, made in this process (a CLI run costs seconds here)."""
    svc = _SERVICES.get(server.database_url)
    if svc is None:
        svc = Services.build(Settings(database_url=server.database_url), migrate=False)
        _SERVICES[server.database_url] = svc
    name = name or f"p-{secrets.token_hex(4)}"
    return svc.clients.create(name, scopes.split(","), actor="test").key


@pytest.fixture(scope="module")
def admin(server: Server) -> str:
    return _key(server, "admin", name="hook-admin-x")


def _pdq() -> str:
    return secrets.token_hex(32)


def _report(server: Server, n: int = 2) -> tuple[dict[str, str], list[str]]:
    values = [_pdq() for _ in range(n)]
    body = {"hashes": [{"type": "pdq", "value": v, "quality": 90} for v in values]}
    with server.client() as c:
        r = c.post("/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json()), values


def _withdraw(server: Server, case: dict[str, str]) -> None:
    with server.client() as c:
        r = c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200, r.text


def _add(server: Server, admin: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """A new platform with an endpoint at ``url`` (over the API): its id and secret."""
    name = f"p-{secrets.token_hex(4)}"
    _key(server, name=name)
    with server.client(admin) as c:
        r = c.post("/v1/webhooks", json={"client": name, "url": url, "events": events})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _deliveries(server: Server, key: str, endpoint: int) -> list[dict[str, Any]]:
    with server.client(key) as c:
        r = c.get(f"/v1/webhooks/{endpoint}/deliveries")
    assert r.status_code == 200, r.text
    return list(r.json())


def _in_order(seqs: list[int]) -> bool:
    """Strictly increasing once repeats (at-least-once) are dropped, keeping first sight."""
    first = list(dict.fromkeys(seqs))
    return first == sorted(first)


# -- adding an endpoint: validation and SSRF ---------------------------------------------------

REFUSED = [
    "ftp://example.org/hook",
    "https:///no-host",
    "https://example.org:99999/hook",
    "https://example.org:0/hook",
    "https://example.org/" + "a" * 2100,
    "https://user:pw@example.org/hook",
    "https://example.org/hook#part",
    "https://exa mple.org/hook",
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.1/hook",
    "https://172.16.5.4/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.100.100.200/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://[fe80::1]/hook",
    "https://224.0.0.1/hook",
    "https://no-such-host.invalid/hook",
]


def test_bad_and_internal_urls_get_422_problems(tmp_path: Path, server_factory: Any) -> None:
    srv = server_factory()  # default settings: https only, no host allowed
    key = _key(srv, "admin")
    _key(srv, "check,feed", name="platform")
    with srv.client(key) as c:
        for url in [*REFUSED, "http://93.184.215.14/hook"]:
            r = c.post("/v1/webhooks", json={"client": "platform", "url": url})
            assert r.status_code == 422, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), url
        r = c.post(
            "/v1/webhooks",
            json={"client": "platform", "url": "https://93.184.215.14/h", "events": ["nope"]},
        )
        assert r.status_code == 422 and "hash.added" in r.json()["detail"]
        r = c.post("/v1/webhooks", json={"client": "nobody", "url": "https://93.184.215.14/h"})
        assert r.status_code == 404
        # a public address is accepted (no DNS needed for an address)
        r = c.post("/v1/webhooks", json={"client": "platform", "url": "https://93.184.215.14/h"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["secret"].startswith("whsec_") and created["events"][0] == "hash.added"
        listed = c.get("/v1/webhooks").json()
        assert [e["id"] for e in listed] == [created["id"]]
        assert "secret" not in listed[0]  # shown once only
    with srv.client() as c:
        assert c.get("/v1/webhooks").status_code == 401
    check_key = _key(srv, "check")
    with srv.client(check_key) as c:
        assert c.get("/v1/webhooks").status_code == 403
        assert c.post("/v1/webhooks", json={}).status_code == 403
    # the CLI refuses the same way, with the rule in its message
    out = srv.cli("webhooks", "add", "platform", "https://127.0.0.1/h", check=False)
    assert out.returncode == 1 and "loopback" in out.stderr


# -- delivery ----------------------------------------------------------------------------------


def test_changes_arrive_signed_in_order_with_opaque_ids_only(
    server: Server, receiver: Receiver, admin: str
) -> None:
    _key(server, name="signed-platform")
    out = server.cli("webhooks", "add", "signed-platform", receiver.url("/ok/signed"), "--json")
    hook = json.loads(out.stdout)
    assert set(hook) == {"id", "secret", "events"}
    case, values = _report(server, 3)
    other, other_values = _report(server, 2)
    withdrawn_at = time.time()
    _withdraw(server, case)

    def arrived() -> list[dict[str, Any]]:
        events = receiver.events("/ok/signed")
        kinds = [(e["type"], e["value"]) for e in events]
        done = all(("hash.withdrawn", v) in kinds for v in values)
        return events if done and len(events) >= 8 else []

    events = eventually(arrived, timeout=10)
    # the withdrawal reached the receiver within a second or two of the victim's DELETE
    last = receiver.requests("/ok/signed")[-1]
    assert last["at"] - withdrawn_at < 3
    assert _in_order([e["seq"] for e in events])
    assert {e["value"] for e in events if e["type"] == "hash.added"} == set(values + other_values)
    event = events[0]
    assert set(event) == {
        "type", "seq", "at", "signal_id", "group", "signal_type", "value", "bank", "status",
    }  # fmt: skip
    assert event["signal_type"] == "pdq" and len(event["group"]) == 32
    for request in receiver.requests("/ok/signed"):
        body = request["body"]
        assert case["case_id"] not in body and case["pin"] not in body
        assert other["case_id"] not in body and other["pin"] not in body
        header = request["headers"]["x-hashbank-signature"]
        assert verify(hook["secret"], header, body.encode(), time.time())
        assert not verify("whsec_wrong", header, body.encode(), time.time())
        assert not verify(hook["secret"], header, body.encode() + b" ", time.time())
        # an old signature is refused by the documented replay window
        assert not verify(hook["secret"], header, body.encode(), time.time() + 301)


def test_only_the_events_asked_for(server: Server, receiver: Receiver, admin: str) -> None:
    _add(server, admin, receiver.url("/ok/withdrawals"), ["hash.withdrawn"])
    case, values = _report(server, 2)
    _withdraw(server, case)
    events = eventually(lambda: receiver.events("/ok/withdrawals"), timeout=10)
    assert {e["type"] for e in events} == {"hash.withdrawn"}
    assert {e["value"] for e in events} == set(values)


def test_a_confirmed_match_reaches_its_platform_alone(
    server: Server, receiver: Receiver, admin: str
) -> None:
    """A moderator confirms a platform's match: that platform's endpoint gets
    ``match.confirmed`` with the match id its check answer gave it; another platform's
    endpoint gets nothing of it, and the feed never hands the confirmation out."""
    keys = {}
    for role in ("matcher", "bystander"):
        name = f"{role}-{secrets.token_hex(3)}"
        keys[role] = _key(server, "check,feed", name=name)
        with server.client(admin) as c:
            r = c.post("/v1/webhooks", json={"client": name, "url": receiver.url(f"/ok/{role}")})
        assert r.status_code == 201, r.text
    _, values = _report(server, 1)
    with server.client(keys["matcher"]) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": values[0]}]})
    assert r.status_code == 200, r.text
    match_id = r.json()["matches"][0]["match_id"]
    assert match_id is not None
    _SERVICES[server.database_url].matches.confirm(match_id, actor="moderator-x")

    def confirmed(path: str) -> list[dict[str, Any]]:
        return [e for e in receiver.events(path) if e["type"] == "match.confirmed"]

    got = eventually(lambda: confirmed("/ok/matcher"), timeout=10)
    assert [(e["match_id"], e["value"], e["status"]) for e in got] == [
        (match_id, values[0], "confirmed")
    ]
    # the bystander's endpoint has gone past that change (its hash.added came) without it
    eventually(lambda: any(e["value"] == values[0] for e in receiver.events("/ok/bystander")))
    time.sleep(1.0)
    assert confirmed("/ok/bystander") == []
    with server.client(keys["bystander"]) as c:
        feed = c.get("/v1/feed", params={"limit": 1000}).json()
    assert all(item["op"] != "match" for item in feed["items"])
    assert sum(item["value"] == values[0] for item in feed["items"]) == 1  # its add alone


def test_webhooks_need_the_feed_scope(server: Server, receiver: Receiver, admin: str) -> None:
    """Deliveries carry hash values, which only the feed scope may read: a check-only
    client gets no endpoint, and a client revoked after it got one gets nothing more."""
    name = f"check-only-{secrets.token_hex(3)}"
    _key(server, "check", name=name)
    with server.client(admin) as c:
        r = c.post("/v1/webhooks", json={"client": name, "url": receiver.url("/ok/nope")})
    assert r.status_code == 422, r.text
    assert "feed scope" in r.json()["detail"]

    hook = _add(server, admin, receiver.url("/ok/revoked"), ["hash.added"])
    _, first = _report(server, 1)
    eventually(lambda: [e for e in receiver.events("/ok/revoked") if e["value"] == first[0]])
    _SERVICES[server.database_url].clients.revoke(hook["client"], actor="test")
    _, second = _report(server, 1)

    def refused() -> list[dict[str, Any]]:
        rows = _deliveries(server, admin, hook["id"])
        return [d for d in rows if "revoked" in d["last_error"]]

    eventually(refused, timeout=10)
    assert all(e["value"] != second[0] for e in receiver.events("/ok/revoked"))


def test_a_receiver_down_for_a_while_gets_everything_in_order(
    server: Server, tmp_path: Path, admin: str
) -> None:
    rec = Receiver(tmp_path / "late.jsonl")  # not started: the port refuses connections
    hook = _add(server, admin, rec.url("/ok/late"))
    expected = []
    for _ in range(4):
        expected += _report(server, 3)[1]

    def failing() -> bool:
        rows = _deliveries(server, admin, hook["id"])
        return bool(rows) and rows[0]["status"] == "retrying" and rows[0]["attempts"] >= 2

    eventually(failing, timeout=10)
    row = _deliveries(server, admin, hook["id"])[0]
    assert row["last_error"] and row["next_attempt_at"]
    rec.start()
    try:
        events = eventually(
            lambda: (e := rec.events("/ok/late")) and {x["value"] for x in e} >= set(expected),
            timeout=15,
        )
        events = rec.events("/ok/late")
        assert _in_order([e["seq"] for e in events])
        eventually(lambda: _deliveries(server, admin, hook["id"])[0]["status"] == "delivered")
    finally:
        rec.kill()
    assert events


def test_slow_huge_redirecting_and_failing_receivers_hold_up_no_one(
    server: Server, receiver: Receiver, admin: str
) -> None:
    paths = ("/slow", "/huge", "/redirect", "/status/500")
    bad = {path: _add(server, admin, receiver.url(path)) for path in paths}
    _add(server, admin, receiver.url("/ok/fast"))
    started = time.time()
    _case, values = _report(server, 2)
    eventually(lambda: len(receiver.events("/ok/fast")) >= 2, timeout=5)
    assert time.time() - started < 3  # not behind the slow receiver's 1 s timeouts
    assert {e["value"] for e in receiver.events("/ok/fast")} == set(values)

    def last(path: str) -> dict[str, Any]:
        rows = _deliveries(server, admin, bad[path]["id"])
        return rows[0] if rows else {}

    eventually(lambda: last("/slow").get("last_error", "").startswith("timeout"), timeout=10)
    eventually(lambda: "redirects are not followed" in last("/redirect").get("last_error", ""))
    assert receiver.requests("/ok-redirected") == []
    eventually(lambda: last("/status/500").get("last_error") == "HTTP 500")
    # 50 MB answered: read no further than 64 KB, and the batch counts as delivered
    eventually(lambda: last("/huge").get("status") == "delivered", timeout=10)


def test_rotation_signs_with_both_secrets(server: Server, receiver: Receiver, admin: str) -> None:
    hook = _add(server, admin, receiver.url("/ok/rotated"))
    with server.client(admin) as c:
        r = c.post(f"/v1/webhooks/{hook['id']}/rotate")
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != hook["secret"]
    _report(server, 1)
    request = eventually(lambda: receiver.requests("/ok/rotated"), timeout=10)[0]
    header, body = request["headers"]["x-hashbank-signature"], request["body"].encode()
    assert header.count("v1=") == 2
    assert verify(new, header, body, time.time())
    assert verify(hook["secret"], header, body, time.time())


def test_redeliver_sends_a_batch_again(server: Server, receiver: Receiver, admin: str) -> None:
    hook = _add(server, admin, receiver.url("/ok/again"))
    _report(server, 2)
    eventually(lambda: receiver.requests("/ok/again"), timeout=10)
    row = eventually(lambda: _deliveries(server, admin, hook["id"]))[0]
    first = receiver.events("/ok/again")
    with server.client(admin) as c:
        r = c.post(f"/v1/webhooks/{hook['id']}/deliveries/{row['id']}/redeliver")
        assert r.status_code == 202, r.text
        assert c.post(f"/v1/webhooks/{hook['id']}/deliveries/999999/redeliver").status_code == 404
    again = eventually(
        lambda: len(receiver.requests("/ok/again")) >= 2 and receiver.events("/ok/again")
    )
    assert [e["seq"] for e in again[: len(first)]] == [e["seq"] for e in first]
    assert [e["seq"] for e in again[len(first) : 2 * len(first)]] == [e["seq"] for e in first]
    with server.client(admin) as c:
        assert c.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
        assert c.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
        assert c.get(f"/v1/webhooks/{hook['id']}/deliveries").status_code == 404


# -- crashes, dead letters, replicas -----------------------------------------------------------


def test_kill_9_loses_nothing(server_factory: Callable[..., Server], receiver: Receiver) -> None:
    srv = server_factory(extra_env=HOOK_ENV)
    _add(srv, _key(srv, "admin"), receiver.url("/ok/crash"))
    expected: list[str] = []
    stop = threading.Event()

    def report_some() -> None:
        while not stop.is_set():
            try:
                expected.extend(_report(srv, 5)[1])
            except Exception:  # the server is being killed: this one was not acknowledged
                time.sleep(0.05)

    writer = threading.Thread(target=report_some)
    writer.start()
    eventually(lambda: len(receiver.events("/ok/crash")) >= 10, timeout=10)
    srv.kill()
    stop.set()
    writer.join()
    srv.start()
    more = _report(srv, 5)[1]
    expected += more

    def all_there() -> bool:
        return {e["value"] for e in receiver.events("/ok/crash")} >= set(expected)

    # the killed process may have held the endpoint's lease (a batch in flight, or its
    # outcome waiting for SQLite's write lock behind the reports): the restarted one
    # takes the endpoint over once that lease has run out
    eventually(all_there, timeout=LEASE.total_seconds() + 15)
    assert _in_order([e["seq"] for e in receiver.events("/ok/crash")])


def test_a_batch_failing_for_the_retry_window_is_dead_lettered_then_redelivered(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    env = {**HOOK_ENV, "HASHBANK_WEBHOOK_RETRY_HOURS": "0.0005"}  # 1.8 s
    srv = server_factory(extra_env=env)
    admin = _key(srv, "admin")
    rec = Receiver(tmp_path / "dead.jsonl")  # down
    hook = _add(srv, admin, rec.url("/ok/dead"))
    _case, lost = _report(srv, 2)
    dead = eventually(
        lambda: [d for d in _deliveries(srv, admin, hook["id"]) if d["status"] == "dead"],
        timeout=15,
    )[0]
    assert dead["attempts"] >= 2 and dead["last_error"]
    rec.start()
    try:
        _case, later = _report(srv, 2)
        eventually(lambda: {e["value"] for e in rec.events("/ok/dead")} >= set(later), timeout=10)
        assert not {e["value"] for e in rec.events("/ok/dead")} & set(lost)  # moved on
        with srv.client(admin) as c:
            r = c.post(f"/v1/webhooks/{hook['id']}/deliveries/{dead['id']}/redeliver")
        assert r.status_code == 202
        eventually(lambda: {e["value"] for e in rec.events("/ok/dead")} >= set(lost), timeout=10)
        rows = _deliveries(srv, admin, hook["id"])
        assert [d["status"] for d in rows if d["id"] == dead["id"]] == ["redelivered"]
    finally:
        rec.kill()


@pytest.mark.skipif(not PG_ADMIN_URL, reason="two replicas share one PostgreSQL database")
def test_two_replicas_send_each_batch_once(
    server_factory: Callable[..., Server], receiver: Receiver, tmp_path: Path
) -> None:
    url = fresh_database_url(tmp_path)
    a = server_factory(url, extra_env=HOOK_ENV)
    b = server_factory(url, extra_env=HOOK_ENV)
    _add(a, _key(a, "admin"), receiver.url("/ok/replicas"))
    expected: list[str] = []
    for i in range(20):
        expected += _report(a if i % 2 else b, 3)[1]
    eventually(
        lambda: {e["value"] for e in receiver.events("/ok/replicas")} >= set(expected), timeout=15
    )
    seqs = [e["seq"] for e in receiver.events("/ok/replicas")]
    assert len(seqs) == len(set(seqs)) == len(expected)  # every event once: no failure, no repeat
    assert seqs == sorted(seqs)


def test_webhook_health_counts_a_clients_deliveries(
    server: Server, receiver: Receiver, admin: str
) -> None:
    ok = _add(server, admin, receiver.url("/ok/health"))
    failing = _add(server, admin, receiver.url("/status/503"))
    _report(server, 1)
    eventually(lambda: receiver.requests("/ok/health"), timeout=10)
    eventually(lambda: len(receiver.requests("/status/503")) >= 2, timeout=10)
    svc = _SERVICES[server.database_url]
    ids = {c.name: c.id for c in svc.clients.list()}
    period = (datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    # the receiver has an attempt before the server has recorded its answer: wait for that
    eventually(
        lambda: svc.webhooks.webhook_health(ids[failing["client"]], period)["failed"] >= 2,
        timeout=10,
    )
    eventually(
        lambda: svc.webhooks.webhook_health(ids[ok["client"]], period)["delivered"] == 1,
        timeout=10,
    )
    healthy = svc.webhooks.webhook_health(ids[ok["client"]], period)
    assert healthy["endpoints"] == 1 and healthy["delivered"] == 1
    assert healthy["failed"] == 0 and healthy["dead_lettered"] == 0
    assert isinstance(healthy["median_latency_ms"], int) and healthy["last_error"] is None
    sick = svc.webhooks.webhook_health(ids[failing["client"]], period)
    assert sick["delivered"] == 0 and sick["retrying"] == 1
    assert sick["failed"] >= 2 and sick["last_error"] == "HTTP 503"
    empty = svc.webhooks.webhook_health(ids[ok["client"]], (period[1], period[1]))
    assert empty["delivered"] == 0 and empty["median_latency_ms"] is None
    # the platform's record carries it (GET /v1/clients/{id}/record, docs/records.md)
    with server.client(admin) as c:
        record = c.get(f"/v1/clients/{ids[ok['client']]}/record").json()
        assert record["webhooks"]["delivered"] == 1, record
        assert c.get(f"/v1/clients/{ids['hook-admin-x']}/record").json()["webhooks"] is None
