"""Turnaround: dossier facts, clocks, alerts raised, the alert outbox and the metric tallies.

Revision ID: ta_0001
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ta_0001"
down_revision = "0002"
branch_labels = ("turnaround",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "turnaround_dossier",
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name="pk_turnaround_dossier"),
    )
    op.create_table(
        "turnaround_clock",
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("leg", sa.String(24), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("province", sa.String(32), nullable=False),
        sa.Column("field_key", sa.String(40), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("agency_code", sa.String(32), nullable=True),
        sa.Column("post_office_code", sa.String(16), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_day", sa.Date(), nullable=True),
        sa.Column("working_days", sa.Integer(), nullable=True),
        sa.Column("timeliness", sa.String(16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", "leg", name="pk_turnaround_clock"),
    )
    op.create_index("ix_turnaround_clock_state_due_date", "turnaround_clock", ["state", "due_date"])
    op.create_table(
        "turnaround_clock_alert",
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("leg", sa.String(24), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "dossier_id", "leg", "generation", "threshold", name="pk_turnaround_clock_alert"
        ),
    )
    op.create_table(
        "turnaround_outbox",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_turnaround_outbox"),
    )
    op.create_index("ix_turnaround_outbox_created_at", "turnaround_outbox", ["created_at"])
    op.create_table(
        "turnaround_tally",
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("leg", sa.String(24), nullable=False),
        sa.Column("province", sa.String(32), nullable=False),
        sa.Column("field_key", sa.String(40), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "metric",
            "leg",
            "province",
            "field_key",
            "route",
            "outcome",
            "working_days",
            name="pk_turnaround_tally",
        ),
    )


def downgrade() -> None:
    op.drop_table("turnaround_tally")
    op.drop_index("ix_turnaround_outbox_created_at", table_name="turnaround_outbox")
    op.drop_table("turnaround_outbox")
    op.drop_table("turnaround_clock_alert")
    op.drop_index("ix_turnaround_clock_state_due_date", table_name="turnaround_clock")
    op.drop_table("turnaround_clock")
    op.drop_table("turnaround_dossier")
