"""Videos: long signal values (vPDQ frame lists), frame times, banks' video settings

``signal.body`` holds the canonical text of a value longer than the value column (a
``vpdq`` value in Meta's serialisation; ``signal.value`` is then its SHA-256, so the
(type, value) index, the change log and the match log keep their 64-character values);
``signal.seconds`` the time in its case's video of a PDQ hash of one frame (a frame
variant of a video report), also carried by the change log (``change_log.seconds``) so
that index replicas know it. A match in a stored video keeps the matched interval
(``match.video_start``, ``match.video_end``) for the dashboard. Banks get vPDQ's quality floor and query-match percent and
the across-media settings (defaults: vPDQ's 50 and 80 %, both directions on, 2 seconds).

Downgrade drops the columns: long values and frame times are lost (the rows of long
values are deleted first, since their ``value`` is a digest no older version can use).

Revision ID: 0010
Revises: 0011 (written on 0009; re-chained after the merge of main, whose head is 0011)
Create Date: 2026-12-07 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None

_BANK = (
    ("video_quality_floor", sa.Integer(), "50"),
    ("video_match_percent", sa.Integer(), "80"),
    ("image_in_video", sa.Boolean(), sa.true()),
    ("video_has_image", sa.Boolean(), sa.true()),
    ("video_image_seconds", sa.Integer(), "2"),
)
# a partial index of the few rows a replica reads besides a mapped snapshot (models.py)
MEDIA_ROWS = "body IS NOT NULL OR seconds IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("signal") as batch:
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("seconds", sa.Float(), nullable=True))
    op.create_index(
        "ix_signal_media",
        "signal",
        ["id"],
        sqlite_where=sa.text(MEDIA_ROWS),
        postgresql_where=sa.text(MEDIA_ROWS),
    )
    with op.batch_alter_table("change_log") as batch:
        batch.add_column(sa.Column("seconds", sa.Float(), nullable=True))
    with op.batch_alter_table("match") as batch:
        batch.add_column(sa.Column("video_start", sa.Float(), nullable=True))
        batch.add_column(sa.Column("video_end", sa.Float(), nullable=True))
    with op.batch_alter_table("bank") as batch:
        for name, kind, default in _BANK:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))


def downgrade() -> None:
    # a long value's rows (and what refers to them) cannot be read by 0009's code
    long_values = "SELECT id FROM signal WHERE body IS NOT NULL"
    op.execute(f"DELETE FROM match WHERE signal_id IN ({long_values})")  # noqa: S608
    op.execute(f"DELETE FROM signal_quarantine WHERE signal_id IN ({long_values})")  # noqa: S608
    op.execute(f"DELETE FROM change_log WHERE signal_id IN ({long_values})")  # noqa: S608
    op.execute("DELETE FROM signal WHERE body IS NOT NULL")
    with op.batch_alter_table("bank") as batch:
        for name, _kind, _default in _BANK:
            batch.drop_column(name)
    with op.batch_alter_table("match") as batch:
        batch.drop_column("video_end")
        batch.drop_column("video_start")
    with op.batch_alter_table("change_log") as batch:
        batch.drop_column("seconds")
    op.drop_index("ix_signal_media", table_name="signal")
    with op.batch_alter_table("signal") as batch:
        batch.drop_column("seconds")
        batch.drop_column("body")
