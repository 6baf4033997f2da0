"""StopNCII's partner API (``/compat/stopncii/v1``) against python-threatexchange's own
client, unchanged but for its base URL: ``StopNCIIAPI`` and the ``fetch_iter`` loop of
``StopNCIISignalExchangeAPI`` HMA runs, on a live server with a bank of 10,000 imported
PDQ hashes, on SQLite and (with HASHBANK_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from threatexchange.exchanges.clients.stopncii import api
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.stop_ncii_api import (
    StopNCIICheckpoint,
    StopNCIISignalExchangeAPI,
)
from threatexchange.signal_type.pdq.signal import PdqSignal

from app.services.banks import BankEntries
from app.services.clients import ClientService
from app.services.inputs import HashInput
from app.services.users import UserService
from app.storage.db import Database
from tests.docs_blocks import Block, Page, run_block
from tests.servers import Server, fresh_database_url

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/compat/stopncii/v1"
SECTION = "You already pull StopNCII"
BANK_SIZE = 10_000
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STAFF, PASSWORD = "stopncii-admin", "correct-horse-battery"


def _pdq() -> str:
    return secrets.token_hex(32)


def client(server: Server, key: str, **keys: str) -> api.StopNCIIAPI:
    """pytx's own client, pointed at the server (its base URL is all that changes)."""
    extra = {api.StopNCIIEndpoint[name]: value for name, value in keys.items()}
    return api.StopNCIIAPI(
        subscription_key=key,
        fetch_function_key=key,
        additional_function_keys=extra,
        base_url_override=server.url + PREFIX,
    )


def exchange(server: Server, key: str) -> StopNCIISignalExchangeAPI:
    collab = CollaborationConfigBase(
        name="hashbank", api=StopNCIISignalExchangeAPI.get_name(), enabled=True
    )
    return StopNCIISignalExchangeAPI(collab, client(server, key))


def records_since(c: api.StopNCIIAPI, since: int) -> dict[str, api.StopNCIIHashRecord]:
    """The latest record of each hash value changed since ``since``, every page read."""
    return {r.hashValue: r for p in c.fetch_hashes_iter(since) for r in p.hashRecords}


def fetch_all(
    ex: StopNCIISignalExchangeAPI, checkpoint: StopNCIICheckpoint | None = None
) -> tuple[dict[tuple[str, str], Any], StopNCIICheckpoint | None, int]:
    """What HMA does with one fetch: every delta merged by pytx's own merge, the last
    checkpoint, and how many pages it took."""
    state: dict[tuple[str, str], Any] = {}
    pages = 0
    for delta in ex.fetch_iter([PdqSignal], checkpoint):
        pages += 1
        ex.naive_fetch_merge(state, delta.updates)
        checkpoint = delta.checkpoint
    return state, checkpoint, pages


