"""The report to take outside (dashboard, admins): printable HTML, PDF and CSV, for every
platform or one. Every figure in each equals the API's for the same period, and no
case id, PIN or hash of the seeded data appears in any of them (the PDF's text is read
back with pypdf)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from pypdf import PdfReader

from app.services.reports import CSV_COLUMNS, FIGURES
from tests.browser.test_dashboard_common import Http, Staffer
from tests.browser.test_dashboard_records import api_value, printed
from tests.records_seed import Seeded, seed
from tests.servers import Server, fresh_database_url

PASSWORD = "correct-horse-battery-staple"
DAILY = ("checks", "matches", "reupload_attempts")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded, str, Http]]:
    workdir = tmp_path_factory.mktemp("report")
    data = seed(fresh_database_url(workdir))
    server = Server(workdir, data.url).start()
    key = server.create_client("report-admin", "admin")
    server.create_user("report-boss", PASSWORD, "admin")
    http = Http(server, Staffer("report-boss", PASSWORD, "admin"))
    yield server, data, key, http
    http.close()
    server.stop()


def _api(server: Server, key: str, data: Seeded, client: str) -> dict[str, dict[str, Any]]:
    with server.client(key) as c:
        if client:
            body = c.get(f"/v1/clients/{client}/record", params=data.period).json()
            return {body["name"]: body}
        return {r["name"]: r for r in c.get("/v1/clients/records", params=data.period).json()}


def _csv_cell(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


class _Cells(HTMLParser):
    """(client id, data-key) -> text of the report page's figure cells."""

    def __init__(self) -> None:
        super().__init__()
        self.client = ""
        self.key: str | None = None
        self.cells: dict[tuple[str, str], str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-client"):
            self.client = str(a["data-client"])
        if tag == "td" and a.get("data-key"):
            self.key = str(a["data-key"])
            self.cells[(self.client, self.key)] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.key = None

    def handle_data(self, text: str) -> None:
        if self.key is not None:
            self.cells[(self.client, self.key)] += text


@pytest.mark.parametrize("scope", ["all", "one"])
def test_every_figure_of_html_pdf_and_csv_equals_the_api(world, scope: str):
    server, data, key, http = world
    client = str(data.ids["stopped"]) if scope == "one" else ""
    api = _api(server, key, data, client)
    params = {**data.period, **({"client": client} if client else {})}

    # CSV: raw values, one row per figure and one per platform, day and daily figure
    r = http.get("/dashboard/records/report.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    seen = set()
    for row in rows:
        if row["figure"] == "made_at":
            continue
        body = api[row["platform"]]
        assert int(row["client_id"]) == body["client_id"]
        assert (row["period_from"], row["period_to"]) == (data.period["from"], data.period["to"])
        if row["day"]:
            (day,) = [d for d in body["per_day"] if d["day"] == row["day"]]
            assert row["value"] == str(day[row["figure"]])
        else:
            assert row["value"] == _csv_cell(api_value(body, row["figure"])), row
            assert row["how_counted"]
        seen.add((row["platform"], row["figure"], row["day"]))
    figure_keys = [k for k, _, _ in FIGURES]
    for name, body in api.items():
        for k in figure_keys:
            assert (name, k, "") in seen
        for d in body["per_day"]:
            assert all((name, f, d["day"]) in seen for f in DAILY)

    # the printable page: each platform's section, each figure's cell
    r = http.get("/dashboard/records/report", params=params)
    assert r.status_code == 200
    parser = _Cells()
    parser.feed(r.text)
    for body in api.values():
        for k in figure_keys:
            cell = parser.cells[(str(body["client_id"]), k)]
            assert cell == printed(k, api_value(body, k)), (body["name"], k)
    assert len({c for c, _ in parser.cells}) == len(api)
    assert "How the figures were counted" in r.text

    # the PDF, read back: each platform's part has "label value" for every figure
    r = http.get("/dashboard/records/report.pdf", params=params)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    text = " ".join(
        " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(r.content)).pages).split()
    )
    parts = {p.split(" ", 1)[0]: p for p in text.split("Platform: ")[1:]}
    assert set(parts) == set(api)
    for name, body in api.items():
        for k, label, _ in FIGURES:
            assert f"{label} {printed(k, api_value(body, k))}" in parts[name], (name, k)
        for d in body["per_day"][:5]:
            assert (
                f"{d['day']} {d['checks']:,} {d['matches']:,} {d['reupload_attempts']:,}"
                in parts[name]
            )


def test_no_victim_data_in_any_report(world):
    server, data, _, http = world
    secrets_ = [data.case_id, data.pin, *data.hashes]
    # the case id and PIN also as they may be printed: without separators, any case
    variants = set()
    for s in secrets_:
        variants |= {s, s.lower(), s.upper(), re.sub(r"[^0-9A-Za-z]", "", s)}
    for params in (data.period, {**data.period, "client": str(data.ids["acts"])}):
        html = http.get("/dashboard/records/report", params=params).text
        csv_text = http.get("/dashboard/records/report.csv", params=params).text
        pdf = http.get("/dashboard/records/report.pdf", params=params).content
        pdf_text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
        for where, text in (("html", html), ("csv", csv_text), ("pdf", pdf_text)):
            found = [v for v in variants if v and v.lower() in text.lower()]
            assert found == [], where
        for v in variants:
            assert v.encode() not in pdf
    # and the record pages and the API neither
    for path in ("/dashboard/records", f"/dashboard/records/{data.ids['acts']}"):
        page = http.get(path, params=data.period).text.lower()
        assert not [v for v in variants if v.lower() in page]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"client": "abc"}, 422),
        ({"client": "9" * 40}, 422),
        ({"client": "999999"}, 404),
        ({"from": "2026-05-02", "to": "2026-05-01"}, 422),
        ({"from": "2020-01-01", "to": "2026-01-01"}, 422),
    ],
)
def test_bad_report_requests_are_error_pages(world, params, status):
    _, _, _, http = world
    for path in (
        "/dashboard/records/report",
        "/dashboard/records/report.pdf",
        "/dashboard/records/report.csv",
    ):
        r = http.get(path, params=params)
        assert r.status_code == status, (path, r.text[:300])


