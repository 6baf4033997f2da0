"""webhook_endpoint and webhook_delivery: platforms' webhooks, fed from the change log

An endpoint keeps a cursor into the change log (the outbox: written in the transaction of
each change), so delivery is at least once and in feed order across restarts. Its
signing secrets are stored encrypted. ``webhook_key`` is a new deployment secret: the key
those secrets are encrypted under when ``HASHBANK_WEBHOOK_SECRET_KEY`` is not set.

Downgrade drops both tables and the deployment secret; endpoints and their history are
lost.

Revision ID: 0011
Revises: 0012 (written against 0009; re-chained after 0012 when main brought it)
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(), nullable=True),
        sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_holder", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_endpoint_client_id", "webhook_endpoint", ["client_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", big, nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_delivery_endpoint", "webhook_delivery", ["endpoint_id", "id"])
    secret = sa.table(
        "deployment_secret",
        sa.column("name", sa.String()),
        sa.column("value", sa.LargeBinary()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        secret,
        [{"name": "webhook_key", "value": secrets.token_bytes(32), "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.execute("DELETE FROM deployment_secret WHERE name = 'webhook_key'")
    op.drop_index("ix_webhook_delivery_endpoint", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index("ix_webhook_endpoint_client_id", table_name="webhook_endpoint")
    op.drop_table("webhook_endpoint")
