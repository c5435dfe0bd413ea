"""Turnaround: whether a finished clock has been counted in the tallies yet.

A return clock can finish (first delivery attempt, postal topic) before the registration for return
that names its procedure (agency topic) is consumed. It is then kept finished but not counted, and
counted with its procedure's field once that arrives, so the tallies do not depend on which topic a
consumer read first. Clocks finished before this revision were counted when they finished.

Revision ID: ta_0002
Revises: ta_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ta_0002"
down_revision = "ta_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turnaround_clock") as batch:
        batch.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("turnaround_clock") as batch:
        batch.drop_column("counted")
