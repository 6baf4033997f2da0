"""Retention and governance (docs/privacy.md): the purge of old matches and audit events, the
erasure of closed cases' hashes, the periodic re-review of active cases; in process on a
database of the suite's kind (SQLite, or PostgreSQL in CI's second pass), through the
command line, and by a running server on its own."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, inspect, select, text, update

from app.config import Settings
from app.errors import Conflict, InvalidInput
from app.services.container import Services
from app.services.inputs import HashInput
from app.storage.models import AuditEvent, Case, Change, Match, MatchReview, utcnow
from tests.servers import Server, eventually, fresh_database_url


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = Services.build(Settings(database_url=fresh_database_url(tmp_path)))
    svc.replica.load()
    yield svc
    svc.close()


def _pdq() -> str:
    return secrets.token_hex(32)


def _report(svc: Services, *values: str) -> tuple[str, str]:
    new = svc.cases.report([HashInput("pdq", v) for v in values], actor="anonymous")
    svc.replica.sync()
    return new.case_id, new.pin


def _check(svc: Services, value: str) -> list[int]:
    result = svc.checks.check([HashInput("pdq", value)], client_id=None)
    return [m.match_id for m in result.matches]


def _all_text(url: str) -> str:
    """Every row of every table as text (SQLite and PostgreSQL alike)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return "\n".join(
                repr(row)
                for t in inspect(conn).get_table_names()
                for row in conn.execute(text(f'SELECT * FROM "{t}"'))
            )
    finally:
        engine.dispose()


def _audit(svc: Services, action: str) -> list[AuditEvent]:
    with svc.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_defaults_and_the_quarantine_window_bound():
    s = Settings()
    assert (s.match_retention_days, s.audit_retention_days) == (180, 730)
    assert (s.closed_case_retention_days, s.review_after_days) == (30, 365)
    assert s.purge_interval_seconds == 3600
    with pytest.raises(ValidationError, match="QUARANTINE_WINDOW"):
        Settings(match_retention_days=1, quarantine_window_seconds=2 * 86_400)
    Settings(match_retention_days=0, quarantine_window_seconds=2 * 86_400)  # 0 keeps forever


def test_old_matches_and_audit_events_are_purged(services: Services):
    value = _pdq()
    _report(services, value)
    kept_for_review, *plain = [_check(services, value)[0] for _ in range(3)]
    with services.db.write() as s:  # a platform said false positive: it awaits a moderator
        s.execute(
            update(Match).where(Match.id == kept_for_review).values(review=MatchReview.PENDING)
        )
    first = services.retention.purge(actor="test")  # nothing is old yet
    assert first.removed == 0 and _audit(services, "retention.purged") == []

    later = utcnow() + timedelta(days=181)
    result = services.retention.purge(actor="test", now=later)
    assert result.matches == 3 - 1 and result.audit_events == 0
    with services.db.read() as s:
        assert s.scalars(select(Match.id)).all() == [kept_for_review]
        case = s.scalars(select(Case)).one()
    # the counters a victim sees are not personal data: kept (three checks of the same
    # upload by the same client: one re-upload attempt)
    assert case.match_count == 1
    (event,) = _audit(services, "retention.purged")
    detail = json.loads(event.detail)
    assert event.actor == "test" and detail["matches"] == 2 and "before_matches" in detail

    much_later = utcnow() + timedelta(days=731)
    result = services.retention.purge(actor="test", now=much_later)
    assert result.audit_events >= 2  # the report's and the first purge's events
    actions = {e.action for e in _audit(services, "retention.purged")}
    assert actions == {"retention.purged"}  # the purge's own record of this run stays
    with services.db.read() as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "case.reported")) is None