def test_a_platform_key_or_no_session_gets_no_report(world):
    server, data, _, _ = world
    import httpx

    with httpx.Client(base_url=server.url, follow_redirects=False) as anon:
        for path in (
            "/dashboard/records",
            "/dashboard/records/report.csv",
            "/dashboard/records/report.pdf",
        ):
            r = anon.get(path)
            assert r.status_code in (302, 303, 401), (path, r.status_code)
            assert "text/csv" not in r.headers.get("content-type", "")
    server.create_user("report-mod", PASSWORD, "moderator")
    mod = Http(server, Staffer("report-mod", PASSWORD, "moderator"))
    try:
        for path in ("/dashboard/records", "/dashboard/records/report.csv"):
            assert mod.get(path).status_code == 403  # admins only
    finally:
        mod.close()
    with server.client(data.keys["acts"]) as c:
        r = c.get("/dashboard/records/report.csv", follow_redirects=False)
        assert r.status_code in (302, 303, 401) and "text/csv" not in r.headers.get(
            "content-type", ""
        )


def test_names_that_a_spreadsheet_would_run_or_latin1_cannot_print(world):
    """(Last in this module: it adds platforms to the seeded world.) A platform named like
    a formula is written to the CSV with a leading quote, so a spreadsheet shows it rather
    than runs it; a name outside Latin-1 still makes a PDF (with ? for what it cannot print)
    and is whole in the printable page."""
    server, data, _, http = world
    formula = server.cli("clients", "create", '=HYPERLINK("x")', "--json").stdout
    cyrillic = server.cli("clients", "create", "Платформа", "--json").stdout
    for made, cell in ((formula, '\'=HYPERLINK("x")'), (cyrillic, "Платформа")):
        cid = str(json.loads(made)["id"])
        params = {**data.period, "client": cid}
        rows = list(
            csv.DictReader(
                io.StringIO(http.get("/dashboard/records/report.csv", params=params).text)
            )
        )
        assert {r["platform"] for r in rows if r["figure"] != "made_at"} == {cell}
        pdf = http.get("/dashboard/records/report.pdf", params=params)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        page = http.get("/dashboard/records/report", params=params).text
        assert cell.lstrip("'").replace('"', "&#34;") in page or cell.lstrip("'") in page
