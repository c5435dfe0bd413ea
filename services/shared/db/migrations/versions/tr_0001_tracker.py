"""The tracker's projection: dossiers, their history, anomalies, parties, references; and its outbox.

Revision ID: tr_0001
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tr_0001"
down_revision = "0002"
branch_labels = ("tracker",)
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "tracker_dossier",
        sa.Column("dossier_id", ID, nullable=False),
        sa.Column("stage", sa.String(24), nullable=True),
        sa.Column("stage_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("custody_kind", sa.String(16), nullable=True),
        sa.Column("custody_code", sa.String(64), nullable=True),
        sa.Column("custody_office", sa.String(64), nullable=True),
        sa.Column("service_form", sa.String(20), nullable=True),
        sa.Column("procedure_code", sa.String(16), nullable=True),
        sa.Column("agency_code", sa.String(20), nullable=True),
        sa.Column("origin_post_office", sa.String(6), nullable=True),
        sa.Column("item_id", sa.String(13), nullable=True),
        sa.Column("result_item_id", sa.String(13), nullable=True),
        sa.Column("agency_dossier_code", sa.String(32), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("clock", sa.String(20), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("picked_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inbound_due_date", sa.Date(), nullable=True),
        sa.Column("agency_due_date", sa.Date(), nullable=True),
        sa.Column("appointment_date", sa.Date(), nullable=True),
        sa.Column("return_due_date", sa.Date(), nullable=True),
        sa.Column("delay_notified", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("phone_digest", sa.String(64), nullable=True),
        sa.Column("start_event_id", ID, nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("anomaly_count", sa.Integer(), nullable=False),
        sa.Column("first_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_type", sa.String(100), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("dossier_id", name="pk_tracker_dossier"),
    )
    op.create_index("ix_tracker_dossier_recent", "tracker_dossier", ["last_event_at", "dossier_id"])
    op.create_index(
        "ix_tracker_dossier_stage_recent", "tracker_dossier", ["stage", "last_event_at", "dossier_id"]
    )
    op.create_index(
        "ix_tracker_dossier_agency_recent", "tracker_dossier", ["agency_code", "last_event_at", "dossier_id"]
    )
    op.create_index(
        "ix_tracker_dossier_agency_stage_recent",
        "tracker_dossier",
        ["agency_code", "stage", "last_event_at", "dossier_id"],
    )
    op.create_index(
        "ix_tracker_dossier_procedure_recent",
        "tracker_dossier",
        ["procedure_code", "last_event_at", "dossier_id"],
    )
    op.create_index("ix_tracker_dossier_due", "tracker_dossier", ["due_date", "dossier_id"])
    op.create_index(
        "ix_tracker_dossier_agency_due", "tracker_dossier", ["agency_code", "due_date", "dossier_id"]
    )

    op.create_table(
        "tracker_event",
        sa.Column("event_id", ID, nullable=False),
        sa.Column("dossier_id", ID, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("phone_digest", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_tracker_event"),
    )
    op.create_index("ix_tracker_event_dossier", "tracker_event", ["dossier_id", "occurred_at"])

    op.create_table(
        "tracker_anomaly",
        sa.Column("event_id", ID, nullable=False),
        sa.Column("dossier_id", ID, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_tracker_anomaly"),
    )
    op.create_index("ix_tracker_anomaly_recent", "tracker_anomaly", ["occurred_at", "event_id"])
    op.create_index(
        "ix_tracker_anomaly_reason_recent", "tracker_anomaly", ["reason", "occurred_at", "event_id"]
    )
    op.create_index("ix_tracker_anomaly_dossier", "tracker_anomaly", ["dossier_id"])

    op.create_table(
        "tracker_party",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("dossier_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("kind", "code", "dossier_id", name="pk_tracker_party"),
    )
    op.create_index("ix_tracker_party_dossier", "tracker_party", ["dossier_id"])

    op.create_table(
        "tracker_reference",
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("dossier_id", ID, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.PrimaryKeyConstraint("reference", "dossier_id", name="pk_tracker_reference"),
    )

    op.create_table(
        "tracker_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("dossier_id", ID, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_tracker_outbox"),
        sa.UniqueConstraint("event_id", name="uq_tracker_outbox_event_id"),
    )


def downgrade() -> None:
    op.drop_table("tracker_outbox")
    op.drop_table("tracker_reference")
    op.drop_index("ix_tracker_party_dossier", table_name="tracker_party")
    op.drop_table("tracker_party")
    for name in (
        "ix_tracker_anomaly_dossier",
        "ix_tracker_anomaly_reason_recent",
        "ix_tracker_anomaly_recent",
    ):
        op.drop_index(name, table_name="tracker_anomaly")
    op.drop_table("tracker_anomaly")
    op.drop_index("ix_tracker_event_dossier", table_name="tracker_event")
    op.drop_table("tracker_event")
    for name in (
        "ix_tracker_dossier_agency_due",
        "ix_tracker_dossier_due",
        "ix_tracker_dossier_procedure_recent",
        "ix_tracker_dossier_agency_stage_recent",
        "ix_tracker_dossier_agency_recent",
        "ix_tracker_dossier_stage_recent",
        "ix_tracker_dossier_recent",
    ):
        op.drop_index(name, table_name="tracker_dossier")
    op.drop_table("tracker_dossier")
