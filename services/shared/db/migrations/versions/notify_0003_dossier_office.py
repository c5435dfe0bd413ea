"""Notifications: the post office that accepted a dossier, so that its staff read the dossier's messages
(the staff read endpoint's scope rule, services/shared/auth/scopes.py). Null for a dossier registered at
the agency, and for one whose intake was seen before this column existed.

Revision ID: notify_0003
Revises: notify_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notify_0003"
down_revision = "notify_0002"
branch_labels = None
depends_on = None

DOSSIER = "notification_dossier"


def upgrade() -> None:
    op.add_column(DOSSIER, sa.Column("post_office_code", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(DOSSIER) as batch:
        batch.drop_column("post_office_code")
