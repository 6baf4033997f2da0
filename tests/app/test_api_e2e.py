"""End-to-end: report, check, withdraw, allow-list, feed, PIN lockout — real server, real DB."""

from __future__ import annotations

import secrets

import pytest

from tests import images
from tests.servers import Server, eventually

PROBLEM = "application/problem+json"


def rand_pdq() -> str:
    return secrets.token_hex(32)


def flip_bits(value: str, n: int) -> str:
    as_int = int(value, 16)
    for bit in range(n):
        as_int ^= 1 << (bit * 7 % 256)
    return f"{as_int:064x}"


def report(server: Server, hashes: list[dict], key: str | None = None) -> dict:
    if key is None:  # an anonymous report must say each PDQ hash's quality, as the page does
        hashes = [{"quality": 90, **h} if h["type"] == "pdq" else h for h in hashes]
    with server.client(key) as c:
        r = c.post("/v1/cases", json={"hashes": hashes})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"case_id", "pin", "status"} and body["status"] == "pending"
    return body


def check(server: Server, key: str, hashes: list[dict]) -> dict:
    with server.client(key) as c:
        r = c.post("/v1/check", json={"hashes": hashes})
    assert r.status_code == 200, r.text
    return r.json()


def confirm(server: Server, case_id: str) -> None:
    """A moderator confirms the case (through the service, as the dashboard does)."""
    from app.config import Settings
    from app.services.container import Services

    svc = Services.build(Settings(database_url=server.database_url), migrate=False)
    try:
        svc.cases.review(case_id, confirm=True, actor="user:test")
    finally:
        svc.close()


def test_report_by_hashes_then_check_pending_is_review_active_is_block(
    live_server: Server, api_key: str
):
    pdq = rand_pdq()
    case = report(live_server, [{"type": "pdq", "value": pdq, "quality": 90}])
    assert case["case_id"].startswith("HB-") and len(case["case_id"]) == 22

    res = check(live_server, api_key, [{"type": "pdq", "value": flip_bits(pdq, 31)}])
    assert res["match"] is True and res["action"] == "review"
    # 31 bits away still matches; the answer says "near", not the distance
    assert res["matches"][0]["band"] == "near" and res["matches"][0]["distance"] is None
    assert res["matches"][0]["bank"] == "reports"
    assert set(res["matches"][0]) == {"signal_type", "band", "distance", "bank", "match_id"}

    assert (
        check(live_server, api_key, [{"type": "pdq", "value": flip_bits(pdq, 32)}])["match"]
        is False
    )

    confirm(live_server, case["case_id"])  # in another process: the server follows the log
    eventually(
        lambda: (
            check(live_server, api_key, [{"type": "pdq", "value": flip_bits(pdq, 5)}])["action"]
            == "block"
        ),
        timeout=2,
    )

    with live_server.client() as c:
        r = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "active" and body["reupload_attempts"] >= 2 and body["hashes"] == 1
    assert "pin" not in body


def test_report_by_image_and_edited_copies_match(live_server: Server, api_key: str):
    with live_server.client() as c:
        r = c.post("/v1/cases", files=[("image", ("me.jpg", images.jpeg("chelsea"), "image/jpeg"))])
    assert r.status_code == 201, r.text
    for copy in (images.resized_reencoded("chelsea"), images.flipped("chelsea")):
        with live_server.client(api_key) as c:
            r = c.post("/v1/check", files={"image": ("up.jpg", copy, "image/jpeg")})
        assert r.status_code == 200, r.text
        assert r.json()["match"] is True, r.json()
    # a different photo does not match
    with live_server.client(api_key) as c:
        r = c.post("/v1/check", files={"image": ("other.jpg", images.jpeg("rocket"), "image/jpeg")})
    assert r.json()["match"] is False


