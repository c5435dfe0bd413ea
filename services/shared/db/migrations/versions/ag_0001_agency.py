"""The agency service's record of each dossier (agency_dossier).

Revision ID: ag_0001
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ag_0001"
down_revision = "0002"
branch_labels = ("agency",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_dossier",
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("agency_code", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("service_form", sa.String(24), nullable=True),
        sa.Column("item_id", sa.String(13), nullable=True),
        sa.Column("procedure_code", sa.String(8), nullable=True),
        sa.Column("agency_dossier_code", sa.String(32), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filing_day", sa.Date(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_due_date", sa.Date(), nullable=True),
        sa.Column("appointment_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("delay_notices", sa.Integer(), nullable=False),
        sa.Column("delay_breach", sa.Boolean(), nullable=True),
        sa.Column("supplement_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supplement_item_id", sa.String(13), nullable=True),
        sa.Column("supplement_handed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(8), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name="pk_agency_dossier"),
        sa.UniqueConstraint("agency_dossier_code", name="uq_agency_dossier_agency_dossier_code"),
    )


def downgrade() -> None:
    op.drop_table("agency_dossier")
