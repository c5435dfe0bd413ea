"""The two vault tables of one owning service: `<prefix>_personal_data`, `<prefix>_personal_data_read`.

Each service that collects personal data declares its pair on the shared metadata (its adapters/tables.py)
and creates them in its own migration branch: the data stays in the database of the service that
collected it, and the services may share one database without sharing a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from services.shared.db.schema import metadata


@dataclass(frozen=True)
class VaultTables:
    records: Table
    reads: Table
    requests: Table


def vault_tables(prefix: str, on: MetaData = metadata) -> VaultTables:
    records = Table(
        f"{prefix}_personal_data",
        on,
        Column("dossier_id", String(36), primary_key=True),
        Column("kind", String(32), primary_key=True),  # applicant, delivery_address, delivery_note:<n>
        Column("purposes", String(200), nullable=False),  # comma-separated, e.g. result_delivery
        Column("kid", String(32), nullable=True),  # KEK id; empty once erased
        Column("wrapped_key", LargeBinary, nullable=True),
        Column("sealed", LargeBinary, nullable=True),
        Column("phone_index", String(64), nullable=True),
        Column("id_number_index", String(64), nullable=True),
        Column("collected_at", DateTime(timezone=True), nullable=False),
        Column("erased_at", DateTime(timezone=True), nullable=True),
        Column("erasure_reason", String(200), nullable=True),
        # {purpose: ISO end or null}: each end is stored when the fact that ends it happens (a delivery
        # scan), so a later change of the retention settings does not move a date already promised.
        Column("purpose_ends", Text, nullable=True),
        Column("held_until", DateTime(timezone=True), nullable=True),  # the last end, once all are known
        Index(f"ix_{prefix}_personal_data_held_until", "held_until"),
        Index(f"ix_{prefix}_personal_data_phone_index", "phone_index"),
        Index(f"ix_{prefix}_personal_data_id_number_index", "id_number_index"),
        Index(f"ix_{prefix}_personal_data_kid", "kid"),
    )
    reads = Table(
        f"{prefix}_personal_data_read",
        on,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("dossier_id", String(36), nullable=False),
        Column("purpose", String(64), nullable=False),
        Column("reader", String(64), nullable=False),  # the credential's subject (staff id)
        Column("role", String(32), nullable=False),
        Column("read_at", DateTime(timezone=True), nullable=False),
        Index(f"ix_{prefix}_personal_data_read_dossier_id", "dossier_id"),
    )
    requests = Table(
        f"{prefix}_personal_data_request",
        on,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("kind", String(16), nullable=False),  # access, erasure
        Column("by", String(16), nullable=False),  # phone, id_number, dossier
        Column("subject", String(64), nullable=False),  # the keyed HMAC index, or the dossier id
        Column("requester", String(64), nullable=False),
        Column("role", String(32), nullable=False),
        Column("requested_at", DateTime(timezone=True), nullable=False),
        Column("found", Text, nullable=False),  # JSON: [{dossier_id, kind}] held when asked
        Column("erased", Text, nullable=False),  # JSON: [{dossier_id, kind}] erased by the request
        Index(f"ix_{prefix}_personal_data_request_subject", "subject"),
    )
    return VaultTables(records, reads, requests)
