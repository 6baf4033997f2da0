"""docs/integrations.md, "You call HMA's API": its blocks, run as written against a live
server (the key made by the command the section gives; the setup block, then each call,
through tests/docs_blocks.py), answer what the section says."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path
from typing import Any

from app.config import Settings
from app.services.container import Services
from tests import images
from tests.conftest import REPO
from tests.docs_blocks import Page, run_block
from tests.servers import Server, eventually

PAGE = REPO / "docs" / "integrations.md"
SECTION = "You call HMA's API"
DOC_PDQ = "d811ac390bfa6005d08543fe27fd5a11f6b55bdd2603000dc26476fc79fc76b5"  # HMA's docs'
CALLS = [
    "hma-index-status",
    "hma-raw-lookup",
    "hma-raw-lookup-distance",
    "hma-lookup",
    "hma-hash",
    "hma-lookup-file",
]


def test_every_block_of_the_section_is_marked_and_run():
    page = Page.read(PAGE)
    assert page.unmarked(SECTION) == []
    assert [b.name for b in page.tested(SECTION)] == ["hma-setup", *CALLS]


def _key_command(page_text: str) -> list[str]:
    section = page_text.split(f"## {SECTION}", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"`(hashbank clients create [^`]+)`", section)
    assert m, "the section says how to make a key"
    return shlex.split(m.group(1))[1:]


def test_the_sections_blocks_against_a_live_server(server_factory: Any, tmp_path: Path):
    page = Page.read(PAGE)
    server: Server = server_factory()
    out = server.cli(*_key_command(PAGE.read_text())).stdout
    [key] = re.findall(r"hbk_[A-Za-z0-9_-]{43}", out)

    # a victim's report of HMA's example hash and of the example photo, confirmed
    photo = images.jpeg("astronaut")
    (tmp_path / "example.jpg").write_bytes(photo)
    cases = []
    with server.client() as c:
        for kwargs in (
            {"json": {"hashes": [{"type": "pdq", "value": DOC_PDQ, "quality": 100}]}},
            {"files": [("image", ("me.jpg", photo, "image/jpeg"))]},
        ):
            r = c.post("/v1/cases", **kwargs)
            assert r.status_code == 201, r.text
            cases.append(r.json()["case_id"])
    svc = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        for case_id in cases:  # a moderator confirms them
            svc.cases.review(case_id, confirm=True, actor="user:test")
    finally:
        svc.close()

    setup = page.block("hma-setup")
    env = {"HASHBANK_URL": server.url, "HASHBANK_KEY": key}

    def run(name: str, **more: str) -> Any:
        block = page.block(name)
        both = dataclasses.replace(block, code=setup.code + block.code)
        return json.loads(run_block(both, cwd=tmp_path, env={**env, **more}).stdout)

    status = eventually(lambda: (s := run("hma-index-status"))["pdq"]["size"] >= 2 and s)
    assert status["pdq"]["present"] is True

    def confirmed() -> bool:
        """The server has applied both confirmations (it follows the change log); the
        same queries each time: one upload each, however often repeated."""
        by_bank = [run("hma-lookup"), run("hma-lookup-file")["pdq"]]
        return [m["action"] for b in by_bank for ms in b.values() for m in ms] == ["block"] * 2

    eventually(confirmed)
    [content_id] = run("hma-raw-lookup")["matches"]
    assert run("hma-raw-lookup-distance") == {
        "matches": [
            {
                "bank_content_id": content_id,
                "content_id": content_id,
                "distance": "exact",
                "action": "block",
            }
        ]
    }
    [(bank, [match])] = run("hma-lookup").items()
    assert match["content_id"] == content_id and match["distance"] == "exact"
    hashed = run("hma-hash")
    assert set(hashed) == {"pdq", "phash", "md5", "sha256"}
    looked_up = run("hma-lookup-file")
    assert set(looked_up) == set(hashed)
    assert looked_up["pdq"][bank][0]["action"] == "block"
    assert looked_up["sha256"][bank][0]["distance"] == "exact"  # the very file

    # a key without the check scope: 403 in HMA's error shape
    refused = run("hma-raw-lookup", HASHBANK_KEY=server.create_client(scopes="feed"))
    assert list(refused) == ["message"]
