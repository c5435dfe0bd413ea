"""Notifications: dossiers heard of, facts awaiting their stage, stages, messages (the idempotency keys),
dead letters and the sealed contacts.

Revision ID: notify_0001
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notify_0001"
down_revision = "0002"
branch_labels = ("notifications",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_dossier",
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(16), nullable=True),
        sa.Column("channels", sa.String(32), nullable=True),
        sa.Column("agency_code", sa.String(32), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name="pk_notification_dossier"),
    )
    op.create_table(
        "notification_fact",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(32), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("planned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_notification_fact"),
    )
    op.create_index("ix_notification_fact_dossier_id", "notification_fact", ["dossier_id"])
    op.create_table(
        "notification_stage",
        sa.Column("cause_event_id", sa.String(36), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cause_event_id", "stage", name="pk_notification_stage"),
    )
    op.create_table(
        "notification_message",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("provider_code", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name="pk_notification_message"),
        sa.UniqueConstraint("idempotency_key", name="uq_notification_message_idempotency_key"),
    )
    op.create_index(
        "ix_notification_message_status_next_attempt_at",
        "notification_message",
        ["status", "next_attempt_at"],
    )
    op.create_index("ix_notification_message_dossier_id", "notification_message", ["dossier_id"])
    op.create_table(
        "notification_dead_letter",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_notification_dead_letter"),
    )
    op.create_table(
        "notification_contact",
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name="pk_notification_contact"),
    )


def downgrade() -> None:
    op.drop_table("notification_contact")
    op.drop_table("notification_dead_letter")
    op.drop_index("ix_notification_message_dossier_id", table_name="notification_message")
    op.drop_index("ix_notification_message_status_next_attempt_at", table_name="notification_message")
    op.drop_table("notification_message")
    op.drop_table("notification_stage")
    op.drop_index("ix_notification_fact_dossier_id", table_name="notification_fact")
    op.drop_table("notification_fact")
    op.drop_table("notification_dossier")
