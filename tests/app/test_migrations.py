"""Migrations 0006 (client.exact_distances, bank.phash_block), 0007 (the deployment's
secrets), 0008 (bank thresholds as rows) and 0009 (hash_feedback, the change log's time
index), 0011 (webhooks), 0010 (videos), 0013 (match events) and 0014 (videos in parts)
go up and down with data in place, on SQLite
and (with HASHBANK_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from app.storage.db import MIGRATIONS
from tests.servers import fresh_database_url


def _run(url: str, step: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
            cfg.attributes["connection"] = conn
            getattr(command, step)(cfg, revision)
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_0006_up_and_down_keeps_clients_and_banks(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0005")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO client (name, key_hash, key_prefix, scopes, created_at) "
                "VALUES ('old', :h, 'hb_x', 'check', CURRENT_TIMESTAMP)"
            ),
            {"h": "a" * 64},
        )
        conn.execute(
            text(
                "INSERT INTO bank (name, policy, description, created_at) "
                "VALUES ('old-bank', 'block', '', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()

    _run(url, "upgrade", "0006")
    engine = create_engine(url)
    with engine.connect() as conn:
        client = conn.execute(text("SELECT name, exact_distances FROM client")).one()
        bank = conn.execute(
            text("SELECT phash_block FROM bank WHERE name = 'old-bank'")
        ).scalar_one()
    engine.dispose()
    assert client[0] == "old" and not client[1]  # existing clients get bands
    assert not bank  # existing banks: pHash-only matches answer review

    _run(url, "downgrade", "0005")
    assert "exact_distances" not in _columns(url, "client")
    assert "phash_block" not in _columns(url, "bank")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM client")).scalars().all() == ["old"]
        assert "old-bank" in conn.execute(text("SELECT name FROM bank")).scalars().all()
    engine.dispose()
    _run(url, "upgrade", "head")
    assert "exact_distances" in _columns(url, "client")


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _secret(url: str) -> bytes:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(
                text("SELECT value FROM deployment_secret WHERE name = 'feed_group'")
            ).scalar_one()
            return bytes(value)
    finally:
        engine.dispose()


def test_0007_makes_one_random_secret_and_goes_down_cleanly(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0006")
    assert "deployment_secret" not in _tables(url)
    _run(url, "upgrade", "0007")
    first = _secret(url)
    assert len(first) == 32 and first != bytes(32)
    _run(url, "downgrade", "0006")
    assert "deployment_secret" not in _tables(url)
    _run(url, "upgrade", "head")
    assert _secret(url) != first  # a new deployment secret each time the table is made


def _varchar_length(url: str, table: str, column: str) -> int | None:
    engine = create_engine(url)
    try:
        (col,) = [c for c in inspect(engine).get_columns(table) if c["name"] == column]
        return getattr(col["type"], "length", None)
    finally:
        engine.dispose()


def test_0008_moves_bank_thresholds_into_rows_and_back(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0007")
    engine = create_engine(url)
    with engine.begin() as conn:
        for name, pdq, phash in (("both", 20, 6), ("pdq-only", 0, None), ("none", None, None)):
            conn.execute(
                text(
                    "INSERT INTO bank (name, policy, description, pdq_threshold, "
                    "phash_threshold, created_at) VALUES (:n, 'block', '', :p, :h, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"n": name, "p": pdq, "h": phash},
            )
    engine.dispose()

    _run(url, "upgrade", "0008")
    assert {"pdq_threshold", "phash_threshold"} & _columns(url, "bank") == set()
    engine = create_engine(url)
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT b.name, t.signal_type, t.threshold FROM bank_threshold t "
                "JOIN bank b ON b.id = t.bank_id ORDER BY b.name, t.signal_type"
            )
        ).all()
        # a plug-in's type, with a name longer than the old 8 characters, fits everywhere
        conn.execute(
            text(
                "INSERT INTO bank_threshold (bank_id, signal_type, threshold) "
                "SELECT id, 'a_long_plugin_type', 3 FROM bank WHERE name = 'none'"
            )
        )
    engine.dispose()
    # lossless, 0 included (a bank that matches only the very hash)
    assert [tuple(r) for r in rows] == [
        ("both", "pdq", 20),
        ("both", "phash", 6),
        ("pdq-only", "pdq", 0),
    ]
    if not url.startswith("sqlite"):  # SQLite does not keep VARCHAR lengths
        assert _varchar_length(url, "signal", "type") == 32
        assert _varchar_length(url, "match", "signal_type") == 32

    _run(url, "downgrade", "0007")
    assert "bank_threshold" not in _tables(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        back = conn.execute(
            text(
                "SELECT name, pdq_threshold, phash_threshold FROM bank "
                "WHERE name IN ('both', 'none', 'pdq-only') ORDER BY name"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in back] == [
        ("both", 20, 6),
        ("none", None, None),
        ("pdq-only", 0, None),
    ]
    if not url.startswith("sqlite"):
        assert _varchar_length(url, "signal", "type") == 8
    _run(url, "upgrade", "head")
    assert "bank_threshold" in _tables(url)


def _indexes(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {str(i["name"]) for i in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_0009_adds_hash_feedback_and_the_change_log_time_index_and_back(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0008")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO client (name, key_hash, key_prefix, scopes, created_at) "
                "VALUES ('platform', :h, 'hb_x', 'feed', CURRENT_TIMESTAMP)"
            ),
            {"h": "b" * 64},
        )
        conn.execute(
            text(
                "INSERT INTO change_log (at, op, signal_id, bank_id, signal_type, value, status) "
                "VALUES (CURRENT_TIMESTAMP, 'add', 1, 1, 'pdq', :v, 'bank')"
            ),
            {"v": "ab" * 32},
        )
    engine.dispose()

    _run(url, "upgrade", "0009")
    assert "ix_change_at" in _indexes(url, "change_log")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO hash_feedback (client_id, signal_type, value, feedback, tags, at) "
                "SELECT id, 'pdq', :v, 'Blocked', '[\"t\"]', CURRENT_TIMESTAMP FROM client"
            ),
            {"v": "ab" * 32},
        )
        stored = conn.execute(text("SELECT feedback, tags FROM hash_feedback")).one()
        log = conn.execute(text("SELECT value FROM change_log")).scalars().all()
    engine.dispose()
    assert tuple(stored) == ("Blocked", '["t"]')
    assert log == ["ab" * 32]  # the change log is untouched, only indexed

    _run(url, "downgrade", "0008")
    assert "hash_feedback" not in _tables(url)
    assert "ix_change_at" not in _indexes(url, "change_log")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM client")).scalars().all() == ["platform"]
        assert conn.execute(text("SELECT count(*) FROM change_log")).scalar_one() == 1
    engine.dispose()
    _run(url, "upgrade", "head")
    assert "hash_feedback" in _tables(url)


def test_0011_adds_webhooks_and_their_key_and_back(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0009")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO client (name, key_hash, key_prefix, scopes, created_at) "
                "VALUES ('platform', :h, 'hb_x', 'feed', CURRENT_TIMESTAMP)"
            ),
            {"h": "c" * 64},
        )
    engine.dispose()

    _run(url, "upgrade", "0011")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhook_endpoint (client_id, url, events, secret, cursor, created_at)"
                " SELECT id, 'https://example.org/h', 'hash.added', :s, 7, CURRENT_TIMESTAMP"
                " FROM client"
            ),
            {"s": b"sealed"},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_delivery (endpoint_id, first_seq, last_seq, events, status,"
                " attempts, created_at, last_error)"
                " SELECT id, 1, 7, 3, 'dead', 12, CURRENT_TIMESTAMP, 'HTTP 500'"
                " FROM webhook_endpoint"
            )
        )
        key = conn.execute(
            text("SELECT value FROM deployment_secret WHERE name = 'webhook_key'")
        ).scalar_one()
        stored = conn.execute(
            text(
                "SELECT e.cursor, d.status, d.attempts FROM webhook_delivery d"
                " JOIN webhook_endpoint e ON e.id = d.endpoint_id"
            )
        ).one()
    engine.dispose()
    assert len(bytes(key)) == 32
    assert tuple(stored) == (7, "dead", 12)

    _run(url, "downgrade", "0012")
    assert "webhook_endpoint" not in _tables(url)
    assert "webhook_delivery" not in _tables(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM deployment_secret")).scalars().all()
        assert conn.execute(text("SELECT name FROM client")).scalars().all() == ["platform"]
    engine.dispose()
    assert names == ["feed_group"]  # the feed's key is untouched
    _run(url, "upgrade", "head")
    assert {"webhook_endpoint", "webhook_delivery"} <= set(_tables(url))


def test_0010_adds_long_values_frame_times_and_video_settings_and_back(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0011")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bank (name, policy, description, created_at) "
                "VALUES ('old-bank', 'block', '', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO signal (bank_id, type, value, created_at) "
                "SELECT id, 'pdq', :v, CURRENT_TIMESTAMP FROM bank WHERE name = 'old-bank'"
            ),
            {"v": "ab" * 32},
        )
    engine.dispose()

    _run(url, "upgrade", "0010")
    assert {"body", "seconds"} <= _columns(url, "signal")
    assert "seconds" in _columns(url, "change_log")
    assert {"video_start", "video_end"} <= _columns(url, "match")
    engine = create_engine(url)
    with engine.begin() as conn:
        bank = conn.execute(
            text(
                "SELECT video_quality_floor, video_match_percent, image_in_video, "
                "video_has_image, video_image_seconds FROM bank WHERE name = 'old-bank'"
            )
        ).one()
        old = conn.execute(text("SELECT value, body, seconds FROM signal")).one()
        conn.execute(
            text(
                "INSERT INTO signal (bank_id, type, value, body, created_at) "
                "SELECT id, 'vpdq', :d, :b, CURRENT_TIMESTAMP FROM bank WHERE name = 'old-bank'"
            ),
            {"d": "cd" * 32, "b": '["' + "ab" * 32 + ',100,0.0"]'},
        )
        conn.execute(
            text(
                "INSERT INTO signal (bank_id, type, value, seconds, created_at) "
                "SELECT id, 'pdq', :v, 12.0, CURRENT_TIMESTAMP FROM bank WHERE name = 'old-bank'"
            ),
            {"v": "ef" * 32},
        )
    engine.dispose()
    assert tuple(bank) == (50, 80, True, True, 2)  # vPDQ's defaults, both directions on
    assert tuple(old) == ("ab" * 32, None, None)

    _run(url, "downgrade", "0011")
    assert {"body", "seconds"} & _columns(url, "signal") == set()
    assert "video_quality_floor" not in _columns(url, "bank")
    assert "video_start" not in _columns(url, "match")
    engine = create_engine(url)
    with engine.connect() as conn:
        # the long value is gone (its digest means nothing before 0010), the PDQ hashes stay
        values = conn.execute(text("SELECT value FROM signal ORDER BY id")).scalars().all()
    engine.dispose()
    assert values == ["ab" * 32, "ef" * 32]
    _run(url, "upgrade", "head")
    assert "body" in _columns(url, "signal")


def test_0013_adds_match_events_to_the_change_log_and_back(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0010")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO change_log (at, op, signal_id, signal_type, value, status) "
                "VALUES (CURRENT_TIMESTAMP, 'add', 1, 'pdq', :v, 'active')"
            ),
            {"v": "ab" * 32},
        )
    engine.dispose()

    _run(url, "upgrade", "0013")
    assert "match_id" in _columns(url, "change_log")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO change_log (at, op, signal_id, signal_type, value, status, match_id)"
                " VALUES (CURRENT_TIMESTAMP, 'match', 1, 'pdq', :v, 'confirmed', 9)"
            ),
            {"v": "ab" * 32},
        )
        kept = conn.execute(text("SELECT op, match_id FROM change_log ORDER BY seq")).all()
    engine.dispose()
    assert [tuple(r) for r in kept] == [("add", None), ("match", 9)]

    _run(url, "downgrade", "0010")
    assert "match_id" not in _columns(url, "change_log")
    engine = create_engine(url)
    with engine.connect() as conn:
        ops = conn.execute(text("SELECT op FROM change_log")).scalars().all()
    engine.dispose()
    assert ops == ["add"]  # the confirmation is gone, the hash's change stays
    _run(url, "upgrade", "head")
    assert "match_id" in _columns(url, "change_log")


def test_0014_adds_the_video_key_of_parts_and_back(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    _run(url, "upgrade", "0013")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bank (name, policy, description, created_at) "
                "VALUES ('parts-bank', 'block', '', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO case_report (public_id, pin_hash, status, created_at, updated_at, "
                "failed_pins, signal_count, match_count, blocked_count) "
                "VALUES ('HB-TEST', 'x', 'pending', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                "0, 1, 0, 0)"
            )
        )
    engine.dispose()

    _run(url, "upgrade", "0014")
    assert "video_key" in _columns(url, "signal")
    insert = text(
        "INSERT INTO signal (case_id, bank_id, type, value, body, video_key, created_at) "
        "SELECT c.id, b.id, 'vpdq', :d, :b, :k, CURRENT_TIMESTAMP "
        "FROM case_report c, bank b WHERE b.name = 'parts-bank'"
    )
    body = '["' + "ab" * 32 + ',100,0"]'
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert, {"d": "cd" * 32, "b": body, "k": "ef" * 32})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one per case and video
        conn.execute(insert, {"d": "01" * 32, "b": body, "k": "ef" * 32})
    with engine.begin() as conn:  # another video of the case
        conn.execute(insert, {"d": "02" * 32, "b": body, "k": "12" * 32})
    engine.dispose()

    _run(url, "downgrade", "0013")
    assert "video_key" not in _columns(url, "signal")
    engine = create_engine(url)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT value, body FROM signal ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in kept] == [("cd" * 32, body), ("02" * 32, body)]  # videos stay
    _run(url, "upgrade", "head")
    assert "video_key" in _columns(url, "signal")
