"""Tracker: when the agency refused the dossier.

A result picked up before the agency reported it ready is flagged on the pickup; the agency's report
that follows is then recorded without a second anomaly, unless the post picked up a refusal. The fold
resumes from the stored row, so the row keeps the refusal's time. Dossiers refused before this revision
have none until a late event refolds them.

Revision ID: tr_0002
Revises: tr_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tr_0002"
down_revision = "tr_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracker_dossier") as batch:
        batch.add_column(sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracker_dossier") as batch:
        batch.drop_column("refused_at")
