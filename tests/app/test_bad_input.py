"""Bad input on every route: a documented 4xx with a problem body (pages: an HTML page),
never a 5xx, and the server keeps serving. Runs on SQLite and PostgreSQL (CI runs tests/app
on both): NUL characters and out-of-range integers are what PostgreSQL refuses."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from sqlalchemy import text

from app.portal.i18n import texts
from app.services.users import UserService
from app.storage.db import Database
from app.web.inputs import INT32_MAX, INT64_MAX, NUL_REFUSED
from tests import images
from tests.hostile import HOSTILE_TEXT
from tests.servers import Server, fresh_database_url

PROBLEM = "application/problem+json"
JPEG = images.jpeg("astronaut")

BAD_JSON = [
    (b"{not json", 400),
    (b"[]", 422),
    (b'{"hashes": []}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "abc"}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"zz" * 32 + b'"}]}', 422),
    (b'{"hashes": [{"type": "md5", "value": "' + b"ab" * 32 + b'"}]}', 422),
    (b'{"hashes": [{"type": "sha1", "value": "ab"}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": 7}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"ab" * 32 + b'", "quality": 101}]}', 422),
    (b'{"hashes": "nope"}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"ab" * 32 + b'", "colour": "red"}]}', 422),
    (b'{"hashes": [{"type": "pdq", "value": "' + b"ab" * 32 + b'", "quality": "70"}]}', 422),
    (b'{"hashes": [{"value": "' + b"ab" * 32 + b'"}]}', 422),
    (b'{"hashes": [["pdq", "' + b"ab" * 32 + b'"]]}', 422),
    (b"\xff\xfe\x00garbage", 400),
]
BAD_IMAGES = [
    (b"", 422),
    (b"this is text, not an image", 422),
    (JPEG[: len(JPEG) // 2], 422),
    (images.bomb_png(), 413),
    (images.encode(images.photo("camera").resize((8, 8)), "PNG"), 422),
    (b"%PDF-1.4 not an image", 422),
]


@pytest.fixture(scope="module")
def key(live_server: Server) -> str:
    return live_server.create_client(scopes="check,report")


def _case(live_server: Server) -> dict:
    with live_server.client() as c:
        return c.post(
            "/v1/cases",
            json={"hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90}]},
        ).json()


def _json_routes(live_server: Server) -> list[tuple[str, dict]]:
    case = _case(live_server)
    return [
        ("/v1/cases", {}),
        ("/v1/check", {}),
        (f"/v1/cases/{case['case_id']}/hashes", {"X-Case-Pin": case["pin"]}),
    ]


@pytest.mark.parametrize(("body", "status"), BAD_JSON)
def test_bad_json(live_server: Server, key: str, body: bytes, status: int):
    for path, headers in _json_routes(live_server):
        with live_server.client(key) as c:
            r = c.post(path, content=body, headers={**headers, "content-type": "application/json"})
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert {"type", "title", "status", "detail"} <= set(problem) and problem["status"] == status


@pytest.mark.parametrize(
    ("data", "status"), BAD_IMAGES, ids=["empty", "text", "truncated", "bomb", "tiny", "pdf"]
)
def test_bad_images(live_server: Server, key: str, data: bytes, status: int):
    for path, headers in _json_routes(live_server):
        with live_server.client(key) as c:
            r = c.post(path, files={"image": ("x.jpg", data, "image/jpeg")}, headers=headers)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM


def test_batch_and_feedback_bad_bodies(live_server: Server, key: str):
    with live_server.client(key) as c:
        assert (
            c.post(
                "/v1/check/batch", content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )
        assert c.post("/v1/check/batch", json={"items": []}).status_code == 422
        assert (
            c.post(
                "/v1/check/batch", json={"items": [{"hashes": [{"type": "pdq", "value": "1"}]}]}
            ).status_code
            == 422
        )
        pdq = {"type": "pdq", "value": "ab" * 32}
        for items in (
            [{"hashes": [pdq], "note": "x"}],  # an unknown field in an item
            [{"hashes": []}],
            [{"hashes": [pdq] * 65}],  # more than 64 hashes in one item
            [{"hashes": [{**pdq, "quality": 7.5}]}],
            ["not an item"],
        ):
            r = c.post("/v1/check/batch", json={"items": items})
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, items
        assert c.post("/v1/matches/1/feedback", json={"feedback": "maybe"}).status_code == 422
        assert c.post("/v1/matches/abc/feedback", json={"feedback": "blocked"}).status_code == 422


def test_oversized_body_refused_from_content_length_before_auth(live_server: Server):
    big = b"x" * (33 * 1024 * 1024)
    with live_server.client() as c:
        r = c.post("/v1/check", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


def test_wrong_content_type_is_415(live_server: Server, key: str):
    with live_server.client(key) as c:
        r = c.post("/v1/check", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.headers["content-type"] == PROBLEM


def test_multipart_without_image_field(live_server: Server, key: str):
    with live_server.client(key) as c:
        r = c.post("/v1/check", files={"photo": ("x.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 422


def test_server_keeps_serving_after_all_that(live_server: Server):
    with live_server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").status_code == 200
    assert "unhandled error" not in live_server.log_path.read_text()


# -- every route, sent hostile text (tests/hostile.py HOSTILE_TEXT) ------------------------
ADMIN = "hostile-admin"
PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NO_SUCH_ID = "987654"  # path ids of form posts: nothing is confirmed, revoked or disabled
JSON_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/cases"): {"hashes": [{"type": "pdq", "value": "ab" * 32, "quality": 90}]},
    ("POST", "/v1/cases/{case_id}/hashes"): {
        "hashes": [{"type": "pdq", "value": "ab" * 32, "quality": 90}]
    },
    ("POST", "/v1/check"): {"hashes": [{"type": "pdq", "value": "ab" * 32}]},
    ("POST", "/v1/check/batch"): {"items": [{"hashes": [{"type": "md5", "value": "ab" * 16}]}]},
    ("POST", "/v1/matches/{match_id}/feedback"): {"feedback": "blocked"},
    ("POST", "/v1/feed/feedback"): {"type": "pdq", "value": "ab" * 32, "feedback": "seen"},
    ("POST", "/v1/banks"): {"name": "hostile", "policy": "review", "description": "d"},
    ("POST", "/v1/quarantine/{signal_id}/release"): None,
    ("POST", "/v1/webhooks"): {
        "client": "hostile",
        "url": "https://93.184.215.14/hook",
        "events": ["hash.added"],
    },
    ("POST", "/v1/webhooks/{endpoint_id}/rotate"): None,
    ("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): None,
    ("POST", "/compat/stopncii/v1/SubmitFeedback"): {
        "count": 1,
        "hashFeedbacks": [{"hashValue": "ab" * 32, "feedbackValue": "Blocked", "tags": ["t"]}],
    },
    ("POST", "/compat/stopncii/v1/SubmitHashes"): {
        "count": 1,
        "hashRecords": [{"signalType": "ImagePDQ", "hashValue": "ab" * 32}],
    },
}
API = ("/v1/", "/compat/stopncii/")  # JSON routes with API keys: problem+json errors
# the query parameters of every route (the portal's and dashboard's, the API's, HMA's)
QUERY_PARAMS = ("lang", "page", "q", "after", "per", "next", "signal", "signal_type")
QUERY_PARAMS += ("include_distance", "banks", "seed", "bypass_coinflip", "url")
# StopNCII's, sent to its routes only (all of them at 5,000 characters: too long a URL)
STOPNCII_PARAMS = ("startTimestamp", "pageSize", "nextPageToken")
# the platform records' (API and dashboard), sent to their routes only
RECORD_PARAMS = ("from", "to", "client", "lang", "page")
FORM_FIELDS = [
    "back",
    "case_id",
    "description",
    "name",
    "next",
    "password",
    "pdq_threshold",
    "phash_threshold",
    "pin",
    "policy",
    "rate_limit",
    "reason",
    "role",
    "scopes",
    "username",
    "action",
]


def _app_routes() -> list[Any]:
    """Every route object of the app, through included routers."""
    import tempfile

    from app.config import Settings
    from app.main import create_app

    found: list[Any] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            else:
                found.append(route)

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/routes.db"))
        walk(app.routes)
        app.state.services.close()
    return found


def all_routes() -> list[tuple[str, str]]:
    """(METHOD, path template) of every route the app serves, dashboard included."""
    return sorted(
        {
            (method, route.path)
            for route in _app_routes()
            for method in getattr(route, "methods", None) or ()
            if method != "HEAD"
        }
    )


ROUTES = all_routes()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: the forms below may create banks, clients, users."""
    workdir = tmp_path_factory.mktemp("hostile-text")
    server = Server(workdir, fresh_database_url(workdir)).start()
    db = Database(server.database_url)
    try:
        UserService(db).create(ADMIN, PASSWORD, "admin", actor="test")
    finally:
        db.dispose()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(hostile_server: Server) -> dict[str, Any]:
    """A key with every scope, a case with its PIN, a match, and a signed-in admin."""
    key = hostile_server.create_client("hostile", "check,report,feed,admin")
    pdq = secrets.token_hex(32)
    with hostile_server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": pdq, "quality": 90}]}
        ).json()
    with hostile_server.client(key) as c:
        match = c.post("/v1/check", json={"hashes": [{"type": "pdq", "value": pdq}]}).json()
    staff = httpx.Client(base_url=hostile_server.url, timeout=60)
    token = CSRF.search(staff.get("/dashboard").text)
    assert token is not None
    r = staff.post(
        "/dashboard/login", data={"csrf": token.group(1), "username": ADMIN, "password": PASSWORD}
    )
    assert r.status_code == 303, r.text
    csrf = CSRF.search(staff.get("/dashboard").text)
    assert csrf is not None
    yield {
        "key": key,
        "case": case,
        "match_id": str(match["matches"][0]["match_id"]),
        "staff": staff,
        "csrf": csrf.group(1),
    }
    staff.close()


