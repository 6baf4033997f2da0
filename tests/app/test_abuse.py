"""Abuse resistance: rate limits (429 + Retry-After), PIN brute force locked, report size
limits, secrets from the CSPRNG, secrets compared in constant time."""

from __future__ import annotations

import ast
import collections
import math
import re
import secrets
import time
from pathlib import Path

from app.services.secrets import new_api_key, new_case_id, new_pin
from tests import images
from tests.servers import Server

REPO = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"


def _hashes(n: int) -> dict:
    return {
        "hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90} for _ in range(n)]
    }


# -- rate limits ------------------------------------------------------------------------


def test_a_key_with_a_rate_limit_gets_429_with_retry_after(server_factory):
    server: Server = server_factory()
    limited = server.create_client(scopes="check", rate_limit=5)
    body = _hashes(1)
    with server.client(limited) as c:
        codes = [c.post("/v1/check", json=body) for _ in range(40)]
    refused = [r for r in codes if r.status_code == 429]
    assert refused, [r.status_code for r in codes]
    r = refused[0]
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/rate-limited")
    assert 1 <= int(r.headers["retry-after"]) <= 2  # 5/s: a token within a second
    time.sleep(int(r.headers["retry-after"]))
    with server.client(limited) as c:
        assert c.post("/v1/check", json=body).status_code == 200  # it comes back
    # another key is not affected by this one's limit
    other = server.create_client(scopes="check")
    with server.client(other) as c:
        assert c.post("/v1/check", json=body).status_code == 200


def test_platform_keys_have_no_limit_by_default(live_server: Server):
    key = live_server.create_client(scopes="check")
    listed = live_server.cli("clients", "list", "--json").stdout
    assert '"rate_limit": null' in listed or '"rate_limit":null' in listed
    body = {"items": [_hashes(1) for _ in range(1000)]}  # 1,000 uploads per call
    with live_server.client(key) as c:
        codes = {c.post("/v1/check/batch", json=body).status_code for _ in range(10)}
        codes |= {c.post("/v1/check", json=_hashes(1)).status_code for _ in range(300)}
    assert codes == {200}


def test_anonymous_reports_are_limited_in_count_and_size(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_ANONYMOUS_CASES_PER_HOUR": "2"})
    with server.client() as c:
        too_many_hashes = c.post("/v1/cases", json=_hashes(601))  # default limit: 600
        assert too_many_hashes.status_code == 422, too_many_hashes.text
        photo = images.jpeg("camera", 60)
        files = [("image", (f"{i}.jpg", photo, "image/jpeg")) for i in range(21)]
        too_many_images = c.post("/v1/cases", files=files)
        assert too_many_images.status_code == 422, too_many_images.text
        assert [c.post("/v1/cases", json=_hashes(1)).status_code for _ in range(3)][-1] == 429


# -- PINs -------------------------------------------------------------------------------


def test_pin_brute_force_locks_the_case(server_factory):
    server: Server = server_factory(
        extra_env={"HASHBANK_PIN_ATTEMPTS": "4", "HASHBANK_PIN_LOCK_SECONDS": "3"}
    )
    with server.client() as c:
        case = c.post("/v1/cases", json=_hashes(1)).json()
        other = c.post("/v1/cases", json=_hashes(1)).json()
        url = f"/v1/cases/{case['case_id']}"
        wrong = [
            c.get(url, headers={"X-Case-Pin": f"{n:04d}-0000-0000"}).status_code for n in range(4)
        ]
        assert wrong == [401] * 4
        locked = c.get(url, headers={"X-Case-Pin": case["pin"]})  # even the right PIN
        assert locked.status_code == 423, locked.text
        assert locked.headers["content-type"] == PROBLEM
        assert 1 <= int(locked.headers["retry-after"]) <= 3
        assert c.delete(url, headers={"X-Case-Pin": case["pin"]}).status_code == 423
        # the lock is per case: another case is not affected
        assert (
            c.get(f"/v1/cases/{other['case_id']}", headers={"X-Case-Pin": other["pin"]}).status_code
            == 200
        )
        time.sleep(int(locked.headers["retry-after"]) + 0.5)
        assert c.get(url, headers={"X-Case-Pin": case["pin"]}).status_code == 200
        # an unknown case id gets the answer of a wrong PIN: ids cannot be enumerated
        unknown = c.get(f"/v1/cases/{new_case_id()}", headers={"X-Case-Pin": case["pin"]})
        assert unknown.status_code == 401
        assert unknown.json()["detail"] == c.get(url, headers={"X-Case-Pin": "1"}).json()["detail"]


def test_the_default_lockout_is_ten_wrong_pins(live_server: Server):
    with live_server.client() as c:
        case = c.post("/v1/cases", json=_hashes(1)).json()
        url = f"/v1/cases/{case['case_id']}"
        codes = [
            c.get(url, headers={"X-Case-Pin": f"9{n:03d}-0000-0000"}).status_code for n in range(11)
        ]
    assert codes == [401] * 10 + [423]


# -- secrets ------------------------------------------------------------------------------


def test_case_ids_pins_and_keys_are_random_and_long_enough():
    ids = [new_case_id() for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"HB(-[0-9A-HJKMNP-TV-Z]{4}){4}", i) for i in ids)
    # 16 characters from a 32-letter alphabet: 80 bits. Every letter is used evenly.
    assert 16 * math.log2(32) >= 64
    counts = collections.Counter("".join(i[3:].replace("-", "") for i in ids))
    expected = 16 * len(ids) / 32
    assert len(counts) == 32 and all(abs(n - expected) < 0.1 * expected for n in counts.values())
    keys = [new_api_key() for _ in range(100)]
    assert len(set(keys)) == 100 and all(len(k) >= 4 + 43 for k in keys)  # 256 bits
    pins = {new_pin() for _ in range(1000)}
    assert len(pins) == 1000


def _app_modules() -> list[Path]:
    return sorted((REPO / "app").rglob("*.py"))


def test_no_module_uses_the_random_module():
    users = []
    for path in _app_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n == "random" or n.startswith("random.") for n in names):
                users.append(str(path.relative_to(REPO)))
    assert users == [], "secrets come from the secrets module (the OS CSPRNG)"


SECRET_NAME = re.compile(r"(^|_)(pin|token|secret|password|csrf|digest|key_hash|api_key)(_|$)")


def _names(node: ast.AST) -> list[str]:
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.append(sub.attr)
    return out


def _secret_compares(source: str) -> list[int]:
    """Lines of ``==``/``!=`` comparisons involving a value named like a secret."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) and o.value is None for o in operands):
            continue
        if any(
            isinstance(o, ast.Call) and getattr(o.func, "id", "") in ("len", "type")
            for o in operands
        ):
            continue
        if any(SECRET_NAME.search(n.lower()) for o in operands for n in _names(o)):
            lines.append(node.lineno)
    return lines


def test_secrets_are_compared_in_constant_time():
    """No ``==``/``!=`` on a value named like a secret in app/ (SQL expressions in
    app/storage excepted): such comparisons go through hmac.compare_digest."""
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in _app_modules()
        if "storage" not in path.parts
        for line in _secret_compares(path.read_text())
    ]
    assert found == []
    # the scan finds what it looks for
    assert _secret_compares("if form.csrf_token == cookie:\n    pass\n") == [1]
    assert _secret_compares("ok = pin_hash != stored\n") == [1]
    assert _secret_compares("ok = hmac.compare_digest(token, expected)\n") == []
