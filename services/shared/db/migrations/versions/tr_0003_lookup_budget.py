"""The tracker's budgets of failed public lookups, shared by its replicas and kept across restarts.

Revision ID: tr_0003
Revises: tr_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tr_0003"
down_revision = "tr_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracker_lookup_budget",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_ends_ms", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_tracker_lookup_budget"),
    )
    op.create_index("ix_tracker_lookup_budget_window_ends", "tracker_lookup_budget", ["window_ends_ms"])


def downgrade() -> None:
    op.drop_index("ix_tracker_lookup_budget_window_ends", table_name="tracker_lookup_budget")
    op.drop_table("tracker_lookup_budget")
