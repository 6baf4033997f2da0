"""signal.video_key: a long video sent in parts is one stored video

The reporting page keeps a request under 16 KB, so it sends a long video's vPDQ frame
list in parts, each naming the video it belongs to (``part_of``: the SHA-256 of the
video file, the case's ``video_sha256`` value). The first part is stored as the case's
``vpdq`` signal with ``video_key`` set to that SHA-256; later parts are appended to
that signal's value (app.services.video_parts). A partial unique index keeps one live
video per (case, video_key).

Downgrade drops the index and the column: the joined videos stay, as plain vpdq values.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

VIDEO_PARTS = "video_key IS NOT NULL AND deleted_at IS NULL"  # models.VIDEO_PARTS


def upgrade() -> None:
    with op.batch_alter_table("signal") as batch:
        batch.add_column(sa.Column("video_key", sa.String(64), nullable=True))
    op.create_index(
        "ux_signal_case_video",
        "signal",
        ["case_id", "video_key"],
        unique=True,
        sqlite_where=sa.text(VIDEO_PARTS),
        postgresql_where=sa.text(VIDEO_PARTS),
    )


def downgrade() -> None:
    op.drop_index("ux_signal_case_video", table_name="signal")
    with op.batch_alter_table("signal") as batch:
        batch.drop_column("video_key")
