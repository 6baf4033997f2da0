"""A bank cannot be poisoned with hashes that match everything: weak hashes and plain
images are refused with 422 at report time (checks of them still work), and by every other
path into a bank (``hashbank import``, the allow-list) through the same guard."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.config import Settings
from app.errors import InvalidInput
from app.services.banks import BankEntries
from app.services.container import Services
from app.services.inputs import HashInput, weakness
from tests import images
from tests.servers import Server, fresh_database_url

PROBLEM = "application/problem+json"


def _bits(n: int, width: int = 256) -> str:
    """A hex hash of ``width`` bits with exactly ``n`` of them set (spread out)."""
    rng = np.random.default_rng(n)
    on = rng.choice(width, size=n, replace=False)
    value = sum(1 << int(i) for i in on)
    return f"{value:0{width // 4}x}"


WEAK = [
    ({"type": "pdq", "value": "0" * 64}, "all zeros"),
    ({"type": "pdq", "value": "f" * 64}, "all ones"),
    ({"type": "pdq", "value": _bits(15)}, "15 of 256"),
    ({"type": "pdq", "value": _bits(241)}, "241 of 256"),
    ({"type": "pdq", "value": _bits(128), "quality": 49}, "quality 49"),
    ({"type": "pdq", "value": _bits(128), "quality": 0}, "quality 0"),
    ({"type": "phash", "value": "8000000000000000"}, "1 of 64"),
    ({"type": "phash", "value": _bits(3, 64)}, "3 of 64"),
    ({"type": "phash", "value": _bits(61, 64)}, "61 of 64"),
    ({"type": "md5", "value": "0" * 32}, "all zeros"),
    ({"type": "sha256", "value": "F" * 64}, "all ones"),
]
STRONG = [
    {"type": "pdq", "value": _bits(16), "quality": 90},
    {"type": "pdq", "value": _bits(240), "quality": 90},
    {"type": "pdq", "value": _bits(128), "quality": 50},
    {"type": "phash", "value": _bits(4, 64)},
    {"type": "phash", "value": _bits(60, 64)},
    {"type": "md5", "value": secrets.token_hex(16)},
]


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _plain_images() -> dict[str, bytes]:
    rng = np.random.default_rng(3)
    grey = np.full((256, 256, 3), 128.0)
    dot = np.full((256, 256, 3), 255.0)
    dot[120:130, 120:130] = 0
    two_tone = np.concatenate([np.zeros((256, 128, 3)), np.full((256, 128, 3), 255.0)], axis=1)
    return {
        "uniform-grey": _png(grey),
        "white": _png(np.full((256, 256, 3), 255.0)),
        "black": _png(np.zeros((256, 256, 3))),
        "near-blank-noise": _png(np.clip(grey + rng.normal(0, 2, grey.shape), 0, 255)),
        "dot-on-white": _png(dot),
        "two-tone": _png(two_tone),
        "grey-jpeg": images.encode(Image.new("RGB", (640, 480), (90, 90, 90)), "JPEG"),
    }


@pytest.mark.parametrize(("item", "why"), WEAK, ids=[f"{h['type']}-{w}" for h, w in WEAK])
def test_weak_hash_is_refused_at_report(live_server: Server, item: dict, why: str):
    good = {"type": "pdq", "value": secrets.token_hex(32), "quality": 90}
    with live_server.client() as c:
        r = c.post("/v1/cases", json={"hashes": [good, item]})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["weak"] == [
            {"index": 1, "type": item["type"], "reason": problem["weak"][0]["reason"]}
        ]
        assert "would match unrelated images" in problem["detail"]
        # nor can it be slipped into an existing case
        case = c.post("/v1/cases", json={"hashes": [good]}).json()
        r = c.post(
            f"/v1/cases/{case['case_id']}/hashes",
            json={"hashes": [item]},
            headers={"X-Case-Pin": case["pin"]},
        )
        assert r.status_code == 422, r.text
        status = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        assert status.json()["hashes"] == 1


def test_strong_hashes_at_the_edges_are_accepted(live_server: Server):
    with live_server.client() as c:
        r = c.post("/v1/cases", json={"hashes": STRONG})
    assert r.status_code == 201, r.text


def test_weakness_rules():
    assert weakness(HashInput("pdq", _bits(128), 50)) is None
    assert weakness(HashInput("pdq", _bits(128), 49)) is not None
    assert weakness(HashInput("pdq", _bits(128), 30), min_pdq_quality=30) is None
    assert weakness(HashInput("md5", "0" * 31 + "1")) is None


@pytest.mark.parametrize("name", list(_plain_images()))
def test_plain_images_are_refused_at_report_but_checked(live_server: Server, api_key: str, name):
    data = _plain_images()[name]
    with live_server.client() as c:
        r = c.post("/v1/cases", files={"image": (f"{name}.png", data, "image/png")})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert "too plain to identify" in r.json()["detail"]
    with live_server.client(api_key) as c:  # a platform may still check such an upload
        r = c.post("/v1/check", files={"image": (f"{name}.png", data, "image/png")})
    assert r.status_code == 200 and r.json()["action"] in ("none", "review", "block")


def test_a_real_photo_is_accepted(live_server: Server):
    with live_server.client() as c:
        r = c.post("/v1/cases", files={"image": ("p.jpg", images.jpeg("coffee"), "image/jpeg")})
    assert r.status_code == 201, r.text


def test_the_quality_floor_is_a_setting(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_MIN_PDQ_QUALITY": "80"})
    with server.client() as c:
        low = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": _bits(128), "quality": 79}]}
        )
        ok = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": _bits(128), "quality": 80}]}
        )
    assert low.status_code == 422 and "below 80" in low.json()["detail"]
    assert ok.status_code == 201


# -- every path that puts a hash in a bank passes the same guard ------------------------------


def test_import_refuses_weak_hashes_or_leaves_them_out(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False)
    good = [secrets.token_hex(32) for _ in range(3)]
    rows = [f"pdq,{good[0]},90", f"pdq,{good[1]},"] + [
        f"{h['type']},{h['value']},{h.get('quality', '')}" for h, _ in WEAK
    ]
    path = tmp_path / "list.csv"
    path.write_text("type,value,quality\n" + "\n".join([*rows, f"pdq,{good[2]},"]) + "\n")
    refused = server.cli("import", str(path), check=False)
    assert refused.returncode != 0
    assert "line 4: would match unrelated images: a pdq hash of all zeros" in refused.stderr
    assert server.cli("export").stdout.splitlines()[1:] == []  # nothing of the file went in

    out = server.cli("import", str(path), "--skip-weak")
    assert "imported 3 hashes" in out.stderr and f"left out {len(WEAK)} weak" in out.stderr
    exported = {line.split(",")[1] for line in server.cli("export").stdout.splitlines()[1:]}
    assert exported == set(good)
    server.start()
    key = server.create_client(scopes="check")
    with server.client(key) as c:
        blank = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": "0" * 64}]})
        hit = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": good[2]}]})
    assert blank.json()["match"] is False and hit.json()["action"] == "block"


def test_import_follows_the_quality_floor_setting(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False, extra_env={"HASHBANK_MIN_PDQ_QUALITY": "80"})
    path = tmp_path / "list.jsonl"
    path.write_text(
        "".join(
            json.dumps({"type": "pdq", "value": _bits(128), "quality": q}) + "\n" for q in (80, 79)
        )
    )
    refused = server.cli("import", str(path), check=False)
    assert refused.returncode != 0 and "line 2" in refused.stderr and "below 80" in refused.stderr


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """In-process services on a database of the suite's kind (SQLite, or PostgreSQL)."""
    svc = Services.build(Settings(database_url=fresh_database_url(tmp_path)))
    svc.replica.load()
    yield svc
    svc.close()


