"""The webhooks page in Chromium: an endpoint's deliveries (status, latency, last error) and
a redelivery by an admin (CSRF-guarded form, audited) that the receiver really gets again;
a moderator is kept out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import (
    PASSWORD,
    Http,
    Staffer,
    Watch,
    audit_has,
    create_staffer,
    flash,
    login,
    rand_pdq,
    shot,
)
from tests.servers import Server, eventually
from tests.webhook_receiver import Receiver

dpage = common.dpage
ENV = {
    "HASHBANK_WEBHOOK_ALLOW_HTTP": "true",
    "HASHBANK_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "HASHBANK_WEBHOOK_FIRST_RETRY_SECONDS": "0.2",
    "HASHBANK_WEBHOOK_POLL_SECONDS": "0.2",
}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    rec = Receiver(tmp_path / "received.jsonl").start()
    yield rec
    rec.kill()


def test_admin_sees_deliveries_and_redelivers_one(
    dpage: tuple[Page, Watch], server_factory: Callable[..., Server], receiver: Receiver
) -> None:
    page, _ = dpage
    server = server_factory(extra_env=ENV)
    server.create_user("hooks-admin", PASSWORD, "admin")
    admin = Staffer("hooks-admin", PASSWORD, "admin")
    server.create_client("platform-a", scopes="check,feed")
    added = server.cli("webhooks", "add", "platform-a", receiver.url("/ok"), "--json")
    ok = json.loads(added.stdout)
    server.cli("webhooks", "add", "platform-a", receiver.url("/status/500"))
    with server.client() as c:
        body = {"hashes": [{"type": "pdq", "value": rand_pdq(), "quality": 90}]}
        assert c.post("/v1/cases", json=body).status_code == 201
    eventually(lambda: receiver.requests("/ok"), timeout=10)
    eventually(lambda: len(receiver.requests("/status/500")) >= 2, timeout=10)

    login(page, server, admin)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    delivered = page.get_by_role("table", name=f"Latest deliveries to endpoint {ok['id']}")
    expect(delivered.get_by_role("row").nth(1)).to_contain_text("delivered")
    expect(delivered.get_by_role("row").nth(1)).to_contain_text(" ms")
    expect(page.get_by_role("row").filter(has_text="HTTP 500").first).to_contain_text("retrying")
    shot(page, "webhooks")
    with page.expect_navigation():
        delivered.get_by_role("button", name="Redeliver").first.click()
    assert "will be sent again" in flash(page)
    eventually(lambda: len(receiver.requests("/ok")) >= 2, timeout=10)
    first, again = receiver.events("/ok")[:1], receiver.events("/ok")[1:2]
    assert [e["seq"] for e in first] == [e["seq"] for e in again]
    http = Http(server, admin)
    try:
        assert audit_has(http, "webhook.redeliver", "hooks-admin")
        # the form without its CSRF token is refused
        r = http.client.post(f"/dashboard/webhooks/{ok['id']}/deliveries/1/redeliver", data={})
        assert r.status_code == 403
    finally:
        http.close()

    moderator = create_staffer(server, admin, "moderator")
    http = Http(server, moderator)
    try:
        assert http.get("/dashboard/webhooks").status_code == 403
        r = http.post(f"/dashboard/webhooks/{ok['id']}/deliveries/1/redeliver")
        assert r.status_code == 403
    finally:
        http.close()
