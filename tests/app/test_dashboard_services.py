"""The dashboard's services on a real SQLite database, in process: sessions (expiry, sign-out,
disabled users), a case's timeline across pages, search, overview figures, sorted pages."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import Settings
from app.errors import Conflict, Unauthorized
from app.services.container import Services
from app.services.inputs import HashInput
from app.services.sessions import SessionService, Staff
from app.services.views import AuditFilter, Sort
from app.storage.models import DashboardSession

PASSWORD = "correct-horse-battery"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = Services.build(Settings(database_url=f"sqlite:///{tmp_path / 'dash.db'}"))
    svc.replica.load()
    svc.users.create("boss", PASSWORD, "admin", actor="test")
    svc.users.create("mod", PASSWORD, "moderator", actor="test")
    yield svc
    svc.close()


def pdq() -> str:
    return secrets.token_hex(32)


def flip(value: str, n: int) -> str:
    as_int = int(value, 16)
    for bit in range(n):
        as_int ^= 1 << (255 - bit)
    return f"{as_int:064x}"


def staff(services: Services, username: str = "mod") -> Staff:
    _, who = services.sessions.sign_in(username, PASSWORD)
    return who


def test_sessions_store_only_a_digest_and_end(services: Services):
    token, who = services.sessions.sign_in("mod", PASSWORD)
    assert who.role == "moderator" and not who.is_admin and who.actor == "user:mod"
    assert services.sessions.resolve(token) == who
    with services.db.read() as s:
        stored = s.scalars(select(DashboardSession.token_hash)).all()
    assert token not in stored and len(stored) == 1
    assert services.sessions.resolve(token + "x") is None
    assert services.sessions.resolve("") is None and services.sessions.resolve("a" * 500) is None
    services.sessions.sign_out(token)
    assert services.sessions.resolve(token) is None
    with pytest.raises(Unauthorized):
        services.sessions.sign_in("mod", "wrong password!")


def test_sessions_expire_when_idle_or_old(services: Services):
    idle = SessionService(services.db, services.users, idle=timedelta(seconds=1))
    token, _ = idle.sign_in("mod", PASSWORD)
    assert idle.resolve(token) is not None
    time.sleep(1.2)
    assert idle.resolve(token) is None
    short = SessionService(services.db, services.users, lifetime=timedelta(seconds=1))
    token, _ = short.sign_in("mod", PASSWORD)
    assert short.resolve(token) is not None
    time.sleep(1.2)
    assert short.resolve(token) is None


def test_disabling_a_user_ends_their_sessions_but_not_oneself(services: Services):
    token, _ = services.sessions.sign_in("mod", PASSWORD)
    boss = staff(services, "boss")
    mod_id = next(u.id for u in services.users.list() if u.username == "mod")
    services.admin.set_user_disabled(mod_id, True, staff=boss)
    assert services.sessions.resolve(token) is None
    with pytest.raises(Unauthorized):
        services.sessions.sign_in("mod", PASSWORD)
    with pytest.raises(Conflict):
        services.admin.set_user_disabled(boss.user_id, True, staff=boss)
    services.admin.set_user_disabled(mod_id, False, staff=boss)
    assert services.sessions.sign_in("mod", PASSWORD)


@pytest.mark.parametrize("newest_first", [True, False])
def test_timeline_pages_hold_every_event_once_in_order(services: Services, newest_first: bool):
    value = pdq()
    new = services.cases.report([HashInput("pdq", value)], actor="anonymous")
    mod = staff(services)
    case_id = (
        services.views.cases.page(
            status="pending", search=new.case_id[3:], sort=Sort("created_at"), page=1, per_page=5
        )
        .items[0]
        .id
    )
    services.review.review_case(case_id, confirm=True, staff=mod)
    for n in range(4):
        services.checks.check([HashInput("pdq", flip(value, n))], client_id=None)
    own = services.cases.authenticate(new.case_id, new.pin)
    services.cases.add_hashes(own, [HashInput("md5", "ab" * 16)], limit=100)
    for n in range(4, 7):
        services.checks.check([HashInput("pdq", flip(value, n))], client_id=None)
    services.cases.withdraw(new.case_id, new.pin)

    pages = [
        services.views.cases.detail(case_id, timeline_page=p, newest_first=newest_first, per_page=3)
        for p in (1, 2, 3)
    ]
    assert pages[0].timeline.pages == 3 and pages[0].timeline.total == 7
    events = [e for p in pages for e in p.timeline.items]
    kinds = [e.kind if e.match is None else f"d{e.match.distance}" for e in events]
    expected = ["reported", "active", "d0", "d1", "d2", "d3", "hashes_added", "d4", "d5", "d6"]
    expected.append("withdrawn")
    assert kinds == (expected[::-1] if newest_first else expected)
    times = [e.at for e in events]
    assert times == sorted(times, reverse=newest_first)
    # each page: its re-uploads plus the steps that fall between them and the next page's
    assert [len(p.timeline.items) for p in pages] == ([4, 4, 3] if newest_first else [5, 4, 2])
    assert services.views.cases.detail(case_id, timeline_page=9, per_page=3).timeline.items == []


def test_search_exact_any_status_and_near_among_matchable(services: Services):
    mod = staff(services)
    value = pdq()
    rejected = services.cases.report([HashInput("pdq", value)], actor="anonymous")
    case_id = services.views.search.find(rejected.case_id.lower()).case
    assert case_id is not None and case_id.public_id == rejected.case_id
    services.review.review_case(case_id.id, confirm=False, staff=mod, reason="not ours")

    exact = services.views.search.find(value)
    assert exact.types == ("pdq", "sha256", "video_sha256")  # 64 hex digits: any of them
    assert [(h.case_public_id, h.case_status, h.distance) for h in exact.hits] == [
        (rejected.case_id, "rejected", 0)
    ]
    near = services.views.search.find(flip(value, 5), distance=10)
    assert near.hits == []  # a rejected case's hash is not in the index

    pending = services.cases.report([HashInput("pdq", flip(value, 40))], actor="anonymous")
    near = services.views.search.find(flip(value, 45), signal_type="pdq", distance=5)
    assert [(h.case_public_id, h.distance) for h in near.hits] == [(pending.case_id, 5)]
    assert services.views.search.find("abc").message is not None
    assert services.views.search.find("zz-not-hex").message is not None
    assert services.views.search.find("ab" * 8, signal_type="md5").message is not None


def test_a_phash_typed_into_search_is_a_hash_not_a_case_id(services: Services):
    # 16 hex digits also read as a case id without its dashes: they were looked up as a
    # case ("No case HB-...") and a pHash could not be found by its value
    value = "c72990232a261166"
    new = services.cases.report([HashInput("phash", value)], actor="anonymous")
    found = services.views.search.find(value.upper())
    assert found.case is None and found.types == ("phash",)
    assert [h.case_public_id for h in found.hits] == [new.case_id]
    assert services.views.search.find(new.case_id.replace("-", " ")).case is not None


def test_overview_counts_and_top_cases(services: Services):
    mod = staff(services)
    before = services.views.statistics.overview()
    values = [pdq() for _ in range(3)]
    reports = [services.cases.report([HashInput("pdq", v)], actor="anonymous") for v in values]
    for r in reports[:2]:
        case = services.views.search.find(r.case_id).case
        assert case is not None
        services.review.review_case(case.id, confirm=True, staff=mod)
    for n in range(3):
        services.checks.check([HashInput("pdq", flip(values[1], n))], client_id=None)
    services.checks.check([HashInput("pdq", values[0])], client_id=None)
    now = services.views.statistics.overview()
    assert now.pending_cases == before.pending_cases + 1
    assert now.active_cases == before.active_cases + 2
    assert now.active_hashes == before.active_hashes + 2
    assert now.reuploads_today == now.per_day[-1][1] == before.reuploads_today + 4
    assert now.reuploads_7d >= now.reuploads_today and len(now.per_day) == 30
    assert [c.public_id for c in now.top_cases[:2]] == [reports[1].case_id, reports[0].case_id]


def test_an_upload_matching_several_hashes_is_one_reupload_attempt(services: Services):
    hashes = [
        HashInput("pdq", pdq()),
        HashInput("md5", secrets.token_hex(16)),
        HashInput("sha256", secrets.token_hex(32)),
    ]
    report = services.cases.report(hashes, actor="anonymous")
    case = services.views.search.find(report.case_id).case
    assert case is not None
    before = services.views.statistics.overview()
    assert len(services.checks.check(hashes, client_id=None).matches) == 3
    assert [len(r.matches) for r in services.checks.check_batch([hashes, hashes], None)] == [3, 3]
    now = services.views.statistics.overview()
    # one upload and three matches; the same hashes checked again by the same client (here
    # twice in one batch) are that upload re-checked: logged once more, not another attempt
    assert now.reuploads_today == before.reuploads_today + 1
    detail = services.views.cases.detail(case.id)
    assert detail.case.reuploads == 1 and detail.timeline.total == 6


def test_case_pages_are_disjoint_and_sorted(services: Services):
    for _ in range(7):
        services.cases.report([HashInput("pdq", pdq())], actor="anonymous")
    for descending in (True, False):
        sort = Sort("created_at", descending)
        pages = [
            services.views.cases.page(status=None, search=None, sort=sort, page=p, per_page=3)
            for p in (1, 2, 3)
        ]
        ids = [c.id for p in pages for c in p.items]
        assert len(ids) == len(set(ids)) == 7 and pages[0].pages == 3
        assert ids == sorted(ids, reverse=descending)


def test_audit_filters(services: Services):
    staff(services)
    everything = services.views.audit.page(AuditFilter(), newest_first=True, page=1, per_page=50)
    assert {e.action for e in everything.items} >= {"user.created", "user.login"}
    logins = services.views.audit.page(
        AuditFilter(actor="mod", action="user.login"), newest_first=True, page=1, per_page=50
    )
    assert [e.actor for e in logins.items] == ["user:mod"]
    assert "user.login" in services.views.audit.actions()
    csv = "".join(services.views.audit.csv(AuditFilter(action="user.created"), newest_first=False))
    assert csv.splitlines()[0].startswith("id,at,actor,action")
    assert len(csv.splitlines()) == 3  # header + two users


def test_a_cases_hashes_sort_by_type_and_quality(services: Services):
    items = [
        HashInput("pdq", pdq(), 70),
        HashInput("md5", "ab" * 16),
        HashInput("pdq", pdq(), 95),
        HashInput("sha256", "cd" * 32),
    ]
    new = services.cases.report(items, actor="anonymous")
    case = services.views.search.find(new.case_id).case
    assert case is not None

    def hashes(sort: Sort) -> list[tuple[str, int | None]]:
        page = services.views.cases.detail(case.id, hash_sort=sort, per_page=3).hashes
        assert page.total == 4 and len(page.items) == 3
        return [(h.type, h.quality) for h in page.items]

    assert hashes(Sort("id")) == [("pdq", 70), ("md5", None), ("pdq", 95)]
    assert hashes(Sort("type")) == [("md5", None), ("pdq", 70), ("pdq", 95)]
    assert hashes(Sort("type", descending=True)) == [("sha256", None), ("pdq", 95), ("pdq", 70)]
    assert hashes(Sort("quality", descending=True))[:2] == [("pdq", 95), ("pdq", 70)]
