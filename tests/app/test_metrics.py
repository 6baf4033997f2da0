"""/metrics: Prometheus text with checks, matches, latency, index size and lag; summed
over `--workers N`; no case id, key or address ever becomes a label value."""

from __future__ import annotations

import re
import secrets

from tests.servers import Server, eventually


def _value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _scrape(server: Server) -> str:
    with server.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def _traffic(server: Server, key: str, checks: int) -> dict:
    pdq = secrets.token_hex(32)
    with server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]}
        ).json()
        assert c.get(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]}).is_success
    with server.client(key) as c:
        for _ in range(checks):
            body = {"hashes": [{"type": "pdq", "value": secrets.token_hex(32)}]}
            assert c.post("/v1/check", json=body).status_code == 200
        # with several workers, the one answering may still be catching up on the case:
        # a miss while it does is counted as a "none" check
        misses = 0

        def hit() -> bool:
            nonlocal misses
            answer = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": pdq}]}).json()
            misses += answer["action"] != "review"
            return bool(answer["action"] == "review")

        eventually(hit)
    case["misses"] = misses
    return case


def test_metrics_count_checks_matches_and_index(server_factory) -> None:
    server: Server = server_factory()
    key = server.create_client("metrics", "check")
    case = _traffic(server, key, 5)
    text = _scrape(server)
    assert _value(text, "hashbank_checks_total", result="none") == 5 + case["misses"]
    assert _value(text, "hashbank_checks_total", result="match") == 1
    assert _value(text, "hashbank_matches_total", action="review") == 1
    assert (
        _value(text, "hashbank_http_requests_total", route="/v1/check", status="200")
        == 6 + case["misses"]
    )
    assert (
        _value(text, "hashbank_http_request_seconds_count", route="/v1/check") == 6 + case["misses"]
    )
    assert _value(text, "hashbank_index_hashes", type="pdq") >= 1
    assert "hashbank_change_log_lag" in text
    # the case page is labelled by its template; no secret reaches the metrics
    assert 'route="/v1/cases/{case_id}"' in text
    assert case["case_id"] not in text and case["pin"] not in text and key not in text
    assert not re.search(r"127\.0\.0\.1", text)


def test_metrics_sum_over_workers(server_factory) -> None:
    server: Server = server_factory(workers=2)
    key = server.create_client("metrics", "check")
    case = _traffic(server, key, 40)  # spread by the kernel over both workers
    text = _scrape(server)
    assert _value(text, "hashbank_checks_total", result="none") == 40 + case["misses"]
    assert _value(text, "hashbank_checks_total", result="match") == 1
