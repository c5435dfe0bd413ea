"""The post_office's vault: when each purpose of a record ends and until when it is held (retention), and the
append-only audit of access and erasure requests.

Revision ID: rights_po_0003
Revises: vault_po_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from services.shared.db.migrations.retention_tables import add_retention, drop_retention

revision = "rights_po_0003"
down_revision = "vault_po_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_retention(op, "post_office")


def downgrade() -> None:
    drop_retention(op, "post_office")
