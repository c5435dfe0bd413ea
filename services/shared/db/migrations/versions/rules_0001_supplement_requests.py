"""Agency: how many supplement requests each dossier has had.

Decree 118/2025 allows one per dossier (Art. 16(3)); a second is recorded and flagged. Rows from before
this revision that await or had a supplement count one request (the count was not kept).

Revision ID: rules_0001
Revises: ag_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rules_0001"
down_revision = "ag_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agency_dossier") as batch:
        batch.add_column(sa.Column("supplement_requests", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE agency_dossier SET supplement_requests = 1 WHERE supplement_requested_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("agency_dossier") as batch:
        batch.drop_column("supplement_requests")
