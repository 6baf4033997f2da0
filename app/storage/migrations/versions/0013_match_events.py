"""change_log.match_id: a moderator's confirmation of a platform's match, as a webhook event

A confirmed match becomes a change-log row of op ``match`` (the op column is a string, no
type to alter) carrying the match's id, written in the confirming transaction: the
webhook worker's outbox is the change log, so the ``match.confirmed`` event is delivered
at least once, in order, like the hash events. The feed and the exchanges never hand
these rows out (``models.NOT_IN_FEED``) and index replicas skip them.

Downgrade deletes those rows and drops the column.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 13:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_log") as batch:
        batch.add_column(sa.Column("match_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM change_log WHERE op = 'match'")
    with op.batch_alter_table("change_log") as batch:
        batch.drop_column("match_id")
