"""The post office's personal data vault and the audit of its reads.

Revision ID: vault_po_0002
Revises: po_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from services.shared.db.migrations.vault_tables import create_vault, drop_vault

revision = "vault_po_0002"
down_revision = "po_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_vault(op, "post_office")


def downgrade() -> None:
    drop_vault(op, "post_office")