def test_withdraw_stops_matches_and_feed_shows_add_then_tombstone(
    live_server: Server, api_key: str
):
    pdq, md5 = rand_pdq(), secrets.token_hex(16)
    case = report(live_server, [{"type": "pdq", "value": pdq}, {"type": "md5", "value": md5}])
    assert check(live_server, api_key, [{"type": "md5", "value": md5}])["match"] is True

    with live_server.client() as c:
        r = c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert check(live_server, api_key, [{"type": "pdq", "value": pdq}])["match"] is False
    assert check(live_server, api_key, [{"type": "md5", "value": md5}])["match"] is False

    items = live_server.feed(api_key)
    mine = [i for i in items if i["value"] == pdq or (i["op"] == "remove" and i["type"] == "pdq")]
    adds = [i for i in mine if i["op"] == "add" and i["value"] == pdq]
    assert len(adds) == 1 and adds[0]["status"] == "pending"
    removes = [i for i in items if i["op"] == "remove" and i["signal_id"] == adds[0]["signal_id"]]
    assert len(removes) == 1 and removes[0]["value"] is None and removes[0]["seq"] > adds[0]["seq"]


def test_allowlist_cancels_matches(live_server: Server, api_key: str):
    pdq = rand_pdq()
    report(live_server, [{"type": "pdq", "value": pdq}])
    query = flip_bits(pdq, 10)
    res = check(live_server, api_key, [{"type": "pdq", "value": query}])
    assert res["match"] is True
    # platform says false positive; a moderator puts the *query* hash on the allow-list
    with live_server.client(api_key) as c:
        r = c.post(
            f"/v1/matches/{res['matches'][0]['match_id']}/feedback",
            json={"feedback": "false_positive"},
        )
    assert r.status_code == 200, r.text
    from app.config import Settings
    from app.services.container import Services

    svc = Services.build(Settings(database_url=live_server.database_url), migrate=False)
    try:
        svc.matches.mark_false_positive(res["matches"][0]["match_id"], actor="user:test")
    finally:
        svc.close()
    eventually(
        lambda: not check(live_server, api_key, [{"type": "pdq", "value": query}])["match"], 2
    )
    # the victim's own hash still protects them
    assert check(live_server, api_key, [{"type": "pdq", "value": pdq}])["match"] is True


def test_feedback_blocked_counts_on_case(live_server: Server, api_key: str):
    pdq = rand_pdq()
    case = report(live_server, [{"type": "pdq", "value": pdq}])
    res = check(live_server, api_key, [{"type": "pdq", "value": pdq}])
    with live_server.client(api_key) as c:
        r = c.post(
            f"/v1/matches/{res['matches'][0]['match_id']}/feedback", json={"feedback": "blocked"}
        )
        assert r.status_code == 200
        again = c.post(
            f"/v1/matches/{res['matches'][0]['match_id']}/feedback",
            json={"feedback": "not_blocked"},
        )
        assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    with live_server.client() as c:
        body = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}).json()
    assert body["reupload_attempts"] == 1 and body["confirmed_blocked"] == 1


def test_an_upload_counts_once_however_many_hashes_match(live_server: Server, api_key: str):
    pdq, md5, sha = rand_pdq(), secrets.token_hex(16), secrets.token_hex(32)
    hashes = [
        {"type": "pdq", "value": pdq},
        {"type": "md5", "value": md5},
        {"type": "sha256", "value": sha},
    ]
    case = report(live_server, hashes)
    res = check(live_server, api_key, hashes)
    assert len(res["matches"]) == 3  # each hash's match is logged ...
    with live_server.client(api_key) as c:
        batch = c.post("/v1/check/batch", json={"items": [{"hashes": hashes}] * 2}).json()
    assert [len(r["matches"]) for r in batch["results"]] == [3, 3]
    with live_server.client() as c:
        body = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}).json()
    # ... but the victim sees one attempt per upload; and the same upload (the same hashes
    # from the same platform) checked again, here twice in one batch, is not another one
    assert body["reupload_attempts"] == 1