def report(server: Server, *values: str) -> dict[str, str]:
    body = {"hashes": [{"type": "pdq", "value": v, "quality": 90} for v in values]}
    with server.client() as c:
        r = c.post("/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def withdraw(server: Server, case: dict[str, str]) -> None:
    with server.client() as c:
        r = c.delete(f"/v1/cases/{case['case_id']}", headers={"X-Case-Pin": case["pin"]})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def server_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("stopncii")
    server = Server(workdir, fresh_database_url(workdir)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bank(server_module: Server) -> Iterator[dict[str, Any]]:
    """10,000 PDQ hashes imported with ``hashbank import`` into the reports bank, plus
    hashes StopNCII must not see: MD5 and pHash ones, and allow-list entries; keys of
    each scope and a dashboard admin (made through the services, as the CLI would)."""
    server = server_module
    pdq = sorted({_pdq() for _ in range(BANK_SIZE)})
    lines = ["type,value,quality"] + [f"pdq,{v},100" for v in pdq]
    lines += [f"md5,{secrets.token_hex(16)}," for _ in range(20)]
    lines += [f"phash,{secrets.token_hex(8)}," for _ in range(20)]
    (server.workdir / "bank.csv").write_text("\n".join(lines) + "\n")
    server.cli("import", str(server.workdir / "bank.csv"), "--bank", "reports", "--skip-weak")
    allowed = [_pdq() for _ in range(5)]
    db = Database(server.database_url)
    try:
        BankEntries(db).add(
            "allowlist", [HashInput("pdq", v, 100) for v in allowed], actor="test", note="t"
        )
        UserService(db).create(STAFF, PASSWORD, "admin", actor="test")
        clients = ClientService(db)
        keys = {
            scope: clients.create(f"platform-{scope}", [scope], actor="test").key
            for scope in ("feed", "report", "check")
        }
    finally:
        db.dispose()
    yield {"pdq": set(pdq), "allowed": set(allowed), **keys}


def test_pytx_fetches_every_active_pdq_hash_over_several_pages(
    server_module: Server, bank: dict[str, Any]
) -> None:
    ex = exchange(server_module, bank["feed"])
    state, checkpoint, pages = fetch_all(ex)
    fetched = {value for kind, value in state if kind == "pdq"}
    assert bank["pdq"] <= fetched  # every imported PDQ hash, page by page (800 a page)
    assert pages >= BANK_SIZE // 800
    assert not bank["allowed"] & fetched  # allow-list entries never leave
    assert {kind for kind, _ in state} == {"pdq"}  # MD5 and pHash: no StopNCII name
    assert checkpoint is not None and checkpoint.update_time > 10

    # the raw records: every one Active, of a known type, no page above its size
    c = client(server_module, bank["feed"])
    token, seen = "", 0
    while True:
        page = c.fetch_hashes(page_size=1000, next_page=token)
        assert page.count == len(page.hashRecords) <= 1000
        for record in page.hashRecords:
            assert record.signalType == api.StopNCIISignalType.ImagePDQ
            if record.hashValue in bank["pdq"]:
                assert record.hashStatus == api.StopNCIICaseStatus.Active
                assert record.caseNumbers == {}  # imported: a bank's entry, no case
                seen += 1
        token = page.nextPageToken or ""
        if not page.hasMoreRecords:
            break
    assert seen == BANK_SIZE


def test_a_withdrawal_is_seen_on_the_next_incremental_fetch_and_what_pytx_does_with_it(
    server_module: Server, bank: dict[str, Any]
) -> None:
    gone, shared = _pdq(), _pdq()
    case = report(server_module, gone, shared)
    other = report(server_module, shared)  # a second victim holds the same image
    ex = exchange(server_module, bank["feed"])
    state, checkpoint, _ = fetch_all(ex)
    assert ("pdq", gone) in state and ("pdq", shared) in state

    withdraw(server_module, case)
    c = client(server_module, bank["feed"])
    assert checkpoint is not None
    page = c.fetch_hashes(start_timestamp=checkpoint.update_time)
    records = {r.hashValue: r for r in page.hashRecords}
    # the withdrawn hash appears once more, with its new status
    assert records[gone].hashStatus == api.StopNCIICaseStatus.Withdrawn
    assert set(records[gone].caseNumbers.values()) == {api.StopNCIICaseStatus.Withdrawn}
    # a hash another case still holds stays Active; its cases say which is which
    assert records[shared].hashStatus == api.StopNCIICaseStatus.Active
    assert sorted(s.value for s in records[shared].caseNumbers.values()) == [
        "Active",
        "Withdrawn",
    ]

    # what HMA keeps: pytx 1.2.x decides deletions from ``record.hashValue`` (compared
    # with the status enum: never equal), not from ``record.hashStatus``, so its merge
    # keeps the withdrawn hash. docs/integrations.md says what to use instead; this test
    # fails the day pytx drops it, so the docs get updated.
    update, _, pages = fetch_all(ex, checkpoint)
    assert pages >= 1
    assert ("pdq", gone) in update and update[("pdq", gone)] is not None
    state.update(update)
    assert ("pdq", gone) in state  # pytx still holds the withdrawn hash
    withdraw(server_module, other)

    # the next incremental fetch after that does not send it again
    later = c.fetch_hashes(start_timestamp=page.nextSetTimestamp, page_size=1000)
    values = [r.hashValue for r in later.hashRecords]
    assert shared in values and values.count(gone) <= 1


def test_submit_feedback_shows_up_in_hashbank(server_module: Server, bank: dict[str, Any]):
    since = int(time.time()) - 1  # what changed from now on: not the whole bank
    value = _pdq()
    case = report(server_module, value)
    c = client(server_module, bank["feed"], SubmitFeedback=bank["feed"])
    c.submit_feedback(
        api.StopNCIISignalType.ImagePDQ,
        value,
        api.StopNCIICSPFeedbackValue.Blocked,
        {"reviewed"},
    )
    # feedback on a hash the bank does not hold is not recorded
    c.submit_feedback(
        api.StopNCIISignalType.ImagePDQ, _pdq(), api.StopNCIICSPFeedbackValue.NotBlocked
    )
    # the platform sees its own feedback in its records
    records = records_since(c, since)
    (feedback,) = records[value].CSPFeedbacks
    assert feedback.feedbackValue == api.StopNCIICSPFeedbackValue.Blocked
    assert feedback.tags == {"reviewed"} and feedback.source == "platform-feed"
    # another platform does not see it
    other = server_module.create_client(f"other-{secrets.token_hex(3)}", "feed")
    theirs = {
        r.hashValue: r
        for p in client(server_module, other).fetch_hashes_iter(start_timestamp=since)
        for r in p.hashRecords
    }
    assert theirs[value].CSPFeedbacks == []

    # the moderators see it on the case's page, beside the hash
    staff = _sign_in(server_module)
    r = staff.get("/dashboard/search", params={"q": case["case_id"]}, follow_redirects=True)
    assert r.status_code == 200, r.text
    row = next(line for line in r.text.splitlines() if value in line)
    assert "Blocked by platform-feed (reviewed)" in row
    staff.close()


def _sign_in(server: Server) -> httpx.Client:
    staff = httpx.Client(base_url=server.url, timeout=60)
    token = CSRF.search(staff.get("/dashboard/login").text)
    assert token is not None
    r = staff.post(
        "/dashboard/login",
        data={"csrf": token.group(1), "username": STAFF, "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    return staff


def test_submit_hashes_needs_the_report_scope_and_makes_a_pending_case(
    server_module: Server, bank: dict[str, Any]
) -> None:
    since = int(time.time()) - 1  # what changed from now on: not the whole bank
    value = _pdq()
    refused = client(server_module, bank["feed"], SubmitHashes=bank["feed"])
    with pytest.raises(requests.HTTPError) as err:
        refused.submit_hash(api.StopNCIISignalType.ImagePDQ, value)
    assert err.value.response.status_code == 403

    # pytx sends str() of its enum as signalType ("StopNCIISignalType.ImagePDQ")
    c = client(server_module, bank["feed"], SubmitHashes=bank["report"])
    c.submit_hash(api.StopNCIISignalType.ImagePDQ, value)
    records = records_since(c, since)
    assert records[value].hashStatus == api.StopNCIICaseStatus.Active  # reports bank: block
    assert list(records[value].caseNumbers.values()) == [api.StopNCIICaseStatus.Active]
    assert records[value].CSPFeedbacks == []  # the report key's feedback: not the feed's
    with server_module.client(bank["check"]) as check:
        answer = check.post("/v1/check", json={"hashes": [{"type": "pdq", "value": value}]})
    assert answer.json()["action"] == "review"  # pending: it reviews, as any report

    # a key with both scopes sees its own word on what it submitted (pytx: Blocked)
    both = server_module.create_client(f"both-{secrets.token_hex(3)}", "feed,report")
    mine = _pdq()
    c = client(server_module, both, SubmitHashes=both)
    c.submit_hash(api.StopNCIISignalType.ImagePDQ, mine, tags={"csam-free"})
    records = records_since(c, since)
    (feedback,) = records[mine].CSPFeedbacks
    assert feedback.feedbackValue == api.StopNCIICSPFeedbackValue.Blocked
    assert feedback.tags == {"csam-free"}


def test_case_numbers_are_opaque_tokens_not_case_ids(
    server_module: Server, bank: dict[str, Any]
) -> None:
    since = int(time.time()) - 1  # what changed from now on: not the whole bank
    a, b, c_ = _pdq(), _pdq(), _pdq()
    first = report(server_module, a, b)
    second = report(server_module, c_)
    c = client(server_module, bank["feed"])
    records = records_since(c, since)
    (token_a,) = records[a].caseNumbers
    (token_b,) = records[b].caseNumbers
    (token_c,) = records[c_].caseNumbers
    assert token_a == token_b != token_c  # one token per case: hashes of it belong together
    for token in (token_a, token_c):
        assert re.fullmatch(r"[0-9a-f]{32}", token)
        for case in (first, second):
            public = case["case_id"]
            assert public not in token and public.replace("-", "") not in token.upper()
    # the same token as the feed's group, and nothing a case id could be rebuilt from
    groups = {i["group"] for i in server_module.feed(bank["feed"]) if i.get("value") == a}
    assert groups == {token_a}


def test_authentication_is_the_same_as_v1(server_module: Server, bank: dict[str, Any]):
    url = PREFIX + "/FetchHashes"
    params = {"pageSize": 1}
    with server_module.client() as c:
        assert c.get(url, params=params).status_code == 401
        r = c.get(url, params=params, headers={"x-functions-key": "hbk_wrong"})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert (
            c.get(url, params=params, headers={"x-functions-key": bank["check"]}).status_code == 403
        )
        for headers in (
            {"x-functions-key": bank["feed"]},
            {"x-functions-key": bank["feed"], "Ocp-Apim-Subscription-Key": "anything"},
            {"Ocp-Apim-Subscription-Key": bank["feed"]},
            {"Authorization": f"Bearer {bank['feed']}"},
        ):
            assert c.get(url, params=params, headers=headers).status_code == 200, headers
        body = {"count": 1, "hashFeedbacks": [{"hashValue": _pdq(), "feedbackValue": "Blocked"}]}
        r = c.post(
            PREFIX + "/SubmitFeedback", json=body, headers={"x-functions-key": bank["report"]}
        )
        assert r.status_code == 403
        r = c.post(
            PREFIX + "/SubmitHashes",
            json={"hashRecords": [{"signalType": "ImagePDQ", "hashValue": _pdq()}]},
            headers={"x-functions-key": bank["check"]},
        )
        assert r.status_code == 403


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"pageSize": 0}, 422),
        ({"pageSize": 1001}, 422),
        ({"pageSize": "ten"}, 422),
        ({"startTimestamp": -1}, 422),
        ({"startTimestamp": 10**15}, 422),
        ({"nextPageToken": "junk"}, 400),
        ({"nextPageToken": "1.2.0123456789abcdef"}, 400),
        ({"nextPageToken": "9" * 30 + ".1.0123456789abcdef"}, 400),
        ({"nextPageToken": "x" * 101}, 422),
    ],
)
def test_bad_fetch_parameters(server_module: Server, bank: dict[str, Any], params, status):
    with server_module.client() as c:
        r = c.get(PREFIX + "/FetchHashes", params=params, headers={"x-functions-key": bank["feed"]})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_a_forged_page_token_is_refused(server_module: Server, bank: dict[str, Any]):
    c = client(server_module, bank["feed"])
    token = c.fetch_hashes(page_size=5).nextPageToken
    assert token
    seq, checkpoint, mac = token.split(".")
    forged = f"{int(seq) + 1}.{checkpoint}.{mac}"
    with pytest.raises(requests.HTTPError) as err:
        c.fetch_hashes(page_size=5, next_page=forged)
    assert err.value.response.status_code == 400
    assert c.fetch_hashes(page_size=5, next_page=token).count == 5  # the real one resumes


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("SubmitFeedback", b"{not json", 400),
        ("SubmitFeedback", b'{"hashFeedbacks": []}', 422),
        (
            "SubmitFeedback",
            b'{"hashFeedbacks": [{"hashValue": "ab", "feedbackValue": "Blocked"}]}',
            422,
        ),
        (
            "SubmitFeedback",
            b'{"hashFeedbacks": [{"hashValue": "' + b"ab" * 32 + b'", "feedbackValue": "Liked"}]}',
            422,
        ),
        (
            "SubmitFeedback",
            b'{"hashFeedbacks": [{"hashValue": "'
            + b"ab" * 32
            + b'", "feedbackValue": "Blocked", "tags": "x"}]}',
            422,
        ),
        ("SubmitHashes", b'{"hashRecords": [{"signalType": "Text", "hashValue": "hello"}]}', 422),
        (
            "SubmitHashes",
            b'{"hashRecords": [{"signalType": "ImagePDQ", "hashValue": "' + b"0" * 64 + b'"}]}',
            422,
        ),
        ("SubmitHashes", b'{"hashRecords": [{"signalType": "ImagePDQ", "hashValue": "zz"}]}', 422),
        ("SubmitHashes", b'{"hashRecords": {}}', 422),
        (
            "SubmitHashes",
            b'{"hashRecords": [{"signalType": "ImagePDQ", "hashValue": "a\\u0000"}]}',
            422,
        ),
    ],
)
def test_bad_bodies(server_module: Server, bank: dict[str, Any], route, body, status):
    key = bank["report"] if route == "SubmitHashes" else bank["feed"]
    with server_module.client() as c:
        r = c.post(
            f"{PREFIX}/{route}",
            content=body,
            headers={"x-functions-key": key, "content-type": "application/json"},
        )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_the_integration_guide_runs_as_written(server_factory: Any, tmp_path: Path) -> None:
    """docs/integrations.md's StopNCII section, as written: its ``hashbank`` command makes
    the key, its Python fetches the bank with pytx's client, its shell commands run pytx's
    CLI (fetch, then match a reported hash); a withdrawn hash is gone from the Python's copy
    and (pytx 1.2.x) still matches in the CLI, as the section says."""
    page = Page.read(REPO / "docs" / "integrations.md")
    assert page.unmarked(SECTION) == []
    assert [b.name for b in page.tested(SECTION)] == [
        "stopncii-key",
        "stopncii-python",
        "stopncii-cli",
    ]
    server = server_factory()
    (create,) = page.block("stopncii-key").code.strip().splitlines()
    made = server.cli(*shlex.split(create)[1:])
    key = re.search(r"hbk_[A-Za-z0-9_-]+", made.stdout + made.stderr)
    assert key is not None, made.stdout
    value, gone = _pdq(), _pdq()
    report(server, value)
    withdrawn = report(server, gone)
    env = {
        "HASHBANK_URL": server.url,
        "HASHBANK_FEED_KEY": key[0],
        "PDQ": value,
        "HOME": str(tmp_path),
    }
    python, cli = page.block("stopncii-python"), page.block("stopncii-cli")
    run = run_block(python, cwd=tmp_path, env=env)
    found = re.search(r"^active hashes: (\d+)$", run.stdout, re.M)
    assert found is not None and int(found[1]) == 2, run.stdout
    shell = run_block(cli, cwd=tmp_path, env=env, timeout=300)
    assert re.search(r"^pdq 0 \(hashbank\) INVESTIGATION_SEED", shell.stdout, re.M), shell.stdout

    withdraw(server, withdrawn)
    run = run_block(python, cwd=tmp_path, env=env)
    assert re.search(r"^active hashes: 1$", run.stdout, re.M), run.stdout
    # pytx 1.2.x's own fetch keeps the withdrawn hash: it still matches in the CLI
    fetch_again = "\n".join(line for line in cli.code.splitlines() if "collab edit" not in line)
    again = Block(cli.name, cli.lang, fetch_again, cli.line, cli.section)
    shell = run_block(again, cwd=tmp_path, env={**env, "PDQ": gone}, timeout=300)
    assert re.search(r"^pdq 0 \(hashbank\)", shell.stdout, re.M), shell.stdout
