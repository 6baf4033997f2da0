"""deployment_secret: per-deployment secrets, first the key of the feed's group tokens

The feed showed each hash's internal case number as its ``group``: sequential, it counted
cases and linked a victim's images across feeds. The group is now an HMAC of the case
number under a random secret made here, once per deployment: the same for every replica,
kept across restarts, and carried by ``hashbank backup`` / ``restore``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "deployment_secret",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(
        table,
        [
            {
                "name": "feed_group",
                "value": secrets.token_bytes(32),
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("deployment_secret")
