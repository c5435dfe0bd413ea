"""The tracker records when a dossier's contact was erased by its owner (the erasure events), so its
staff detail says so; its phone check is gone from then on.

Revision ID: rights_tr_0004
Revises: tr_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rights_tr_0004"
down_revision = "tr_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tracker_dossier", sa.Column("contact_erased_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("tracker_dossier", "contact_erased_at")
