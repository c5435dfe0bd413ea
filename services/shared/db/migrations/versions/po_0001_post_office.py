"""The post office's tables: items, handover records, delivery attempts, recorded scans.

Revision ID: po_0001
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "po_0001"
down_revision = "0002"
branch_labels = ("post_office",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_office_item",
        sa.Column("item_id", sa.String(13), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("agency_code", sa.String(13), nullable=False),
        sa.Column("post_office_code", sa.String(6), nullable=False),
        sa.Column("service_form", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("procedure_code", sa.String(8), nullable=True),
        sa.Column("postage_vnd", sa.BigInteger(), nullable=True),
        sa.Column("dossier_item_id", sa.String(13), nullable=True),
        sa.Column("agency_dossier_code", sa.String(32), nullable=True),
        sa.Column("handover_record_id", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_post_office_item"),
    )
    op.create_table(
        "post_office_handover",
        sa.Column("post_office_code", sa.String(6), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("agency_code", sa.String(13), nullable=False),
        sa.Column("postal_worker_id", sa.String(64), nullable=False),
        sa.Column("agency_officer_id", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("post_office_code", "record_id", name="pk_post_office_handover"),
    )
    op.create_table(
        "post_office_delivery_attempt",
        sa.Column("item_id", sa.String(13), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("courier_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["post_office_item.item_id"],
            name="fk_post_office_delivery_attempt_item_id_post_office_item",
        ),
        sa.PrimaryKeyConstraint("item_id", "attempt", name="pk_post_office_delivery_attempt"),
    )
    op.create_table(
        "post_office_scan",
        sa.Column("scan_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("item_id", sa.String(13), nullable=False),
        sa.Column("post_office_code", sa.String(6), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scan_id", name="pk_post_office_scan"),
    )


def downgrade() -> None:
    op.drop_table("post_office_scan")
    op.drop_table("post_office_delivery_attempt")
    op.drop_table("post_office_handover")
    op.drop_table("post_office_item")
