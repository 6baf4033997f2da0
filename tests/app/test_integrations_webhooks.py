"""docs/integrations.md, "Webhooks": its blocks run as written (tests/docs_blocks.py): the
CLI adds an endpoint for a live server, the server delivers to a real receiver, and the
page's verification snippet accepts that delivery and refuses a tampered one."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.docs_blocks import Page, run_block
from tests.servers import Server, eventually
from tests.webhook_receiver import Receiver

PAGE = REPO / "docs" / "integrations.md"
ENV = {"HASHBANK_WEBHOOK_ALLOW_HTTP": "true", "HASHBANK_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}


def test_every_block_of_the_section_is_marked() -> None:
    page = Page.read(PAGE)
    assert page.in_section("Webhooks")
    assert page.unmarked("Webhooks") == []


def test_the_webhook_blocks_run_against_a_live_server(server_factory: Any, tmp_path: Path) -> None:
    server: Server = server_factory(extra_env=ENV)
    receiver = Receiver(tmp_path / "received.jsonl").start()
    try:
        page = Page.read(PAGE)
        server.create_client("doc-platform", scopes="check,feed")
        env = {**server.env, "CLIENT": "doc-platform", "RECEIVER_URL": receiver.url("/ok")}
        added = json.loads(run_block(page.block("webhook-add"), cwd=tmp_path, env=env).stdout)
        assert set(added) == {"id", "secret", "events"}
        values = [secrets.token_hex(32) for _ in range(2)]
        body = {"hashes": [{"type": "pdq", "value": v, "quality": 90} for v in values]}
        with server.client() as c:
            case = c.post("/v1/cases", json=body).json()
            c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        eventually(lambda: len(receiver.events()) >= 4, timeout=10)
    finally:
        receiver.kill()
    verify = page.block("webhook-verify")
    printed = []
    for request in receiver.requests():
        (tmp_path / "body").write_text(request["body"])
        env = {
            "BODY_FILE": str(tmp_path / "body"),
            "WEBHOOK_SECRET": added["secret"],
            "SIGNATURE": request["headers"]["x-hashbank-signature"],
        }
        printed += run_block(verify, cwd=tmp_path, env=env).stdout.splitlines()
    assert sorted(printed) == sorted(
        [f"block {e['seq']} pdq {e['value']}" for e in receiver.events()[:2]]
        + [f"unblock {e['seq']} pdq {e['value']}" for e in receiver.events()[2:4]]
    )
    assert {line.split()[-1] for line in printed} == set(values)
    (tmp_path / "body").write_text(receiver.requests()[0]["body"].replace("pdq", "md5"))
    with pytest.raises(AssertionError, match="bad signature"):
        run_block(verify, cwd=tmp_path, env=env)