def test_zero_keeps_everything(tmp_path: Path):
    url = fresh_database_url(tmp_path)
    svc = Services.build(
        Settings(
            database_url=url,
            match_retention_days=0,
            audit_retention_days=0,
            closed_case_retention_days=0,
            review_after_days=0,
        )
    )
    try:
        svc.replica.load()
        value = _pdq()
        case_id, pin = _report(svc, value)
        _check(svc, value)
        svc.cases.withdraw(case_id, pin)
        result = svc.retention.purge(actor="test", now=utcnow() + timedelta(days=10_000))
        assert result.removed == 0 and result.review_due == 0
        assert svc.retention.due(now=utcnow() + timedelta(days=10_000)) == []
        assert value in _all_text(url)
    finally:
        svc.close()


def test_closed_cases_hashes_are_erased_everywhere(services: Services):
    withdrawn, rejected, active = [_pdq(), _pdq()], [_pdq()], [_pdq()]
    w_id, w_pin = _report(services, *withdrawn)
    r_id, _ = _report(services, *rejected)
    a_id, a_pin = _report(services, *active)
    for v in withdrawn + rejected + active:
        assert _check(services, v)
    services.cases.withdraw(w_id, w_pin)
    services.cases.review(r_id, confirm=False, actor="user:mod", reason="not intimate")
    services.cases.review(a_id, confirm=True, actor="user:mod")

    assert services.retention.purge(actor="test", now=utcnow() + timedelta(days=29)).removed == 0
    result = services.retention.purge(actor="test", now=utcnow() + timedelta(days=31))
    assert (result.erased_cases, result.erased_hashes, result.erased_matches) == (2, 3, 3)

    everything = _all_text(services.db.url)
    for value in withdrawn + rejected:
        assert value not in everything
    assert active[0] in everything
    with services.db.read() as s:
        tombstones = s.scalars(select(Change).where(Change.value.is_(None))).all()
    assert len([c for c in tombstones if str(c.op) == "remove"]) == 3
    # a platform following the feed still learns to remove them, without their values
    page = services.feed.page(0, 1000)
    removed = [i for i in page.items if i.op == "remove"]
    assert len(removed) == 3 and all(i.value is None for i in removed)
    assert [i.value for i in page.items if i.op == "add"] == active
    # the reporter can still follow the withdrawn case; the active case still protects
    assert services.cases.status(w_id, w_pin).status == "withdrawn"
    assert _check(services, active[0])
    assert {e.object_id for e in _audit(services, "case.erased")} == {w_id, r_id}
    again = services.retention.purge(actor="test", now=utcnow() + timedelta(days=31))
    assert again.erased_cases == 0


def test_platform_feedback_on_hashes_is_erased_with_them(services: Services):
    """StopNCII's SubmitFeedback stores a hash value with a platform's word on it: it goes
    when the last hash of that value is erased, and FetchHashes no longer names the value."""
    from app.services.stopncii import HashFeedbackIn

    withdrawn, kept = _pdq(), _pdq()
    w_id, w_pin = _report(services, withdrawn)
    _report(services, kept)
    platform = services.clients.create("platform", ["feed"], actor="test").client
    recorded = services.stopncii.submit_feedback(
        [HashFeedbackIn(withdrawn, "Blocked", ["x"]), HashFeedbackIn(kept, "NotBlocked")],
        client_id=platform.id,
        client_name=platform.name,
    )
    assert recorded == 2
    services.cases.withdraw(w_id, w_pin)
    result = services.retention.purge(actor="test", now=utcnow() + timedelta(days=31))
    assert result.erased_hashes == 1

    everything = _all_text(services.db.url)
    assert withdrawn not in everything
    assert kept in everything and "NotBlocked" in everything
    page = services.stopncii.fetch(10, 1000, None, client_id=platform.id)
    assert [r.hashValue for r in page.hashRecords] == [kept]
    assert page.hashRecords[0].CSPFeedbacks[0]["feedbackValue"] == "NotBlocked"


def _age(svc: Services, case_id: str, days: int) -> None:
    """Move a case's report and review ``days`` into the past (arranging the data)."""
    past = utcnow() - timedelta(days=days)
    with svc.db.write() as s:
        s.execute(
            update(Case)
            .where(Case.public_id == case_id)
            .values(created_at=past, reviewed_at=past, updated_at=past)
        )