def test_bank_import_service_refuses_weak_hashes(services: Services):
    loader = BankEntries(services.db, min_pdq_quality=services.settings.min_pdq_quality)
    strong = HashInput("pdq", _bits(128), 90)
    with pytest.raises(InvalidInput, match="would match unrelated images") as err:
        loader.add("reports", [strong, HashInput("pdq", _bits(128), 10)], actor="test")
    assert err.value.extra["weak"] == [
        {"index": 1, "type": "pdq", "reason": "PDQ quality 10 is below 50"}
    ]
    assert list(loader.export("reports")) == []  # the batch is all or nothing
    assert loader.add("reports", [strong], actor="test") == 1


def test_a_weak_query_hash_cannot_go_on_the_allow_list(services: Services):
    # a victim's hash just inside the rules, and an upload's hash that is all zeros: they
    # are 16 bits apart, so the check matches; allow-listing the blank hash would cancel
    # every blank upload's match with any hash near it
    victim = _bits(16)
    services.cases.report([HashInput("pdq", victim)], actor="anonymous")
    services.replica.sync()
    blank = services.checks.check([HashInput("pdq", "0" * 64)], client_id=None)
    assert blank.matches, blank
    with pytest.raises(InvalidInput, match="cannot go on the allow-list: a pdq hash of all zeros"):
        services.matches.mark_false_positive(blank.matches[0].match_id, actor="user:test")
    near = services.checks.check([HashInput("pdq", _near_bits(victim))], client_id=None)
    allowed = services.matches.mark_false_positive(near.matches[0].match_id, actor="user:test")
    assert allowed > 0


def _near_bits(value: str) -> str:
    """``value`` with 10 more bits set: a strong hash 10 bits away."""
    n, added, bit = int(value, 16), 0, 0
    while added < 10:
        if not n >> bit & 1:
            n |= 1 << bit
            added += 1
        bit += 7
    return f"{n:064x}"


BULK = "insert_bank_entries"  # SignalRepository's bulk insert of a bank's own hashes


def test_every_code_path_that_creates_a_stored_hash_is_known():
    """A tripwire: the functions that build ``Signal`` rows are the ones guarded above (report
    and add-hashes through ``CaseService``, import, the allow-list). A new one fails here
    until it calls ``refuse_weak`` and gets a test in this file."""
    import ast

    root = Path(__file__).resolve().parents[2] / "app"
    builders = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                # a Signal row built, or bank entries written in bulk (plain rows)
                built = isinstance(node.func, ast.Name) and node.func.id == "Signal"
                bulk = isinstance(node.func, ast.Attribute) and node.func.attr == BULK
                if (built or bulk) and not path.is_relative_to(root / "storage"):
                    builders.add(f"{path.relative_to(root.parent)}:{fn.name}")
    assert builders == {
        "app/services/cases.py:_signals",  # called by report and add_hashes, after refuse_weak
        "app/services/banks.py:add",
        "app/services/matches.py:mark_false_positive",
    }
    guarded = {"cases.py": ("report", "add_hashes"), "banks.py": ("add",)}
    for module, functions in guarded.items():
        tree = ast.parse((root / "services" / module).read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name in functions:
                calls = {
                    n.func.id
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                }
                assert "refuse_weak" in calls, f"{module}:{fn.name}"
