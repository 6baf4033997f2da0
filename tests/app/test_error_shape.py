"""One error renderer (app/web/errors.py): the same error raised under /v1, /dashboard and
the reporting page is problem+json for the API and a page for the others."""

from __future__ import annotations

import tempfile

from app.config import Settings
from app.errors import InvalidInput
from app.main import create_app
from app.web import errors
from app.web.inputs import NUL_REFUSED
from tests.servers import Server

PROBLEM = "application/problem+json"


def test_every_error_handler_is_the_one_renderer():
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/errors.db"))
        app.state.services.close()
    handlers = {kind: h for kind, h in app.exception_handlers.items() if kind in errors.HANDLED}
    assert set(handlers) == set(errors.HANDLED)
    assert len(set(handlers.values())) == 1  # one function answers them all
    assert {h.__qualname__ for h in handlers.values()} == {"install.<locals>.handler"}


def test_the_same_error_is_a_problem_for_the_api_and_a_page_for_people(live_server: Server):
    # a NUL in the query string: InvalidInput (422) from the same dependency on every router
    with live_server.client() as c:
        api = c.get("/v1/feed?q=%00")
        dashboard = c.get("/dashboard?q=%00")
        portal = c.get("/follow?q=%00")
    assert api.status_code == dashboard.status_code == portal.status_code == 422
    assert api.headers["content-type"] == PROBLEM
    assert api.json() == InvalidInput(NUL_REFUSED).problem()
    for page in (dashboard, portal):
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "<html" in page.text
    assert NUL_REFUSED in dashboard.text  # the dashboard says what was wrong
    assert "content-language" in portal.headers  # the reporting page, in the visitor's language
