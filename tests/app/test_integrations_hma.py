"""docs/integrations.md, "You call HMA's API": its commands, run as written against a
live server (the key made by the command the section gives, its curl lines through bash),
answer what the section's comments say."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from app.config import Settings
from app.services.container import Services
from tests import images
from tests.servers import Server, eventually

REPO = Path(__file__).resolve().parents[2]
SECTION = "## You call HMA's API"
DOC_PDQ = "d811ac390bfa6005d08543fe27fd5a11f6b55bdd2603000dc26476fc79fc76b5"  # HMA's docs'


def _section() -> str:
    text = (REPO / "docs" / "integrations.md").read_text()
    assert SECTION in text
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def _bash_blocks(section: str) -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return [[ln for ln in b.splitlines() if ln.strip() and not ln.startswith("#")] for b in blocks]


def _key_command(section: str) -> list[str]:
    m = re.search(r"`(hashbank clients create [^`]+)`", section)
    assert m, "the section says how to make a key"
    return shlex.split(m.group(1))[1:]


def test_the_sections_commands_against_a_live_server(server_factory: Any, tmp_path: Path):
    section = _section()
    server: Server = server_factory()
    out = server.cli(*_key_command(section)).stdout
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

    setup, calls = _bash_blocks(section)
    env = {**os.environ, "HASHBANK_URL": server.url, "HASHBANK_KEY": key}

    def run(line: str) -> Any:
        script = "\n".join([*setup, line])
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (line, done.stderr)
        return json.loads(done.stdout)

    assert len(calls) == 6, calls
    status = eventually(lambda: (s := run(calls[0]))["pdq"]["size"] >= 2 and s)
    assert status["pdq"]["present"] is True
    [content_id] = run(calls[1])["matches"]
    assert run(calls[2]) == {
        "matches": [
            {
                "bank_content_id": content_id,
                "content_id": content_id,
                "distance": "exact",
                "action": "block",
            }
        ]
    }
    [(bank, [match])] = run(calls[3]).items()
    assert match["content_id"] == content_id and match["distance"] == "exact"
    hashed = run(calls[4])
    assert set(hashed) == {"pdq", "phash", "md5", "sha256"}
    looked_up = run(calls[5])
    assert set(looked_up) == set(hashed)
    assert looked_up["pdq"][bank][0]["action"] == "block"
    assert looked_up["sha256"][bank][0]["distance"] == "exact"  # the very file

    # without the header: HMA's error shape, 401
    no_key = {**env, "HASHBANK_KEY": ""}
    done = subprocess.run(
        ["bash", "-c", "\n".join([*setup, calls[1].replace('-H "$HMA_AUTH" ', "")])],
        env=no_key,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert list(json.loads(done.stdout)) == ["message"]
