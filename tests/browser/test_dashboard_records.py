"""The platform records in Chromium: the overview and each platform's page render their
SVG charts with the figures in tables, and every figure printed equals the API's for the
same period (read with an admin key, formatted here by the report's documented rules)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import Staffer, Watch, login
from tests.records_seed import Seeded, seed
from tests.servers import Server, fresh_database_url

PASSWORD = "correct-horse-battery-staple"
dpage = common.dpage  # the dashboard tests' page fixture


def printed(key: str, raw: Any) -> str:
    """A value as docs/records.md says the report prints it."""
    if key == "webhooks":
        return "no webhooks" if raw is None else str(raw)
    if raw is None:
        return "n/a"
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if "share" in key:
        return f"{raw * 100:.1f}%"
    if key == "median_feedback_seconds":
        return f"{raw / 3600:.1f} h"
    if isinstance(raw, int):
        return f"{raw:,}"
    return str(raw)


def api_value(body: dict[str, Any], key: str) -> Any:
    name, _, sub = key.partition(".")
    return body[name][sub] if sub else body[name]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Seeded, str, Staffer]]:
    workdir = tmp_path_factory.mktemp("records-browser")
    data = seed(fresh_database_url(workdir))
    server = Server(workdir, data.url).start()
    admin_key = server.create_client("records-admin", "admin")
    server.create_user("records-boss", PASSWORD, "admin")
    yield server, data, admin_key, Staffer("records-boss", PASSWORD, "admin")
    server.stop()


def _query(data: Seeded) -> str:
    return f"from={data.period['from']}&to={data.period['to']}"


def test_overview_figures_and_flags_equal_the_api(
    dpage: tuple[Page, Watch], world: tuple[Server, Seeded, str, Staffer]
):
    page, _ = dpage
    server, data, key, admin = world
    with server.client(key) as c:
        api = {r["name"]: r for r in c.get("/v1/clients/records", params=data.period).json()}
    login(page, server, admin)
    page.get_by_role("link", name="Platform records").click()
    page.get_by_label("From (UTC day, included)").fill(data.period["from"])
    page.get_by_label("To (UTC day, not included)").fill(data.period["to"])
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Platform records")
    for name, body in api.items():
        row = page.locator(f"#records tr[data-client='{body['client_id']}']")
        expect(row).to_contain_text(name)
        for cell in row.locator("td[data-key]").all():
            k = str(cell.get_attribute("data-key"))
            assert cell.inner_text() == printed(k, api_value(body, k)), (name, k)
        flags = {str(f.get_attribute("data-flag")) for f in row.locator("[data-flag]").all()}
        assert flags == {f for f in ("silent", "not_blocked_rising") if body[f]}, name
    assert api["stopped"]["silent"] and api["stopped"]["not_blocked_rising"]
    chart = page.get_by_role("img", name="Matches with no feedback after 24 hours")
    expect(chart).to_be_visible()
    expect(
        page.get_by_role("table", name="No feedback after 24 hours, per platform")
    ).to_contain_text(printed("no_feedback_24h_share", api["acts"]["no_feedback_24h_share"]))


def test_a_platforms_page_shows_the_apis_figures_and_charts(
    dpage: tuple[Page, Watch], world: tuple[Server, Seeded, str, Staffer]
):
    page, _ = dpage
    server, data, key, admin = world
    cid = data.ids["acts"]
    with server.client(key) as c:
        body = c.get(f"/v1/clients/{cid}/record", params=data.period).json()
    login(page, server, admin, path=f"/dashboard/records/{cid}?{_query(data)}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Record of acts")
    cells = page.locator("#figures td[data-key]").all()
    assert len(cells) >= 20
    for cell in cells:
        k = str(cell.get_attribute("data-key"))
        assert cell.inner_text() == printed(k, api_value(body, k)), k
    for name in ("Checks per day", "Matches per day", "Feedback on the matches"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    # the chart's table, beside it: one row per day with the API's counts
    page.get_by_text("The figures of the charts as a table").click()
    rows = page.locator("#per-day tbody tr").all()
    assert len(rows) == len(body["per_day"]) == 90
    by_day = {d["day"]: d for d in body["per_day"]}
    for row in rows[:10]:
        day, checks, matches, attempts = row.locator("th, td").all_inner_texts()
        d = by_day[day]
        assert (checks, matches, attempts) == (
            f"{d['checks']:,}",
            f"{d['matches']:,}",
            f"{d['reupload_attempts']:,}",
        )
    bars = page.locator("svg[aria-labelledby^='checks'] rect.bar")
    assert bars.count() == 90
    feedback = page.get_by_role("table", name="Matches by feedback")
    expect(feedback).to_contain_text(
        printed("feedback_shares.blocked", body["feedback_shares"]["blocked"])
    )
    expect(page.locator("#webhooks")).to_have_text("Webhooks: no webhooks")


def test_a_bad_period_is_an_error_page_not_a_crash(
    dpage: tuple[Page, Watch], world: tuple[Server, Seeded, str, Staffer]
):
    page, _ = dpage
    server, data, _, admin = world
    login(page, server, admin)
    r = page.goto(server.url + "/dashboard/records?from=2026-05-02&to=2026-05-01")
    assert r is not None and r.status == 422
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("'from' must be before 'to'")).to_be_visible()
