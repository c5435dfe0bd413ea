"""Turnaround: an index of finished clocks by leg and Vietnam day, so that counting the clocks of a leg
finished in a period (every objective's measurement, refreshed for the metrics) reads that period's rows
instead of the whole clock table.

Revision ID: q_objectives_0001
Revises: ta_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "q_objectives_0001"
down_revision = "ta_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_turnaround_clock_leg_finished_day", "turnaround_clock", ["leg", "finished_day"])


def downgrade() -> None:
    op.drop_index("ix_turnaround_clock_leg_finished_day", table_name="turnaround_clock")
