"""The DDL of a personal data vault (services/shared/personal_data/tables.py) as its first migration
created it, for the owning services' branches (post office, agency). Frozen: a later change to the vault
is a new migration in each branch, not an edit here."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def create_vault(op: Any, prefix: str) -> None:
    records, reads = f"{prefix}_personal_data", f"{prefix}_personal_data_read"
    op.create_table(
        records,
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("purposes", sa.String(200), nullable=False),
        sa.Column("kid", sa.String(32), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("phone_index", sa.String(64), nullable=True),
        sa.Column("id_number_index", sa.String(64), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erasure_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("dossier_id", "kind", name=f"pk_{records}"),
    )
    op.create_index(f"ix_{records}_phone_index", records, ["phone_index"])
    op.create_index(f"ix_{records}_id_number_index", records, ["id_number_index"])
    op.create_index(f"ix_{records}_kid", records, ["kid"])
    op.create_table(
        reads,
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=True
        ),
        sa.Column("dossier_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("reader", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{reads}"),
    )
    op.create_index(f"ix_{reads}_dossier_id", reads, ["dossier_id"])
    if op.get_bind().dialect.name == "postgresql":
        # The audit is append-only in the database too: an UPDATE or DELETE of a read fails, whoever runs it.
        op.execute(
            f"CREATE FUNCTION {reads}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{reads} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {reads}_append_only BEFORE UPDATE OR DELETE ON {reads} "
            f"FOR EACH ROW EXECUTE FUNCTION {reads}_append_only()"
        )


def drop_vault(op: Any, prefix: str) -> None:
    records, reads = f"{prefix}_personal_data", f"{prefix}_personal_data_read"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {reads}_append_only ON {reads}")
        op.execute(f"DROP FUNCTION IF EXISTS {reads}_append_only()")
    op.drop_table(reads)
    op.drop_table(records)
