"""The DDL of retention per purpose and of the rights requests' audit, added to a personal data vault
(services/shared/personal_data/tables.py) by the owning services' branches (post office, agency). Frozen
like vault_tables.py: a later change is a new migration."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def add_retention(op: Any, prefix: str) -> None:
    records, requests = f"{prefix}_personal_data", f"{prefix}_personal_data_request"
    op.add_column(records, sa.Column("purpose_ends", sa.Text(), nullable=True))
    op.add_column(records, sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(f"ix_{records}_held_until", records, ["held_until"])
    op.create_table(
        requests,
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("by", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found", sa.Text(), nullable=False),
        sa.Column("erased", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{requests}"),
    )
    op.create_index(f"ix_{requests}_subject", requests, ["subject"])
    if op.get_bind().dialect.name == "postgresql":
        # Append-only in the database too, like the audit of reads.
        op.execute(
            f"CREATE FUNCTION {requests}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{requests} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {requests}_append_only BEFORE UPDATE OR DELETE ON {requests} "
            f"FOR EACH ROW EXECUTE FUNCTION {requests}_append_only()"
        )


def drop_retention(op: Any, prefix: str) -> None:
    records, requests = f"{prefix}_personal_data", f"{prefix}_personal_data_request"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {requests}_append_only ON {requests}")
        op.execute(f"DROP FUNCTION IF EXISTS {requests}_append_only()")
    op.drop_table(requests)
    op.drop_index(f"ix_{records}_held_until", records)
    op.drop_column(records, "held_until")
    op.drop_column(records, "purpose_ends")
