"""``/docs`` in Chromium with every request that leaves this machine blocked: Swagger UI
comes from the server itself and renders the API's operations under a CSP that allows no
CDN and no inline script (a violation would be a console error, and fail the test)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect

from app.web.docs import DOCS_CSP
from tests.servers import Server


def test_docs_render_with_no_network(page: Page, live_server: Server) -> None:
    outside: list[str] = []
    console: list[str] = []

    def only_local(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            console.append(msg.text)

    page.route("**/*", only_local)
    page.on("console", on_console)
    response = page.goto(live_server.url + "/docs")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == DOCS_CSP
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("hashbank")
    # every operation of the OpenAPI document is listed, e.g. the check and the report
    expect(page.locator(".opblock-summary-path[data-path='/v1/check']")).to_have_count(1)
    expect(page.locator(".opblock-summary-path[data-path='/v1/cases']")).to_have_count(1)
    with live_server.client() as c:
        spec = c.get("/openapi.json").json()
    operations = sum(len(ops) for ops in spec["paths"].values())
    expect(page.locator(".opblock")).to_have_count(operations)
    # an operation opens (Swagger UI's own scripts run under the CSP)
    page.locator(".opblock-summary-path[data-path='/v1/check']").click()
    expect(page.locator(".opblock.is-open")).to_have_count(1)
    assert outside == [], outside
    violations = [m for m in console if "Content Security Policy" in m or "Refused" in m]
    assert violations == [], violations
