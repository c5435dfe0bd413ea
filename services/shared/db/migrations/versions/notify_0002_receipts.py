"""Notifications: delivery receipts (kept as received, applied to their message when it is recorded), the
message's client reference and delivery status, and the channel a fallback message falls back from.

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None

MESSAGE = "notification_message"
ADDED = ("client_reference", "delivery", "delivery_code", "delivery_reported_at", "fallback_from")


def upgrade() -> None:
    op.add_column(MESSAGE, sa.Column("client_reference", sa.String(64), nullable=True))
    op.add_column(MESSAGE, sa.Column("delivery", sa.String(20), nullable=True))
    op.add_column(MESSAGE, sa.Column("delivery_code", sa.String(64), nullable=True))
    op.add_column(MESSAGE, sa.Column("delivery_reported_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(MESSAGE, sa.Column("fallback_from", sa.String(8), nullable=True))
    op.create_index("ix_notification_message_provider_id", MESSAGE, ["channel", "provider_message_id"])
    op.create_index("ix_notification_message_client_reference", MESSAGE, ["channel", "client_reference"])
    op.create_table(
        "notification_receipt",
        sa.Column("receipt_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("client_reference", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("receipt_id", name="pk_notification_receipt"),
    )
    op.create_index("ix_notification_receipt_pending", "notification_receipt", ["channel", "applied_at"])


def downgrade() -> None:
    op.drop_index("ix_notification_receipt_pending", table_name="notification_receipt")
    op.drop_table("notification_receipt")
    op.drop_index("ix_notification_message_client_reference", table_name=MESSAGE)
    op.drop_index("ix_notification_message_provider_id", table_name=MESSAGE)
    with op.batch_alter_table(MESSAGE) as batch:
        for column in reversed(ADDED):
            batch.drop_column(column)
