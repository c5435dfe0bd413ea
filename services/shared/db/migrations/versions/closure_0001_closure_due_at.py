"""Agency: when a dossier awaiting its supplement is closed without it (Decree 118/2025 Art. 19(5)).

The closure job selects the dossiers whose `closure_due_at` has passed. Rows from before this revision
that await a supplement have none: the job gives them one when it starts (AgencyDesk.schedule_closures),
since the period needs the calendar and the rule files, which a migration does not load.

Revision ID: closure_0001
Revises: rules_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "closure_0001"
down_revision = "rules_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agency_dossier") as batch:
        batch.add_column(sa.Column("closure_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_agency_dossier_closure_due_at", ["closure_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("agency_dossier") as batch:
        batch.drop_index("ix_agency_dossier_closure_due_at")
        batch.drop_column("closure_due_at")
