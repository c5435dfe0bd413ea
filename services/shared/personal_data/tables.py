"""The two vault tables of one owning service: `<prefix>_personal_data`, `<prefix>_personal_data_read`.

Each service that collects personal data declares its pair on the shared metadata (its adapters/tables.py)
and creates them in its own migration branch: the data stays in the database of the service that
collected it, and the services may share one database without sharing a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

from services.shared.db.schema import metadata


class UtcDateTime(TypeDecorator[datetime]):
    """A time with its zone, written in UTC and read back with it. PostgreSQL keeps the instant of any
    offset, but SQLite (the local run) keeps only the wall time it is given, without the offset, and
    reads it back without a zone: a +07:00 time would come back seven hours off, and unreadable as an
    aware time by the answers that carry it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a time without its zone names no instant")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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
        Column("collected_at", UtcDateTime(), nullable=False),
        Column("erased_at", UtcDateTime(), nullable=True),
        Column("erasure_reason", String(200), nullable=True),
        # {purpose: ISO end or null}: each end is stored when the fact that ends it happens (a delivery
        # scan), so a later change of the retention settings does not move a date already promised.
        Column("purpose_ends", Text, nullable=True),
        Column("held_until", UtcDateTime(), nullable=True),  # the last end, once all are known
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
        Column("read_at", UtcDateTime(), nullable=False),
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
        Column("requested_at", UtcDateTime(), nullable=False),
        Column("found", Text, nullable=False),  # JSON: [{dossier_id, kind}] held when asked
        Column("erased", Text, nullable=False),  # JSON: [{dossier_id, kind}] erased by the request
        Index(f"ix_{prefix}_personal_data_request_subject", "subject"),
    )
    return VaultTables(records, reads, requests)
