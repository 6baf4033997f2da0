"""dashboard: indexes for its sorted lists and filters

Each list's default order and its other orders read an index instead of sorting 100k
cases or 1M matches per page (see benchmarks/dashboard.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 07:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, index, columns). The id at the end is each list's tie-break: with it PostgreSQL
# reads a page straight from the index too (SQLite's indexes end with the row id anyway).
INDEXES = [
    ("case_report", "ix_case_created", ["created_at", "id"]),
    ("case_report", "ix_case_match_count", ["match_count", "id"]),
    ("case_report", "ix_case_status_matches", ["status", "match_count", "id"]),
    ("case_report", "ix_case_status_hashes", ["status", "signal_count", "id"]),
    ("match", "ix_match_distance", ["distance", "id"]),
    ("match", "ix_match_client_created", ["client_id", "created_at", "id"]),
    ("audit_event", "ix_audit_object", ["object_type", "object_id"]),
    ("audit_event", "ix_audit_action_at", ["action", "at", "id"]),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
