"""Turnaround: the quality loop's tables (nonconformities, their audit trail, periodic reports) and the
procedure of each clock (for the reports' top late procedures).

Revision ID: ta_0003
Revises: ta_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ta_0003"
down_revision = "ta_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turnaround_clock") as batch:
        batch.add_column(sa.Column("procedure_code", sa.String(64), nullable=True))
    op.create_table(
        "quality_nonconformity",
        sa.Column("nonconformity_id", sa.String(36), nullable=False),
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("occurrence", sa.String(40), nullable=False),
        sa.Column("leg", sa.String(24), nullable=True),
        sa.Column("responsible_kind", sa.String(16), nullable=False),
        sa.Column("responsible_code", sa.String(32), nullable=False),
        sa.Column("province", sa.String(32), nullable=False),
        sa.Column("procedure_code", sa.String(64), nullable=True),
        sa.Column("rule_set", sa.String(64), nullable=False),
        sa.Column("article", sa.String(160), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("corrective_action", sa.Text(), nullable=True),
        sa.Column("verification", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonconformity_id", name="pk_quality_nonconformity"),
        sa.UniqueConstraint("dossier_id", "kind", "occurrence", name="uq_quality_nonconformity_breach"),
    )
    op.create_index(
        "ix_quality_nonconformity_responsible",
        "quality_nonconformity",
        ["responsible_kind", "responsible_code", "state"],
    )
    op.create_index("ix_quality_nonconformity_detected_at", "quality_nonconformity", ["detected_at"])
    op.create_table(
        "quality_nonconformity_audit",
        sa.Column("nonconformity_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonconformity_id", "seq", name="pk_quality_nonconformity_audit"),
    )
    op.create_table(
        "quality_report",
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("period", "scope_kind", "scope_code", name="pk_quality_report"),
    )


def downgrade() -> None:
    op.drop_table("quality_report")
    op.drop_table("quality_nonconformity_audit")
    op.drop_index("ix_quality_nonconformity_detected_at", table_name="quality_nonconformity")
    op.drop_index("ix_quality_nonconformity_responsible", table_name="quality_nonconformity")
    op.drop_table("quality_nonconformity")
    with op.batch_alter_table("turnaround_clock") as batch:
        batch.drop_column("procedure_code")
