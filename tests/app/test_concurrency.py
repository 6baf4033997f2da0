"""Two replicas on one database under concurrent writes from both: case numbers stay
unique, re-upload counters count every match answered, and the feed lists every hash
exactly once, in strictly increasing order (a consumer paging it misses nothing)."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

from tests.servers import Server, eventually


def test_concurrent_writes_from_two_replicas(server_factory) -> None:
    a: Server = server_factory()
    b: Server = server_factory(database_url=a.database_url)
    key = a.create_client("platform", "check,feed")
    # 201 distinct uploads of the victim's image (the same upload re-checked counts once)
    victim = [secrets.token_hex(32) for _ in range(201)]
    with a.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "sha256", "value": v} for v in victim]}
        ).json()
    check = {"hashes": [{"type": "sha256", "value": victim[-1]}]}
    with b.client(key) as c:
        eventually(lambda: c.post("/v1/check", json=check).json()["match"], timeout=5)

    def report(i: int) -> tuple[str, str]:
        server = (a, b)[i % 2]
        pdq = secrets.token_hex(32)
        with server.client() as c:
            r = c.post("/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]})
        assert r.status_code == 201, r.text
        return r.json()["case_id"], pdq

    def reupload(i: int) -> bool:
        with (a, b)[i % 2].client(key) as c:
            r = c.post("/v1/check", json={"hashes": [{"type": "sha256", "value": victim[i]}]})
        assert r.status_code == 200, r.text
        return bool(r.json()["match"])

    with ThreadPoolExecutor(12) as pool:
        reports = pool.map(report, range(120))
        matches = pool.map(reupload, range(200))
        reported = list(reports)
        answered = sum(matches) + 1  # + the check that waited for replica b

    assert len({case_id for case_id, _ in reported}) == 120
    with a.client() as c:
        status = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert status.json()["reupload_attempts"] == answered == 201

    items = b.feed(key, page_size=50)
    seqs = [item["seq"] for item in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    added = [item["value"] for item in items if item["op"] == "add"]
    assert sorted(added) == sorted(victim + [pdq for _, pdq in reported])
