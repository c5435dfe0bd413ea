"""Agency: the latest fact of each dossier's journey at the agency, and when it happened.

Reports may say when they happened (recorded later than that); one that happened before the fact it
follows (a receipt before the handover, a result before the receipt, …) is refused. Rows from before
this revision have none: the filing time stands in for them.

Revision ID: ag_0002
Revises: ag_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ag_0002"
down_revision = "ag_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agency_dossier") as batch:
        batch.add_column(sa.Column("last_fact", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_fact_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agency_dossier") as batch:
        batch.drop_column("last_fact_at")
        batch.drop_column("last_fact")
