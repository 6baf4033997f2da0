"""The browser harness itself works: Chromium renders the server's health page."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.servers import Server


def test_chromium_loads_a_server_page(page: Page, live_server: Server) -> None:
    response = page.goto(f"{live_server.url}/healthz")
    assert response is not None and response.status == 200
    assert "ok" in page.content()
