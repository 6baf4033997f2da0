"""docs/integrations.md, "You use pytx or its CLI" and "You run HMA": the page's marked
blocks (tests/docs_blocks.py), run as written (URL, key and install target filled in)
against a live hashbank with the real threatexchange CLI; for HMA, which does not install
here, the same pytx calls HMA makes on the page's settings."""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tests import images
from tests.app.test_api_e2e import confirm, report
from tests.app.test_tx_extension import case_of
from tests.docs_blocks import Page
from tests.servers import Server

pytest.importorskip("tx_extension_hashbank", reason="pip install ./tx-extension-hashbank")

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "integrations.md"
DOC_URL = "https://hashbank.example.org"
DOC_KEY = "hbk_your_feed_key"
PIP = "pip install ./tx-extension-hashbank"


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    assert f"\n## {title}\n" in text, f"docs/integrations.md has no section {title!r}"
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def block(name: str) -> str:
    return Page.read(DOC).block(name).code


def test_every_block_of_these_sections_is_marked():
    page = Page.read(DOC)
    for title in ("You use pytx or its CLI", "You run HMA"):
        assert page.in_section(title), title
        assert page.unmarked(title) == [], title


def fill(text: str, server: Server, key: str) -> str:
    return text.replace(DOC_URL, server.url).replace(DOC_KEY, key)