def _fill(path: str, world: dict[str, Any], override: dict[str, str] | None = None) -> str:
    """``path`` with its parameters filled in: real ids, unless ``override`` says otherwise."""
    values = {
        "case_id": world["case"]["case_id"],
        "match_id": world["match_id"],
        "signal_id": "1",
        "client_id": "1",
        "user_id": "1",
        "endpoint_id": "1",
        "delivery_id": "1",
        "name": "dashboard.css" if "/static/" in path else "reports",
    }
    if path.startswith("/portal/static/"):
        values["name"] = "portal.css"
    if path.startswith("/docs/static/"):
        values["name"] = "docs.js"
    if path.startswith("/dashboard/cases/"):
        values["case_id"] = "1"
    values.update(override or {})
    return re.sub(r"\{(\w+)\}", lambda m: quote(values[m.group(1)], safe=""), path)


def _mutate(value: Any, text: str) -> Any:
    """Every string of a JSON body replaced by ``text``; every number by it as a number
    when it is one, else left alone."""
    if isinstance(value, dict):
        return {k: _mutate(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, text) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(text) if text.isdigit() else value
    if isinstance(value, str):
        return text
    return value


def _send(
    server: Server, world: dict[str, Any], method: str, path: str, url: str, kind: str, text: str
) -> httpx.Response:
    """One request of ``kind`` (path, query, body) carrying ``text``."""
    headers = {"X-Case-Pin": world["case"]["pin"]}
    if path.startswith(("/v1/", "/compat/")):
        headers["Authorization"] = f"Bearer {world['key']}"
    if kind == "query":
        names = STOPNCII_PARAMS if path.startswith("/compat/stopncii/") else QUERY_PARAMS
        if "/record" in path:
            names = RECORD_PARAMS
        url += "?" + urlencode({k: text for k in names})
    args: dict[str, Any] = {}
    if method == "POST" and kind in ("path", "query", "body"):
        if path.startswith("/compat/hma/"):  # an upload: the text as the file and its name
            data = text.encode() if kind == "body" else b"not an image"
            args["files"] = {"photo": (text if kind == "body" else "a.png", data)}
        elif path.startswith(API):
            body = JSON_BODIES[(method, path)]
            if kind == "body":
                body = _mutate(body, text)
            args["content"] = json.dumps(body).encode() if body is not None else b""
            headers["content-type"] = "application/json"
        else:
            form = {k: text if kind == "body" else "x" for k in FORM_FIELDS}
            form["csrf"] = world["csrf"]
            args["data"] = form
    client = world["staff"] if path.startswith("/dashboard") else None
    if client is not None:
        return client.request(method, url, headers=headers, **args)
    with server.client() as c:
        return c.request(method, url, headers=headers, **args)


def _calls() -> list[tuple[str, str, str, str]]:
    """(method, path, kind, hostile text name) of every route."""
    out = []
    for method, path in ROUTES:
        if path == "/dashboard/logout":
            continue  # it would sign the admin out; it reads nothing but its CSRF token
        kinds = ["query"]
        if "{" in path:
            kinds.append("path")
        if method == "POST" and ((method, path) in JSON_BODIES or not path.startswith(API)):
            kinds.append("body")
        for kind in kinds:
            for name in HOSTILE_TEXT:
                out.append((method, path, kind, name))
    return out


CALLS = _calls()


@pytest.mark.parametrize(
    ("method", "path", "kind", "name"), CALLS, ids=[" ".join(c) for c in CALLS]
)
def test_every_route_refuses_hostile_text_with_a_4xx(
    hostile_server: Server, world: dict[str, Any], method: str, path: str, kind: str, name: str
):
    """NUL, integers past 32 and 64 bits and 5,000-character text in each route's path
    parameters, query string and form or JSON fields: never a 5xx, always the error shape
    of the route's kind (problem+json for the API, an HTML page for pages)."""
    text = HOSTILE_TEXT[name]
    if kind == "path":
        param = re.findall(r"\{(\w+)\}", path)
        url = _fill(path, world, {p: text for p in param})
    else:
        # pages show real rows; actions are aimed at ids that do not exist (the admin's own
        # user and key would be disabled and revoked otherwise)
        url = _fill(path, world, _ids_that_do_not_exist(path) if method == "POST" else {})
    r = _send(hostile_server, world, method, path, url, kind, text)
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code >= 400 and r.status_code != 405:
        kind_of = r.headers.get("content-type", "")
        if path.startswith(API):
            assert kind_of == PROBLEM, (r.status_code, kind_of)
        elif path.startswith("/compat/hma/"):
            assert list(r.json()) == ["message"], (r.status_code, r.text[:300])
        elif path.startswith("/dashboard") or path in ("/", "/report", "/follow"):
            assert kind_of.startswith("text/html"), (r.status_code, kind_of, r.text[:300])
    carries_nul = kind != "path" and not (
        kind == "body" and JSON_BODIES.get((method, path), 1) is None
    )
    if name == "nul" and carries_nul and r.status_code >= 400:
        # HMA's API has no 422: its routes answer 400 (docs/integrations.md)
        nul_status = 400 if path.startswith("/compat/hma/") else 422
        assert r.status_code == nul_status, (r.status_code, r.text[:300])


def _ids_that_do_not_exist(path: str) -> dict[str, str]:
    if not path.startswith("/dashboard"):
        return {}
    return {p: NO_SUCH_ID for p in ("case_id", "match_id", "signal_id", "client_id", "user_id")}


def test_nul_in_a_case_id_the_follow_form_and_the_sign_in_form_is_a_422(
    hostile_server: Server, world: dict[str, Any]
):
    """The three probes of issue 17 by name: a case id, the follow form, the sign-in form."""
    with hostile_server.client() as c:
        r = c.get("/v1/cases/HB%00X", headers={"X-Case-Pin": world["case"]["pin"]})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert r.json()["detail"] == NUL_REFUSED
        r = c.post("/follow", data={"case_id": "HB\x00X", "pin": "1234", "action": "show"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert texts("en")("js.error.invalid") in r.text  # the follow page, saying so
        token = CSRF.search(c.get("/dashboard/login").text)
        assert token is not None
        r = c.post(
            "/dashboard/login",
            data={"csrf": token.group(1), "username": "a\x00b", "password": "whatever-it-is"},
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert NUL_REFUSED in r.text


def test_nul_in_a_header_never_reaches_a_route(hostile_server: Server):
    """A raw request with a NUL in a header value: the HTTP parser refuses it (400)."""
    import socket

    for header in (
        b"X-Case-Pin: 12\x0034",
        b"Authorization: Bearer hbk_\x00",
        b"Accept-Language: e\x00n",
    ):
        with socket.create_connection(("127.0.0.1", hostile_server.port), timeout=10) as s:
            s.sendall(
                b"GET /v1/cases/HB-0000-0000-0000-0000 HTTP/1.1\r\nHost: x\r\n"
                + header
                + b"\r\n\r\n"
            )
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 4"), answer[:200]


def test_every_int_path_parameter_is_bounded_by_its_column():
    """Typed Id32/Id64 (app.web.inputs), never a bare int: a route added without a bound
    fails here rather than answer 500 to a large id."""
    from fastapi.routing import APIRoute

    int32 = {"case_id", "client_id", "user_id", "bank_id", "endpoint_id"}
    checked = 0
    for route in _app_routes():
        if not isinstance(route, APIRoute):
            continue
        for param in route.dependant.path_params + route.dependant.query_params:
            if param.field_info.annotation is not int:
                continue
            bounds = {type(m).__name__: m for m in param.field_info.metadata}
            assert "Le" in bounds and "Ge" in bounds, (route.path, param.name)
            top = INT32_MAX if param.name in int32 else INT64_MAX
            assert bounds["Le"].le <= top, (route.path, param.name, bounds["Le"].le)
            checked += 1
    assert checked >= 10


def test_a_genuine_500_and_a_413_carry_the_security_headers(hostile_server: Server):
    """A real 500 in a real server, no mock: a user row whose role the code does not know
    (as a bad restore or a hand edit of the database would leave it) fails its sign-in in
    SQLAlchemy's enum check, an error no handler expects. Its answer, written by the access
    log's last-resort handler, and the body limit's 413 both carry the headers of every
    other answer."""
    name = "broken-" + secrets.token_hex(3)
    db = Database(hostile_server.database_url)
    try:
        UserService(db).create(name, PASSWORD, "moderator", actor="test")
        with db.write() as session:
            session.execute(
                text("UPDATE app_user SET role = 'bogus' WHERE username = :u"), {"u": name}
            )
        with hostile_server.client() as c:
            token = CSRF.search(c.get("/dashboard/login").text)
            assert token is not None
            broken = c.post(
                "/dashboard/login",
                data={"csrf": token.group(1), "username": name, "password": PASSWORD},
            )
            big = c.post(
                "/v1/check",
                content=b"x" * (33 * 1024 * 1024),
                headers={"content-type": "application/json"},
            )
    finally:
        with db.write() as session:
            session.execute(
                text("UPDATE app_user SET role = 'moderator' WHERE username = :u"), {"u": name}
            )
        db.dispose()
    assert broken.status_code == 500 and broken.headers["content-type"] == PROBLEM
    assert broken.json()["request_id"] == broken.headers["x-request-id"]
    assert big.status_code == 413
    for r in (broken, big):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "unhandled error" in hostile_server.log_path.read_text()  # logged, as it should be


FORMS = [  # (action, a valid form, the fields to make hostile one at a time)
    (
        "/dashboard/clients",
        {"name": "c", "scopes": "check", "rate_limit": "10"},
        ("name", "rate_limit", "scopes"),
    ),
    (
        "/dashboard/banks",
        {"name": "b", "policy": "review", "description": "d", "pdq_threshold": "20"},
        ("name", "description", "pdq_threshold", "policy"),
    ),
    (
        "/dashboard/users",
        {"username": "u", "password": PASSWORD, "role": "moderator"},
        ("username", "password", "role"),
    ),
    ("/dashboard/settings/banks/reports", {"pdq_threshold": "20"}, ("pdq_threshold",)),
]
FORM_CALLS = [
    (action, valid, field, name)
    for action, valid, fields in FORMS
    for field in fields
    for name in HOSTILE_TEXT
]


@pytest.mark.parametrize(
    ("action", "valid", "field", "name"),
    FORM_CALLS,
    ids=[f"{a} {f} {n}" for a, _, f, n in FORM_CALLS],
)
def test_dashboard_forms_with_one_hostile_field(
    world: dict[str, Any], action: str, valid: dict[str, str], field: str, name: str
):
    """A valid form but for one field: that field's value reaches the service (and the
    database) instead of being refused for another."""
    suffix = secrets.token_hex(3)
    form = {k: v + suffix if k in ("name", "username") else v for k, v in valid.items()}
    form[field] = HOSTILE_TEXT[name]
    r = world["staff"].post(action, data={**form, "csrf": world["csrf"]})
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("text/html")
