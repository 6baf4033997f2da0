"""docs/integrations.md stays true: its marked code blocks run as written against a live
server, the hashbank CLI and the real ``threatexchange`` CLI (see tests/docs_blocks.py)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.conftest import REPO
from tests.docs_blocks import Page, run_block
from tests.images import jpeg
from tests.servers import Server

PAGE = REPO / "docs" / "integrations.md"


def test_every_block_of_my_sections_is_marked():
    page = Page.read(PAGE)
    for section in ("Plain HTTP", "Hash files"):
        assert page.in_section(section), section
        assert page.unmarked(section) == [], section


def test_plain_http_blocks_run_against_a_live_server(server_factory, tmp_path: Path):
    server: Server = server_factory()
    page = Page.read(PAGE)
    pdq = secrets.token_hex(32)
    env = {
        "HASHBANK_URL": server.url,
        "HASHBANK_KEY": server.create_client(scopes="check,report,feed"),
        "PDQ": pdq,
    }
    (tmp_path / "photo.jpg").write_bytes(jpeg("coffee"))  # a test photograph, not a report
    ran = {}
    for block in page.tested("Plain HTTP"):
        out = run_block(block, cwd=tmp_path, env=env).stdout
        ran[block.name] = json.loads(out) if block.lang == "sh" else out
    assert set(ran) == {"report", "check", "check-image", "batch", "feed", "python"}
    assert ran["report"]["case_id"] and ran["report"]["status"] == "pending"
    assert ran["check"]["match"] is True and ran["check"]["action"] == "review"
    assert ran["check-image"]["match"] is False
    assert [r["match"] for r in ran["batch"]["results"]] == [True, False]
    assert [i["value"] for i in ran["feed"]["items"]] == [pdq]
    assert "matched: [True, False]" in ran["python"]
    assert "feed: 2 hashes" in ran["python"]  # the snippet reported the hash again


def test_hash_files_blocks_run_with_both_clis(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False)
    page = Page.read(PAGE)
    (tmp_path / "home").mkdir()
    pdq, withdrawn = secrets.token_hex(32), secrets.token_hex(32)
    env = {
        **server.env,
        "HOME": str(tmp_path / "home"),
        "TX_STATEDIR": str(tmp_path / "tx"),
        "PDQ": pdq,
    }
    # the platform's own collaboration: pytx's local-file exchange
    listing = tmp_path / "platform.txt"
    # (two: pytx 1.2.17's PDQ index of a single signal matches nothing)
    listing.write_text(f"pdq {pdq}\npdq {secrets.token_hex(32)}\nurl_md5 {'ab' * 16}\n")
    run_block(
        _setup(f"threatexchange config collab edit local_file --create --filename {listing} p"),
        cwd=tmp_path,
        env=env,
    )
    records = [
        {
            "lastModtimestamp": 1700000000,
            "signalType": "ImagePDQ",
            "hashValue": value,
            "hashStatus": status,
            "caseNumbers": {},
            "CSPFeedbacks": [],
        }
        for value, status in ((pdq, "Active"), (withdrawn, "Withdrawn"))
    ]
    (tmp_path / "fetched.json").write_text(json.dumps({"count": 2, "hashRecords": records}))

    ran = {}
    for block in page.tested("Hash files"):
        ran[block.name] = run_block(block, cwd=tmp_path, env=env)
    assert set(ran) == {"files-dataset-import", "files-export-pytx", "files-stopncii"}
    assert "imported 2 hashes into bank 'reports'" in ran["files-dataset-import"].stderr
    assert "left out 1: threatexchange signal type 'url_md5'" in (
        ran["files-dataset-import"].stderr
    )
    assert f"pdq {pdq}" in (tmp_path / "hashbank.txt").read_text()
    assert "pdq 0 (hashbank)" in ran["files-export-pytx"].stdout
    assert "left out 1: hashStatus 'Withdrawn'" in ran["files-stopncii"].stderr
    exported = json.loads((tmp_path / "hashbank.json").read_text())
    assert [r["hashValue"] for r in exported["hashRecords"]].count(pdq) == 2  # file, records


def _setup(command: str):  # a block of the test's own, run like the page's
    from tests.docs_blocks import Block

    return Block("setup", "sh", command + "\n", 0, "")