def test_wrong_pin_and_unknown_case_look_the_same_then_lock(live_server: Server):
    case = report(live_server, [{"type": "pdq", "value": rand_pdq()}])
    with live_server.client() as c:
        unknown = c.get(
            "/v1/cases/HB-0000-0000-0000-0000", headers={"X-Case-Pin": "1111-1111-1111"}
        )
        wrong = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": "1111-1111-1111"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json()["detail"] == wrong.json()["detail"]
        for _ in range(9):
            assert (
                c.get(
                    f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": "2222-2222-2222"}
                ).status_code
                == 401
            )
        locked = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
        assert locked.status_code == 423 and locked.headers["content-type"] == PROBLEM
        assert int(locked.headers["retry-after"]) > 800
        assert (
            c.delete(
                f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}
            ).status_code
            == 423
        )


def test_add_hashes_to_existing_case(live_server: Server, api_key: str):
    case = report(live_server, [{"type": "pdq", "value": rand_pdq()}])
    extra = rand_pdq()
    with live_server.client() as c:
        r = c.post(
            f"/v1/cases/{case['case_id']}/hashes",
            headers={"X-Case-Pin": case["pin"]},
            json={"hashes": [{"type": "pdq", "value": extra, "quality": 90}]},
        )
    assert r.status_code == 200 and r.json()["hashes"] == 2
    assert check(live_server, api_key, [{"type": "pdq", "value": extra}])["match"] is True


def test_batch_check_answers_in_order(live_server: Server, api_key: str):
    pdq = rand_pdq()
    report(live_server, [{"type": "pdq", "value": pdq}])
    items = [{"hashes": [{"type": "pdq", "value": rand_pdq()}]} for _ in range(999)]
    items.insert(500, {"hashes": [{"type": "pdq", "value": flip_bits(pdq, 3)}]})
    with live_server.client(api_key) as c:
        r = c.post("/v1/check/batch", json={"items": items})
        too_many = c.post("/v1/check/batch", json={"items": items + items[:1]})
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == 1000
    assert [i for i, res in enumerate(results) if res["match"]] == [500]
    assert too_many.status_code == 422


def test_ngo_key_reports_large_cases(live_server: Server):
    key = live_server.create_client(scopes="report")
    hashes = [{"type": "pdq", "value": rand_pdq()} for _ in range(1000)]
    case = report(live_server, hashes, key=key)
    with live_server.client() as c:
        body = c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}).json()
    assert body["hashes"] == 1000
    with live_server.client() as c:  # anonymous reporters are capped lower
        r = c.post("/v1/cases", json={"hashes": hashes})
    assert r.status_code == 422


@pytest.mark.parametrize("policy", ["block", "review"])
def test_banks_admin_api(live_server: Server, api_key: str, policy: str):
    name = f"bank-{policy}-{secrets.token_hex(3)}"
    with live_server.client(api_key) as c:
        r = c.post("/v1/banks", json={"name": name, "policy": policy, "pdq_threshold": 20})
        assert r.status_code == 201, r.text
        assert c.post("/v1/banks", json={"name": name, "policy": policy}).status_code == 409
        names = {b["name"]: b for b in c.get("/v1/banks").json()}
    assert names[name]["pdq_threshold"] == 20 and {"reports", "allowlist"} <= set(names)


def test_batch_without_a_match_answers_one_no_match_per_item(live_server: Server, api_key: str):
    # a batch with no match is answered from ready-made bytes: the same shape as the model's
    items = [{"hashes": [{"type": "pdq", "value": rand_pdq()}]} for _ in range(3)]
    items.append(
        {"hashes": [{"type": "sha256", "value": rand_pdq()}, {"type": "md5", "value": "ab" * 16}]}
    )
    with live_server.client(api_key) as c:
        r = c.post("/v1/check/batch", json={"items": items})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"results": [{"match": False, "action": "none", "matches": []}] * 4}
