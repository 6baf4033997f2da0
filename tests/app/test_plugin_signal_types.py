"""A signal type from an installed plug-in package works end to end, with no change to
hashbank's files: reported, checked (within its threshold and not beyond), in batches, in
the feed, per-bank thresholds over the API and the dashboard, dashboard search, metrics,
export and import, backup and restore; and start-up stops with a clear message on an
unknown name or a plug-in whose name clashes.

The plug-in is ``tests/data/plugins``: a module and its ``.dist-info`` registering a
perceptual ``dhash`` (a spec) and an exact ``sha1`` (through a callable) in the
entry-point group ``hashbank.signal_types``; ``PYTHONPATH`` installs it for the server
and CLI processes only. Runs on SQLite and, with HASHBANK_TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.app.test_dashboard_http import PASSWORD, sign_in
from tests.servers import HASHBANK, Server, eventually, fresh_database_url

DATA = Path(__file__).resolve().parents[1] / "data"
PLUGIN = {"PYTHONPATH": str(DATA / "plugins")}


def _dhash(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def _flip(value: str, n: int) -> str:
    """``value`` with its ``n`` lowest bits flipped: exactly ``n`` bits away."""
    return f"{int(value, 16) ^ ((1 << n) - 1):0{len(value)}x}"


def _check(c: httpx.Client, *hashes: tuple[str, str]) -> dict[str, object]:
    r = c.post("/v1/check", json={"hashes": [{"type": t, "value": v} for t, v in hashes]})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _matches(c: httpx.Client, kind: str, value: str) -> bool:
    return bool(_check(c, (kind, value))["match"])


@pytest.fixture
def plugged(server_factory: Callable[..., Server]) -> Server:
    return server_factory(extra_env=PLUGIN)


def test_a_plugin_type_is_reported_checked_batched_and_fed(plugged: Server) -> None:
    rng = random.Random(18)
    key = plugged.create_client("platform", "check,report,feed,admin")
    dhash, sha1 = _dhash(rng), hashlib.sha1(b"a reported video").hexdigest()
    with plugged.client(key) as c:
        schema = c.get("/openapi.json").json()["components"]["schemas"]
        assert schema["HashIn"]["properties"]["type"]["enum"] == [
            "pdq",
            "phash",
            "md5",
            "sha256",
            "video_md5",
            "video_sha256",
            "vpdq",
            "dhash",
            "sha1",
        ]
        r = c.post(
            "/v1/cases",
            json={"hashes": [{"type": "dhash", "value": dhash}, {"type": "sha1", "value": sha1}]},
        )
        assert r.status_code == 201, r.text

        # the spec's default threshold (10): 10 bits away matches, 11 does not
        answer = _check(c, ("dhash", _flip(dhash, 10)))
        assert answer["match"] and answer["matches"][0]["signal_type"] == "dhash"  # type: ignore[index]
        assert not _matches(c, "dhash", _flip(dhash, 11))
        assert _matches(c, "sha1", sha1.upper())  # exact: parsed like any hex type
        assert not _matches(c, "sha1", hashlib.sha1(b"another").hexdigest())
        # its own validation: length, hex, weakness
        bad = c.post("/v1/check", json={"hashes": [{"type": "dhash", "value": "ab"}]})
        assert bad.status_code == 422 and "dhash" in bad.json()["detail"]
        weak = c.post("/v1/cases", json={"hashes": [{"type": "dhash", "value": "0" * 16}]})
        assert weak.status_code == 422 and "would match unrelated" in weak.json()["detail"]

        batch = c.post(
            "/v1/check/batch",
            json={
                "items": [
                    {"hashes": [{"type": "dhash", "value": _flip(dhash, 3)}]},
                    {"hashes": [{"type": "dhash", "value": _flip(dhash, 12)}]},
                    {"hashes": [{"type": "sha1", "value": sha1}]},
                ]
            },
        )
        assert [r["match"] for r in batch.json()["results"]] == [True, False, True]

    fed = {(i["type"], i["value"]) for i in plugged.feed(key) if i["op"] == "add"}
    assert {("dhash", dhash), ("sha1", sha1)} <= fed

    # a moderator marks a match false positive: the upload's hash goes on the allow-list
    # (through the same weakness rule, the plug-in's) and stops matching
    upload = _flip(dhash, 9)
    with plugged.client(key) as c:
        match_id = _check(c, ("dhash", upload))["matches"][0]["match_id"]  # type: ignore[index]
    plugged.create_user("plugmod", PASSWORD, "moderator")
    browser, csrf = sign_in(plugged, "plugmod")
    try:
        r = browser.post(f"/dashboard/matches/{match_id}/false-positive", data={"csrf": csrf})
        assert r.status_code == 303, r.text
    finally:
        browser.close()
    with plugged.client(key) as c:
        assert eventually(lambda: not _matches(c, "dhash", upload))
        assert _matches(c, "dhash", dhash)  # the victim's own image still matches


def test_per_bank_thresholds_dashboard_export_backup_and_restore(
    plugged: Server, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    rng = random.Random(1818)
    key = plugged.create_client("admin", "check,feed,admin")
    with plugged.client(key) as c:
        # a bank of its own with the plug-in's threshold set over the API
        r = c.post(
            "/v1/banks",
            json={"name": "partner", "policy": "block", "thresholds": {"dhash": 12}},
        )
        assert r.status_code == 201, r.text
        assert r.json()["thresholds"] == {"dhash": 12}
        too_far = c.post(
            "/v1/banks", json={"name": "p2", "policy": "block", "thresholds": {"dhash": 17}}
        )
        assert too_far.status_code == 422 and "between 0 and 16" in too_far.json()["detail"]

    # imported from a hash list with the CLI, as a partner's dump would be
    values = [_dhash(rng) for _ in range(3)]
    listing = tmp_path / "partner.csv"
    listing.write_text("type,value\n" + "".join(f"dhash,{v}\n" for v in values))
    plugged.cli("import", str(listing), "--bank", "partner")
    target = values[0]
    with plugged.client(key) as c:
        assert eventually(lambda: _matches(c, "dhash", _flip(target, 12)))
        assert not _matches(c, "dhash", _flip(target, 13))

    # the dashboard: the settings form has the plug-in's field, and the bank follows it
    plugged.create_user("plugadmin", PASSWORD, "admin")
    browser, csrf = sign_in(plugged, "plugadmin")
    try:
        page = browser.get("/dashboard/settings").text
        assert 'name="dhash_threshold"' in page and 'max="16"' in page
        r = browser.post(
            "/dashboard/settings/banks/partner",
            data={
                "csrf": csrf,
                "pdq_threshold": "",
                "phash_threshold": "",
                "dhash_threshold": "14",
            },
        )
        assert r.status_code == 303, r.text
        banks = browser.get("/dashboard/banks").text
        assert "dhash threshold" in banks
        found = browser.get("/dashboard/search", params={"q": target}).text
        assert target in found and "partner" in found
        near = browser.get(
            "/dashboard/search", params={"q": _flip(target, 5), "type": "dhash", "distance": 5}
        ).text
        assert target in near
    finally:
        browser.close()
    with plugged.client(key) as c:
        assert eventually(lambda: _matches(c, "dhash", _flip(target, 14)))
        assert not _matches(c, "dhash", _flip(target, 15))
        metrics = c.get("/metrics").text
        assert re.search(r'hashbank_index_hashes\{[^}]*type="dhash"[^}]*\} 3', metrics), metrics

    exported = plugged.cli("export", "--format", "jsonl", "--bank", "partner").stdout
    rows = [json.loads(line) for line in exported.splitlines()]
    assert sorted(r["value"] for r in rows if r["type"] == "dhash") == sorted(values)

    # backup, and restore into a new database served by another process
    backup = tmp_path / "state.jsonl.gz"
    plugged.cli("backup", str(backup))
    restored = server_factory(start=False, extra_env=PLUGIN)
    restored.cli("restore", str(backup))
    restored.start()
    key2 = restored.create_client("after-restore", "check")
    with restored.client(key2) as c:
        assert _matches(c, "dhash", _flip(target, 14))  # the bank's threshold came along
        assert not _matches(c, "dhash", _flip(target, 15))


def test_without_the_plugin_its_hashes_are_kept_but_match_nothing(
    plugged: Server, server_factory: Callable[..., Server]
) -> None:
    rng = random.Random(7)
    dhash = _dhash(rng)
    key = plugged.create_client("reporter", "check,report")
    with plugged.client(key) as c:
        assert c.post("/v1/cases", json={"hashes": [{"type": "dhash", "value": dhash}]}).is_success
    plugged.stop()
    plain = server_factory(database_url=plugged.database_url)  # the same database, no plug-in
    with plain.client(key) as c:
        r = c.post("/v1/check", json={"hashes": [{"type": "dhash", "value": dhash}]})
        assert r.status_code == 422 and "unknown signal type 'dhash'" in r.json()["detail"]
    plain.stop()
    plugged.start()  # back with the plug-in: the stored hash matches again
    with plugged.client(key) as c:
        assert _matches(c, "dhash", dhash)


def _serve_fails(tmp_path: Path, env: dict[str, str]) -> str:
    tmp_path.mkdir()
    server = Server(tmp_path, fresh_database_url(tmp_path), extra_env=env)
    result = subprocess.run(
        [HASHBANK, "serve", "--port", str(server.port)],
        cwd=tmp_path,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    return result.stderr


def test_start_up_stops_on_an_unknown_type_or_a_clashing_plugin(tmp_path: Path) -> None:
    unknown = _serve_fails(tmp_path / "a", {**PLUGIN, "HASHBANK_SIGNAL_TYPES": "pdq,dhsah"})
    assert "unknown signal type(s) enabled: dhsah" in unknown and "dhash" in unknown
    assert "Traceback" not in unknown
    clash = _serve_fails(tmp_path / "b", {"PYTHONPATH": str(DATA / "broken-plugin")})
    assert "hashbank-clash-plugin" in clash and "'pdq'" in clash
    assert "Traceback" not in clash


def test_enabled_types_limit_what_is_accepted(server_factory: Callable[..., Server]) -> None:
    server = server_factory(extra_env={**PLUGIN, "HASHBANK_SIGNAL_TYPES": "pdq,md5,dhash"})
    listed = [json.loads(line) for line in server.cli("types", "--json").stdout.splitlines()]
    assert [(t["name"], t["source"], t["default_threshold"]) for t in listed] == [
        ("pdq", "built-in", 31),
        ("md5", "built-in", 0),
        ("dhash", "plug-in", 10),
    ]
    key = server.create_client("limited", "check")
    with server.client(key) as c:
        enum = c.get("/openapi.json").json()["components"]["schemas"]["HashIn"]
        assert enum["properties"]["type"]["enum"] == ["pdq", "md5", "dhash"]
        assert not _matches(c, "dhash", "5" * 16)
        r = c.post("/v1/check", json={"hashes": [{"type": "sha1", "value": "5" * 40}]})
        assert r.status_code == 422 and "expected one of pdq, md5, dhash" in r.json()["detail"]
