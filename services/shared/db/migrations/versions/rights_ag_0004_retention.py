"""The agency's vault: when each purpose of a record ends and until when it is held (retention), and the
append-only audit of access and erasure requests.

Revision ID: rights_ag_0004
Revises: vault_ag_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from services.shared.db.migrations.retention_tables import add_retention, drop_retention

revision = "rights_ag_0004"
down_revision = "vault_ag_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_retention(op, "agency")


def downgrade() -> None:
    drop_retention(op, "agency")
