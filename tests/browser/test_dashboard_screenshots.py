"""Every dashboard page on a realistic bank (a year of reports and re-uploads, seeded like
the benchmark does): each renders cleanly in Chromium, and with HASHBANK_SCREENSHOTS=1 its
screenshot goes to docs/screenshots/dashboard-<page>.png for the docs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from app.storage.db import Database
from benchmarks.dashboard import PASSWORD, seed
from tests.browser import test_dashboard_common as common
from tests.browser.test_dashboard_common import Staffer, Watch, login, shot
from tests.servers import Server

dpage = common.dpage


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from tests.servers import fresh_database_url

    workdir = tmp_path_factory.mktemp("dash-shots")
    server = Server(workdir, fresh_database_url(workdir))
    db = Database(server.database_url)
    db.upgrade()
    seed(db, 400, 6000)
    db.dispose()
    server.start()
    yield server
    server.stop()


def _first_case(page: Page) -> None:
    page.locator("table a[href^='/dashboard/cases/']").first.click()
    page.wait_for_load_state()


def _search(page: Page) -> None:
    value = page.locator("td code.hash").first.inner_text()
    page.goto(page.url.split("/dashboard")[0] + "/dashboard/search")
    page.get_by_label("Case id or hash").fill(value)
    page.get_by_label("Within distance").fill("0")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()


STEPS: list[tuple[str, str, Callable[[Page], None] | None]] = [
    ("overview", "/dashboard", None),
    ("queue", "/dashboard/queue", None),
    ("queue-matches", "/dashboard/queue/matches", None),
    ("cases", "/dashboard/cases?sort=matches&order=desc", None),
    ("case", "/dashboard/cases?sort=matches&order=desc", _first_case),
    ("matches", "/dashboard/matches", None),
    ("search", "/dashboard/cases?status=active", None),
    ("audit", "/dashboard/audit", None),
    ("banks", "/dashboard/banks", None),
    ("clients", "/dashboard/clients", None),
    ("users", "/dashboard/users", None),
    ("settings", "/dashboard/settings", None),
]


def test_every_page_on_a_realistic_bank(dpage: tuple[Page, Watch], bank: Server):
    page, watch = dpage
    login(page, bank, Staffer("bench-admin", PASSWORD, "admin"))
    for name, path, then in STEPS:
        response = page.goto(bank.url + path)
        assert response is not None and response.status == 200, name
        if then is not None:
            then(page)
        if name == "search":
            page.locator("tbody tr a[href^='/dashboard/cases/']").first.click()
            page.wait_for_load_state()
            _search(page)
            expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("h1")).to_have_count(1)
        if name == "overview":
            bars = page.locator("svg rect.bar")
            expect(bars).to_have_count(30)
            heights = [
                float(h or 0)
                for h in bars.evaluate_all("b => b.map(x => x.getAttribute('height'))")
            ]
            assert sum(h > 0 for h in heights) >= 20  # re-uploads on most days
        if name in ("cases", "matches", "audit"):
            expect(page.locator("tbody tr")).to_have_count(50)
            assert re.search(r"Page 1 of \d+", page.locator(".pager").first.inner_text())
        shot(page, name)
    watch.assert_clean()