def test_old_active_cases_come_up_for_re_review(services: Services):
    old, older, fresh, pending = (_report(services, _pdq())[0] for _ in range(4))
    for case_id in (old, older, fresh):
        services.cases.review(case_id, confirm=True, actor="user:mod")
    _age(services, old, 400)
    _age(services, older, 500)
    _age(services, pending, 900)  # pending cases are in the review queue already
    due = services.retention.due()
    assert [d.case_id for d in due] == [older, old]
    assert due[0].last_reviewed_by == "user:mod"
    assert services.retention.count_due() == 2

    kept = services.cases.rereview(old, keep=True, actor="user:boss", reason="still online")
    assert kept.status == "active"
    with pytest.raises(InvalidInput, match="reason"):
        services.cases.rereview(older, keep=False, actor="user:boss")
    with services.db.read() as s:
        older_value = s.execute(
            text(
                "SELECT value FROM signal s JOIN case_report c ON c.id = s.case_id "
                "WHERE c.public_id = :p"
            ),
            {"p": older},
        ).scalar_one()
    assert _check(services, older_value)
    rejected = services.cases.rereview(older, keep=False, actor="user:boss", reason="consent")
    assert rejected.status == "rejected"
    services.replica.sync()
    assert _check(services, older_value) == []
    assert services.retention.due() == []
    with pytest.raises(Conflict):
        services.cases.rereview(pending, keep=True, actor="user:boss")
    (event,) = _audit(services, "case.rereviewed")
    assert (event.object_id, event.actor) == (old, "user:boss")
    assert json.loads(event.detail) == {"reason": "still online"}
    assert [e.object_id for e in _audit(services, "case.rejected")] == [older]


def test_purge_and_rereview_on_the_command_line(server_factory, tmp_path: Path):
    server: Server = server_factory(start=False, extra_env={"HASHBANK_REVIEW_AFTER_DAYS": "30"})
    settings = Settings(database_url=server.database_url)
    svc = Services.build(settings)
    try:
        svc.replica.load()
        case_id, _ = _report(svc, _pdq())
        svc.cases.review(case_id, confirm=True, actor="user:mod")
        _age(svc, case_id, 45)
    finally:
        svc.close()
    out = json.loads(server.cli("purge", "--json").stdout)
    assert out["review_due"] == 1 and out["matches"] == 0
    listed = [
        json.loads(line) for line in server.cli("rereview", "list", "--json").stdout.splitlines()
    ]
    assert [d["case_id"] for d in listed] == [case_id]
    kept = server.cli("rereview", "keep", case_id, "--by", "alice", "--reason", "checked")
    assert f"{case_id}: active" in kept.stdout
    assert server.cli("rereview", "list").stdout == ""
    missing = server.cli(
        "rereview", "reject", "HB-0000-0000-0000-0000", "--by", "a", "--reason", "x", check=False
    )
    assert missing.returncode == 1 and "no case" in missing.stderr


def test_a_running_server_purges_on_its_own(server_factory):
    server: Server = server_factory(extra_env={"HASHBANK_PURGE_INTERVAL_SECONDS": "1"})
    value = _pdq()
    with server.client() as c:
        case = c.post(
            "/v1/cases", json={"hashes": [{"type": "pdq", "value": value, "quality": 90}]}
        ).json()
        pin = {"X-Case-Pin": case["pin"]}
        assert c.delete(f"/v1/cases/{case['case_id']}", headers=pin).status_code == 200
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as conn:  # withdrawn 31 days ago
            conn.execute(
                update(Case)
                .where(Case.public_id == case["case_id"])
                .values(withdrawn_at=utcnow() - timedelta(days=31))
            )

        def erased() -> bool:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(AuditEvent.actor).where(AuditEvent.action == "case.erased")
                ).all()
            return [tuple(r) for r in rows] == [("system:retention",)]

        eventually(erased, timeout=20)
    finally:
        engine.dispose()
    assert value not in _all_text(server.database_url)
    with server.client() as c:
        r = c.get(f"/v1/cases/{case['case_id']}", headers=pin)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
