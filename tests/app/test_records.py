"""The per-platform records over the API: figures worked out by hand from seeded rows,
real checks counted per client and day, the silent and not-blocked flags, periods
validated (422), admin only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.services.records import MAX_PERIOD_DAYS, Period
from tests.records_seed import EXPECTED, seed
from tests.servers import Server, eventually, fresh_database_url


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("records")
    data = seed(fresh_database_url(workdir))
    server = Server(workdir, data.url).start()
    admin = server.create_client("records-admin", "admin")
    yield server, data, admin
    server.stop()


def test_each_platforms_figures_are_the_ones_worked_out_by_hand(seeded):
    server, data, admin = seeded
    with server.client(admin) as c:
        for name, figures in EXPECTED.items():
            r = c.get(f"/v1/clients/{data.ids[name]}/record", params=data.period)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["name"] == name and body["client_id"] == data.ids[name]
            for key, value in figures.items():
                assert body[key] == value, (name, key)
            assert len(body["per_day"]) == 90
            assert sum(d["checks"] for d in body["per_day"]) == body["checks"]
            assert sum(d["matches"] for d in body["per_day"]) == body["matches"]
            assert body["webhooks"] is None  # no webhooks (wired in by issue 21 item 1)
        # the overview holds the same records, flags included
        overview = c.get("/v1/clients/records", params=data.period).json()
        by_name = {r["name"]: r for r in overview}
        assert {n: by_name[n]["silent"] for n in EXPECTED} == {
            "acts": False,
            "stopped": True,
            "never": True,
            "revoked": False,
        }
        assert [n for n in EXPECTED if by_name[n]["not_blocked_rising"]] == ["stopped"]
        single = c.get(f"/v1/clients/{data.ids['acts']}/record", params=data.period).json()
        single.pop("made_at"), by_name["acts"].pop("made_at")
        assert single == by_name["acts"]


def test_a_shorter_period_counts_only_its_days(seeded):
    server, data, admin = seeded
    start = (data.today - timedelta(days=4)).isoformat()
    with server.client(admin) as c:
        body = c.get(
            f"/v1/clients/{data.ids['acts']}/record", params={"from": start}
        ).json()  # to: tomorrow by default
    assert body["period_from"] == start
    assert body["checks"] == 15  # today's 5 and the 10 of three days ago, not the 7 of day -40
    assert body["matches"] == 3  # matches 1, 2, 3
    assert body["feedback_by_value"] == {
        "blocked": 1,
        "not_blocked": 1,
        "false_positive": 0,
        "none": 1,
    }
    assert [d["checks"] for d in body["per_day"]] == [0, 10, 0, 0, 5]


def test_the_silent_threshold_is_a_setting(server_factory: Callable[..., Server], seeded):
    _, data, _ = seeded
    strict = server_factory(data.url, extra_env={"HASHBANK_SILENT_AFTER_DAYS": "20"})
    key = strict.create_client(None, "admin")
    with strict.client(key) as c:
        body = c.get(f"/v1/clients/{data.ids['stopped']}/record").json()
    assert body["days_since_last_check"] == 12 and body["silent"] is False


def test_real_checks_are_counted_per_platform_and_day(server_factory: Callable[..., Server]):
    server = server_factory()
    admin = server.create_client("admin", "admin,report")
    out = server.cli("clients", "create", "platform", "--scopes", "check", "--json").stdout
    platform = json.loads(out)
    assert isinstance(platform["id"], int)  # clients create --json prints the client's id
    value = "f" * 8 + "0123456789abcdef" * 3 + "a" * 8
    with server.client(admin) as c:
        assert c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]}
        ).status_code in (200, 201)
    miss = {"hashes": [{"type": "pdq", "value": "0" * 64}]}
    hit = {"hashes": [{"type": "pdq", "value": value}]}
    with server.client(platform["key"]) as c:

        def matched() -> bool:
            return bool(c.post("/v1/check", json=hit).json()["match"])

        eventually(matched)  # the report reached the index: one or more checks
        for _ in range(3):
            assert c.post("/v1/check", json=miss).json()["match"] is False
        answer = c.post("/v1/check/batch", json={"items": [miss, hit, miss, miss]}).json()
        match_id = answer["results"][1]["matches"][0]["match_id"]
        assert c.post(f"/v1/matches/{match_id}/feedback", json={"feedback": "blocked"}).is_success
    with server.client(admin) as c:
        body = c.get(f"/v1/clients/{platform['id']}/record").json()
    hits = body["matches"] - 1  # the batch's hit, and the first single checks that matched
    assert hits >= 1
    assert body["checks"] == hits + 3 + 4
    assert body["per_day"][-1]["checks"] == body["checks"]  # all today
    assert body["feedback_by_value"]["blocked"] == 1
    # the same upload checked again by the same platform is one re-upload attempt
    assert body["reupload_attempts"] == 1
    assert body["days_since_last_check"] == 0 and body["silent"] is False
    assert body["median_feedback_seconds"] is not None


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2026-05-01", "to": "2026-05-01"}, 422),  # from == to
        ({"from": "2026-05-02", "to": "2026-05-01"}, 422),
        ({"from": "2024-01-01", "to": "2026-01-03"}, 422),  # more than two years
        ({"from": "2026-13-01"}, 422),
        ({"from": "01/05/2026"}, 422),
        ({"from": "2026-05-01T00:00"}, 422),
        ({"to": "x" * 5000}, 422),
        ({"from": "2024-01-01", "to": "2026-01-01"}, 200),  # exactly 731 days
    ],
)
def test_periods_are_validated(seeded, params, status):
    server, data, admin = seeded
    with server.client(admin) as c:
        for path in (f"/v1/clients/{data.ids['acts']}/record", "/v1/clients/records"):
            r = c.get(path, params=params)
            assert r.status_code == status, (path, r.text)
            if status == 422:
                assert r.headers["content-type"].startswith("application/problem+json")


def test_unknown_clients_and_other_keys(seeded):
    server, data, admin = seeded
    with server.client(admin) as c:
        r = c.get("/v1/clients/999999/record")
        assert r.status_code == 404 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert c.get("/v1/clients/0/record").status_code == 422
        assert c.get(f"/v1/clients/{2**64}/record").status_code == 422
        assert c.get(f"/v1/clients/{2**31}/record").status_code == 422  # client.id is 32-bit
    # a platform's own key cannot read any record, its own included
    with server.client(data.keys["acts"]) as c:
        assert c.get(f"/v1/clients/{data.ids['acts']}/record").status_code == 403
        assert c.get("/v1/clients/records").status_code == 403


@given(
    start=st.dates(date(2000, 1, 1), date(2100, 1, 1)),
    length=st.integers(-10, MAX_PERIOD_DAYS + 10),
)
def test_a_period_is_valid_iff_from_is_before_to_within_two_years(start: date, length: int):
    end = start + timedelta(days=length)
    try:
        period = Period.parse(start.isoformat(), end.isoformat(), date(2026, 1, 1))
    except InvalidInput:
        assert not 0 < length <= MAX_PERIOD_DAYS
    else:
        assert 0 < length <= MAX_PERIOD_DAYS
        assert (period.start, period.end, period.days) == (start, end, length)


def test_default_period_is_the_last_30_days():
    today = date(2026, 3, 1)
    period = Period.parse(None, None, today)
    assert period.end == today + timedelta(days=1) and period.days == 30


def test_migration_0012_goes_up_and_down_with_counts(tmp_path: Path):
    from tests.app.test_migrations import _run, _tables

    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0009")
    assert "check_day" not in _tables(url)
    _run(url, "upgrade", "head")
    data = seed(url)
    assert data.ids
    _run(url, "downgrade", "0009")
    assert "check_day" not in _tables(url)
    assert "match" in _tables(url)
    _run(url, "upgrade", "head")
    assert "check_day" in _tables(url)