@pytest.fixture
def cli_dir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working directory holding a copy of tx-extension-hashbank (as a platform would
    copy it), an empty home, pytx's state dir, and PATH/PYTHONPATH so that the doc's
    `pip install` lands in a directory of its own that the CLI then imports from."""
    work = tmp_path / "work"
    shutil.copytree(
        REPO / "tx-extension-hashbank",
        work / "tx-extension-hashbank",
        ignore=shutil.ignore_patterns("build", "*.egg-info", ".ruff_cache", "__pycache__"),
    )
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TX_")}
    env |= {
        "HOME": str(tmp_path / "home"),
        "TX_STATEDIR": str(tmp_path / "state"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(tmp_path / "site"),
    }
    return work, env


def sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # the doc's `pip install` goes to the test's own target dir (PYTHONPATH), no deps
    # (threatexchange and requests are in the test venv already)
    target = shlex.quote(env["PYTHONPATH"])
    script = script.replace(
        PIP, f"{shlex.quote(sys.executable)} -m {PIP} -q --no-deps --target {target}"
    )
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, f"{script}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    return r


def test_the_pytx_section_runs_as_written(server_factory, cli_dir):
    server: Server = server_factory()
    key = server.create_client("doc-pytx", "feed")
    work, env = cli_dir
    text = section("You use pytx or its CLI")
    main, label = block("pytx-cli"), block("pytx-label")
    doc_hash = re.findall(r"-- ([0-9a-f]{64})", main)[0]
    # the bank holds the doc's hash (accepted) and a reported photo (pending)
    # (a second hash: pytx 1.2.17 loses a saved PDQ index of exactly one hash)
    kept = report(server, [{"type": "pdq", "value": v} for v in (doc_hash, secrets.token_hex(32))])
    confirm(server, kept["case_id"])
    with server.client() as c:
        r = c.post("/v1/cases", files=[("image", ("me.jpg", images.jpeg("chelsea"), "image/jpeg"))])
    assert r.status_code == 201, r.text
    photo_case = r.json()
    (work / "upload.jpg").write_bytes(images.resized_reencoded("chelsea"))

    out = sh(fill(main, server, key), work, env).stdout.splitlines()
    shown = block("pytx-match-output")
    assert shown.strip() in out  # `match --hashes`: the doc's very line
    assert sum("(victims)" in line for line in out) == 2, out  # and the photo
    # the CLI used the copy the doc's `pip install` put in place
    where = sh("python -c 'import tx_extension_hashbank as m; print(m.__file__)'", work, env)
    assert where.stdout.startswith(env["PYTHONPATH"])

    printed = sh(
        "threatexchange config collab print victims", work, {**env, "TX_HASHBANK_KEY": key}
    )
    config = block("pytx-collab-config")
    assert json.loads(printed.stdout) == json.loads(fill(config, server, key))

    # the victim withdraws: the doc's next fetch drops the photo, the other hash stays
    with server.client() as c:
        r = c.delete(
            f"/v1/cases/{photo_case['case_id']}", headers={"X-Case-Pin": photo_case["pin"]}
        )
    assert r.status_code == 200
    again = "\n".join(
        line
        for line in fill(main, server, key).splitlines()
        if line.startswith(("export ", "threatexchange fetch", "threatexchange match"))
    )
    out = sh(again, work, env).stdout.splitlines()
    assert out == [shown.strip()], out

    # the key from the file instead of the environment, as the doc's command writes it
    [write_key] = re.findall(r"`(echo hbk_your_feed_key [^`\n]+)`", text)
    sh(fill(write_key, server, key), work, env)
    assert "(victims)" in sh(f"threatexchange fetch && {main.splitlines()[5]}", work, env).stdout

    before = case_of(server, kept)
    sh(fill(label, server, key), work, env)
    after = case_of(server, kept)
    assert after["confirmed_blocked"] == before["confirmed_blocked"] + 1


class _FakeOMMStore:
    """Stands in for HMA's DefaultOMMStore (HMA is not installable here): keeps the
    arguments the doc's omm_config passes."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def test_the_hma_section_settings_work_with_the_pytx_calls_hma_makes(
    live_server: Server, monkeypatch: pytest.MonkeyPatch
):
    from threatexchange import interface_validation
    from threatexchange.exchanges.auth import SignalExchangeWithAuth
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeSignalExchangeAPI,
    )
    from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.utils import dataclass_json
    from tx_extension_hashbank import HashbankCredentials, HashbankSignalExchangeAPI

    pytx_install = block("pytx-cli").splitlines()[0]
    assert block("hma-install").strip() == pytx_install == PIP

    # step 2: the omm_config snippet, run with HMA's storage class faked
    config_py = block("hma-omm-config")
    fake = types.ModuleType("OpenMediaMatch.storage.postgres.impl")
    fake.DefaultOMMStore = _FakeOMMStore  # type: ignore[attr-defined]
    for name in ("OpenMediaMatch", "OpenMediaMatch.storage", "OpenMediaMatch.storage.postgres"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    settings: dict[str, Any] = {}
    exec(compile(ast.parse(config_py), "omm_config.py", "exec"), settings)
    store = settings["STORAGE_IFACE_INSTANCE"]
    exchange_types = store.kwargs["exchange_types"]
    assert HashbankSignalExchangeAPI in exchange_types and PdqSignal in store.kwargs["signal_types"]
    mapping = interface_validation.SignalExchangeAPIMapping(
        [*exchange_types, StaticSampleSignalExchangeAPI, FBThreatExchangeSignalExchangeAPI]
    )
    assert mapping.api_by_name["hashbank"] is HashbankSignalExchangeAPI

    # step 3: the curl bodies, as HMA's curation API parses them
    key = live_server.create_client(f"doc-hma-{secrets.token_hex(3)}", "feed")
    curl = block("hma-exchange")
    bodies = [json.loads(fill(b, live_server, key)) for b in re.findall(r"-d '([^']+)'", curl)]
    cred_json, exchange = bodies
    assert issubclass(HashbankSignalExchangeAPI, SignalExchangeWithAuth)
    creds = dataclass_json.dataclass_load_dict(
        cred_json["credential_json"], HashbankSignalExchangeAPI.get_credential_cls()
    )
    assert creds._are_valid() and creds.api_key == key
    assert exchange["api"] == "hashbank" and re.fullmatch(r"[A-Z0-9_]+", exchange["bank"])
    api_json = {**exchange["api_json"], "name": exchange["bank"], "enabled": True}
    api_json["api"] = exchange["api"]
    collab = dataclass_json.dataclass_load_dict(
        api_json, HashbankSignalExchangeAPI.get_config_cls()
    )
    assert collab.url == live_server.url
    # `flask auth hashbank --from-str KEY` and `TX_HASHBANK_KEY=KEY flask auth hashbank`
    assert HashbankCredentials._from_str(key) == creds
    monkeypatch.setenv("TX_HASHBANK_KEY", key)
    assert HashbankCredentials.get(HashbankSignalExchangeAPI) == creds
    monkeypatch.delenv("TX_HASHBANK_KEY")

    # the exchange fetches; HMA's fetcher merges deltas with dict.update, so a withdrawal
    # must arrive as a None update for the hash's key
    pdq = secrets.token_hex(32)
    case = report(live_server, [{"type": "pdq", "value": pdq}])
    api = HashbankSignalExchangeAPI.for_collab(collab, creds)
    merged: dict[int, Any] = {}
    checkpoint = None
    for delta in api.fetch_iter([PdqSignal], None):
        merged.update(delta.updates)
        checkpoint = delta.checkpoint
    [signal_id] = [k for k, v in merged.items() if v is not None and v.value == pdq]
    with live_server.client() as c:
        c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    later: dict[int, Any] = {}
    for delta in api.fetch_iter([PdqSignal], checkpoint):
        later.update(delta.updates)
    assert signal_id in later and later[signal_id] is None
